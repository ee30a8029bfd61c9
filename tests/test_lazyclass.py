"""`crondeck.core.lazyclass.dataclass` makes the class `dataclasses.dataclass` makes, its
generated code compiled on first use: each class below is made both ways from one body and
must behave alike, whatever is touched first."""

from __future__ import annotations

import copy
import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import InitVar, field  # noqa: F401  # the string annotations name them
from typing import Any, ClassVar  # noqa: F401

import pytest

from crondeck.core import lazyclass

FLAGS = [
    {},
    {"frozen": True},
    {"slots": True},
    {"frozen": True, "slots": True},
    {"kw_only": True},
    {"eq": False},
    {"eq": False, "slots": True},
    {"repr": False, "frozen": True},
    {"init": False},
    {"match_args": False, "frozen": True, "slots": True},
    {"order": True},
    {"unsafe_hash": True},
]


BODIES = ["initvar", "post_init", "plain"]


def _body(name: str, kind: str) -> tuple[tuple[type, ...], dict[str, Any]]:
    """A class body with each kind of field: plain, defaulted, factory, not in init (one
    set by __post_init__, one not), not shown, not compared; with an InitVar and a ClassVar
    ("initvar"), a __post_init__ alone ("post_init"), or neither ("plain")."""
    ns: dict[str, Any] = {
        "__module__": __name__,
        "__qualname__": name,
        "__annotations__": {
            "a": "int", "b": "str", "c": "list[int]", "d": "int", "e": "str", "f": "float",
            "g": "int", "h": "int",
        },
        "b": "bee",
        "c": field(default_factory=lambda: [1]),
        "d": field(default=4, init=False),
        "e": field(default="x", repr=False),
        "f": field(default=1.5, compare=False),
        "g": field(default=8, init=False),
        "h": field(kw_only=True),  # required, after the defaults: keyword-only
    }
    if kind == "initvar":
        ns["__annotations__"].update(k="ClassVar[int]", seed="InitVar[int]")
        ns.update(k=9, seed=0)

        def __post_init__(self: Any, seed: int) -> None:
            if seed:
                object.__setattr__(self, "d", seed)

        ns["__post_init__"] = __post_init__
    elif kind == "post_init":
        ns["__post_init__"] = lambda self: object.__setattr__(self, "d", 7)
    return (), ns


def _pair(flags: dict[str, bool], name: str = "Thing", doc: str | None = None,
          extra: dict[str, Any] | None = None, kind: str = "initvar") -> tuple[type, type]:
    made = []
    for make in (dataclasses.dataclass, lazyclass.dataclass):
        bases, ns = _body(name, kind)
        ns["__doc__"] = doc
        ns.update(extra or {})
        made.append(make(**flags)(type(name, bases, ns)))  # type: ignore[call-overload]
    return made[0], made[1]


def _make(cls: type) -> Any:
    if cls.__dataclass_params__.init:  # type: ignore[attr-defined]
        seed = {"seed": 7} if "seed" in cls.__dataclass_fields__ else {}  # type: ignore[attr-defined]
        return cls(a=1, b="two", h=9, **seed)
    thing = cls()
    for name, value in (("a", 1), ("b", "two"), ("c", [1]), ("d", 4), ("e", "x"),
                        ("f", 1.5), ("g", 8), ("h", 9)):
        object.__setattr__(thing, name, value)
    return thing


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return _values(call())
    except TypeError as exc:
        return str(exc)


def _values(thing: Any) -> list[Any]:
    return [getattr(thing, n, None) for n in "abcdefgh"]


def _described(cls: type, touch: str) -> dict[str, Any]:
    """What a user can see of the class and its instances, `touch` looked at first."""
    if touch == "doc":
        first: Any = cls.__doc__
    elif touch == "signature":
        first = str(inspect.signature(cls))
    else:
        first = _values(_make(cls)) if touch == "make" else None
    one, two = _make(cls), _make(cls)
    seen: dict[str, Any] = {
        "first": first,
        "doc": cls.__doc__,
        "signature": str(inspect.signature(cls)),
        "repr": repr(one) if cls.__dataclass_params__.repr else None,  # type: ignore[attr-defined]
        "equal": one == two,
        "equal other": one == object(),
        "fields": [(f.name, f.default, f.init, f.repr, f.compare, f.kw_only)
                   for f in dataclasses.fields(cls)],
        "params": {n: getattr(cls.__dataclass_params__, n)  # type: ignore[attr-defined]
                   for n in ("init", "repr", "eq", "order", "unsafe_hash", "frozen")},
        "match_args": getattr(cls, "__match_args__", None),
        "slots": getattr(cls, "__slots__", None),
        "hash is None": cls.__hash__ is None,  # type: ignore[comparison-overlap]
        "values": _values(one),
        "positional": _outcome(lambda: cls(1, "two", h=3)),
        "too many": _outcome(lambda: cls(1, "two", [3], 4.0, 5, 6)),
        "unknown": _outcome(lambda: cls(1, zzz=2)),
        "missing": _outcome(lambda: cls()),
        "abstract": inspect.isabstract(cls),
    }
    if cls.__hash__ is not None:  # type: ignore[comparison-overlap]
        try:
            seen["hash"] = hash(one) == hash(two), hash(one) == hash((1, "two", 7, "x", 8, 9))
        except TypeError as exc:  # a list among the fields
            seen["hash"] = str(exc)
    for attempt in ("assign", "delete", "assign new"):
        try:
            if attempt == "assign":
                one.a = 5
            elif attempt == "delete":
                del two.b
            else:
                one.zzz = 1
            seen[attempt] = "ok"
        except Exception as exc:  # what is raised is what is compared
            seen[attempt] = type(exc).__name__
    if cls.__dataclass_params__.init:  # type: ignore[attr-defined]
        fresh = _make(cls)
        seed = {"seed": 2} if "seed" in cls.__dataclass_fields__ else {}  # type: ignore[attr-defined]
        seen["replace"] = _values(dataclasses.replace(fresh, b="three", **seed))
        # What pickling does (a class made in a function cannot be pickled by name).
        seen["deepcopy"] = _values(copy.deepcopy(fresh)), copy.copy(fresh) == fresh
        seen["reduce"] = fresh.__reduce_ex__(2)[2:]
        seen["asdict"] = dataclasses.asdict(fresh)
    return seen


