"""`dataclass`, with the generated code made when first used.

It takes the arguments of `dataclasses.dataclass` and makes the same class: the same fields
(`fields`, `replace`, `asdict`), `__match_args__`, slots, frozen guards, pickling and
`__dataclass_params__`. What differs is when code is compiled: `__init__`, `__repr__`,
`__eq__`, a frozen class's `__hash__` and the docstring of a class without one are stand-ins
until first looked up (an instance made, compared, printed, hashed, or the attribute read).
`__init__` is then compiled alone, one function written as dataclasses writes it; `__repr__`,
`__eq__` and `__hash__` are made together by dataclasses itself, on a throwaway subclass
(which stays among the class's `__subclasses__()` until collected, so a class using this
must not act on `__init_subclass__`). Compiling that code is most of what defining a
dataclass costs, and a short process (`crondeck exec`, `check`) uses few of the classes it
imports. `order=True` or `unsafe_hash=True` classes are made eagerly.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

__all__ = ["compile_init", "dataclass"]

_T = TypeVar("_T", bound=type)


class _Deferred:
    """Stands in a class for one generated attribute until it is looked up: then that code is
    generated and installed, and the real attribute handed back."""

    __slots__ = ("cls", "name", "slots")

    def __init__(self, cls: type, name: str, slots: bool) -> None:
        self.cls = cls
        self.name = name
        self.slots = slots  # made with slots=True (its __init__ then sets init=False fields)

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        real = _generate(self.cls, self.name)
        getter = getattr(type(real), "__get__", None)
        return real if getter is None else getter(real, obj, owner)


def _generate(cls: type, name: str) -> Any:
    """Generate `cls`'s deferred `name` (and what is generated with it), install it, return
    it. Twice (two threads at once) makes the same code twice."""
    deferred = cls.__dict__.get(name)
    if not isinstance(deferred, _Deferred):  # generated meanwhile
        return deferred
    made: dict[str, Any]
    if name == "__init__":
        made = {name: compile_init(cls, deferred.slots)}
    elif name == "__doc__":  # what dataclass writes: the name and the __init__'s signature
        import inspect  # here: only a docstring asked for needs it

        try:
            text_sig = str(inspect.signature(cls)).replace(" -> None", "")
        except (TypeError, ValueError):
            text_sig = ""
        made = {name: cls.__name__ + text_sig}
    else:  # __repr__, __eq__ and __hash__, by dataclasses on a throwaway subclass
        params = cls.__dict__["__dataclass_params__"]
        shadow = type(cls)(cls.__name__, (cls,), {
            "__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": "-"})
        dataclasses.dataclass(shadow, init=False, repr=params.repr, eq=params.eq,
                              frozen=params.frozen, match_args=False)
        made = {other: shadow.__dict__[other] for other in ("__repr__", "__eq__", "__hash__")
                if isinstance(cls.__dict__.get(other), _Deferred)}
    for other, value in made.items():
        setattr(cls, other, value)
    return made[name]


class _Factory:
    """The default of a parameter whose field has a default_factory (shown as dataclass
    shows it)."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def compile_init(cls: type, slots: bool, frozen: bool | None = None) -> Callable[..., None]:
    """The __init__ dataclass generates for `cls` (a dataclass made with `init=False`): one
    function compiled, not a class made. `frozen` (default: the class's own parameter) sets
    the fields through object.__setattr__, for a class that guards them itself."""
    every = cls.__dataclass_fields__.values()  # type: ignore[attr-defined]
    fields = dataclasses.fields(cls)
    if len(fields) != len(every):  # InitVar or ClassVar pseudo-fields: dataclass makes it
        shadow = type(cls)(cls.__name__, (cls,), {
            "__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": "-"})
        shadow = dataclasses.dataclass(
            shadow, init=True, repr=False, eq=False, match_args=False, slots=slots,
            frozen=cls.__dict__["__dataclass_params__"].frozen)
        init: Callable[..., None] = shadow.__dict__["__init__"]
        return init
    if frozen is None:
        frozen = cls.__dict__["__dataclass_params__"].frozen
    me = "__dataclass_self__" if any(f.name == "self" for f in fields) else "self"
    given: dict[str, Any] = {"__dataclass_object__": object, "__dataclass_factory__": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    seen_default = False
    for f in fields:
        name = f.name
        given[f"__dataclass_type_{name}__"] = f.type
        has_factory = f.default_factory is not dataclasses.MISSING
        if has_factory:
            given[f"__dataclass_dflt_{name}__"] = f.default_factory
        elif f.default is not dataclasses.MISSING:
            given[f"__dataclass_dflt_{name}__"] = f.default
        if f.init:
            param = f"{name}:__dataclass_type_{name}__"
            if has_factory:
                param += "=__dataclass_factory__"
            elif f.default is not dataclasses.MISSING:
                param += f"=__dataclass_dflt_{name}__"
            elif not f.kw_only and seen_default:
                raise TypeError(f"non-default argument {name!r} follows default argument")
            if not f.kw_only and "=" in param:
                seen_default = True
            (keyword if f.kw_only else positional).append(param)
        if has_factory:
            value = (f"__dataclass_dflt_{name}__() if {name} is __dataclass_factory__ "
                     f"else {name}") if f.init else f"__dataclass_dflt_{name}__()"
        elif f.init:
            value = name
        elif slots and f.default is not dataclasses.MISSING:
            value = f"__dataclass_dflt_{name}__"
        else:  # the class attribute holds the default
            continue
        body.append(f"  __dataclass_object__.__setattr__({me},{name!r},{value})" if frozen
                    else f"  {me}.{name}={value}")
    if hasattr(cls, "__post_init__"):
        body.append(f"  {me}.__post_init__()")
    params = ", ".join([me, *positional, *(["*", *keyword] if keyword else [])])
    source = (f"def __create_fn__({', '.join(given)}):\n"
              f" def __init__({params}) -> None:\n{chr(10).join(body) or '  pass'}\n"
              " return __init__")
    module = sys.modules.get(cls.__module__)
    scope: dict[str, Any] = {}
    # Compiled without this module's `from __future__ import annotations`: the annotations
    # are the fields' types themselves, as in dataclass's code.
    code = compile(source, "<string>", "exec", dont_inherit=True)
    exec(code, module.__dict__ if module else {}, scope)  # as dataclass does
    init = scope["__create_fn__"](**given)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _frozen_guards(klass: type, names: set[str]) -> tuple[Callable[..., None],
                                                          Callable[..., None]]:
    """A frozen dataclass's generated __setattr__ and __delattr__, without compiling them.
    Like those, they name the class as it was before dataclass gave it slots."""

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is klass or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(klass, self).__setattr__(name, value)  # type: ignore[arg-type]  # mypy: outside a class

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is klass or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(klass, self).__delattr__(name)  # type: ignore[arg-type]

    __setattr__.__qualname__ = f"{klass.__qualname__}.__setattr__"
    __delattr__.__qualname__ = f"{klass.__qualname__}.__delattr__"
    return __setattr__, __delattr__


def _getstate(self: Any) -> list[Any]:  # pickling a frozen class with slots, as dataclasses
    return [getattr(self, f.name) for f in dataclasses.fields(self)]


def _setstate(self: Any, state: list[Any]) -> None:
    for f, value in zip(dataclasses.fields(self), state):  # noqa: B905  # as dataclasses does
        object.__setattr__(self, f.name, value)


def _make(cls: type, init: bool, repr: bool, eq: bool, frozen: bool, match_args: bool,
          kw_only: bool, slots: bool, weakref_slot: bool) -> type:
    own = dict(cls.__dict__)
    class_hash = own.get("__hash__", dataclasses.MISSING)
    explicit_hash = not (class_hash is dataclasses.MISSING
                         or (class_hash is None and "__eq__" in own))
    # Frozen guards are written here unless a base is a dataclass (whose frozenness dataclass
    # checks against this class's, while making it).
    own_guards = frozen and not any(dataclasses.is_dataclass(b) for b in cls.__mro__[1:])
    if own_guards and ("__setattr__" in own or "__delattr__" in own):
        name = "__setattr__" if "__setattr__" in own else "__delattr__"
        raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
    if not own.get("__doc__"):
        cls.__doc__ = "-"  # spares dataclass a signature of the stand-in __init__
    names: set[str] = set()  # the fields, known once dataclass has made them
    if own_guards:
        guard_set, guard_del = _frozen_guards(cls, names)
        setattr(cls, "__setattr__", guard_set)  # noqa: B010
        setattr(cls, "__delattr__", guard_del)  # noqa: B010
    made: type = dataclasses.dataclass(
        cls, init=False, repr=False, eq=False, frozen=frozen and not own_guards,
        match_args=match_args, kw_only=kw_only, slots=slots, weakref_slot=weakref_slot)
    params = made.__dataclass_params__  # type: ignore[attr-defined]  # this class's own
    params.init, params.repr, params.eq, params.frozen = init, repr, eq, frozen
    # The class's own stand-ins, put where dataclass would have put the generated code.
    deferred: list[str] = []
    if own_guards:
        names.update(f.name for f in dataclasses.fields(made))
        if slots:
            if "__getstate__" not in own:
                setattr(made, "__getstate__", _getstate)  # noqa: B010
            if "__setstate__" not in own:
                setattr(made, "__setstate__", _setstate)  # noqa: B010
    if init and "__init__" not in own:
        deferred.append("__init__")
    if repr and "__repr__" not in own:
        deferred.append("__repr__")
    if eq and "__eq__" not in own:
        deferred.append("__eq__")
    if eq and not explicit_hash:  # dataclass's table, without unsafe_hash
        if frozen:
            deferred.append("__hash__")
        else:
            setattr(made, "__hash__", None)  # noqa: B010
    if not own.get("__doc__"):
        deferred.append("__doc__")
    for name in deferred:
        setattr(made, name, _Deferred(made, name, slots))
    return made


@overload
def dataclass(cls: _T, /) -> _T: ...


@overload
def dataclass(cls: None = None, /, *, init: bool = True, repr: bool = True, eq: bool = True,
              order: bool = False, unsafe_hash: bool = False, frozen: bool = False,
              match_args: bool = True, kw_only: bool = False, slots: bool = False,
              weakref_slot: bool = False) -> Callable[[_T], _T]: ...


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def dataclass(cls: _T | None = None, /, *, init: bool = True, repr: bool = True,
              eq: bool = True, order: bool = False, unsafe_hash: bool = False,
              frozen: bool = False, match_args: bool = True, kw_only: bool = False,
              slots: bool = False, weakref_slot: bool = False) -> _T | Callable[[_T], _T]:
    """`dataclasses.dataclass`, its generated methods made on first use (module doc)."""

    def wrap(cls: _T) -> _T:
        if order or unsafe_hash:
            return dataclasses.dataclass(  # type: ignore[return-value]
                cls, init=init, repr=repr, eq=eq, order=order, unsafe_hash=unsafe_hash,
                frozen=frozen, match_args=match_args, kw_only=kw_only, slots=slots,
                weakref_slot=weakref_slot)
        return _make(cls, init, repr, eq, frozen, match_args, kw_only, slots,  # type: ignore[return-value]
                     weakref_slot)

    return wrap if cls is None else wrap(cls)