@pytest.mark.parametrize("flags", FLAGS, ids=lambda f: ",".join(f) or "plain")
@pytest.mark.parametrize("doc", [None, "A documented thing."])
@pytest.mark.parametrize("touch", ["nothing", "doc", "signature", "make"])
@pytest.mark.parametrize("kind", BODIES)
def test_a_lazy_dataclass_is_the_dataclass(flags, doc, touch, kind):
    eager, lazy = _pair(flags, doc=doc, kind=kind)
    assert _described(lazy, touch) == _described(eager, touch)


@pytest.mark.parametrize("flags", [{}, {"frozen": True}, {"frozen": True, "slots": True}])
def test_hand_written_methods_are_kept(flags):
    def __eq__(self: Any, other: object) -> bool:
        return True

    def __repr__(self: Any) -> str:
        return "mine"

    eager, lazy = _pair(flags, extra={"__eq__": __eq__, "__repr__": __repr__})
    for cls in (eager, lazy):
        assert repr(_make(cls)) == "mine" and _make(cls) == object()
    assert (eager.__hash__ is None) == (lazy.__hash__ is None)  # type: ignore[comparison-overlap]
    if flags:  # a frozen class still gets the generated hash (of fields holding a list here)
        for cls in (eager, lazy):
            with pytest.raises(TypeError, match="unhashable type: 'list'"):
                hash(_make(cls))


def test_subclasses_of_a_lazy_dataclass_inherit_its_code():
    for make in (dataclasses.dataclass, lazyclass.dataclass):
        @lazyclass.dataclass(frozen=True, slots=True)
        class Base:
            a: int
            b: str = "b"

        class Plain(Base):  # made before Base's code is
            pass

        @make(frozen=True)
        class Child(Base):
            c: float = 1.0

        assert repr(Plain(3)).endswith(".<locals>.Plain(a=3, b='b')")
        assert hash(Plain(3)) == hash(Base(3)) == hash((3, "b"))
        assert repr(Child(1, c=2.0)).endswith(".<locals>.Child(a=1, b='b', c=2.0)")
        assert Child(1) == Child(1) and Child(1) != Base(1)
        with pytest.raises(dataclasses.FrozenInstanceError):
            Child(1).a = 2  # type: ignore[misc]

    with pytest.raises(TypeError, match="cannot inherit non-frozen dataclass from a frozen"):
        @lazyclass.dataclass
        class Thawed(Base):
            d: int = 0


@pytest.mark.parametrize("kind", BODIES)
def test_code_is_compiled_on_first_use_only(kind):
    _, lazy = _pair({"frozen": True, "slots": True}, kind=kind)

    def deferred() -> list[str]:
        return sorted(n for n, v in vars(lazy).items() if isinstance(v, lazyclass._Deferred))

    assert deferred() == ["__doc__", "__eq__", "__hash__", "__init__", "__repr__"]
    one = _make(lazy)
    assert deferred() == ["__doc__", "__eq__", "__hash__", "__repr__"]
    assert lazy.__init__.__qualname__ == "Thing.__init__"
    same = one == one
    assert same is True
    assert deferred() == ["__doc__"]  # __eq__, __hash__ and __repr__ are made together
    assert lazy.__doc__.startswith("Thing(a: 'int', b: 'str' = 'bee', c: 'list[int]' = <factory>")
    assert deferred() == []


def test_an_ill_ordered_class_fails_when_first_made():
    @lazyclass.dataclass
    class Bad:
        a: int = 1
        b: int  # type: ignore[misc]

    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        Bad(1, 2)
