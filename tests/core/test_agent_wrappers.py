"""Jobs added in a row with one callable share one agent wrapper: a function, or one
object's method (a new bound method at each `self.handle`), but not another object's."""

from __future__ import annotations

from crondeck.core import Scheduler, every
from crondeck.core.clock import FakeClock


class Inbox:
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def handle(self, prompt: str) -> str:
        self.seen.append(prompt)
        return "ok"


def test_jobs_of_one_objects_method_share_one_wrapper_and_another_object_gets_its_own() -> None:
    s = Scheduler(clock=FakeClock())
    first, second = Inbox(), Inbox()
    jobs = [s.add_job(first.handle, "p", every(minutes=5), name=f"a-{i}") for i in range(3)]
    other = s.add_job(second.handle, "p", every(minutes=5), name="b")
    again = s.add_job(first.handle, "p", every(minutes=5), name="a-again")
    assert jobs[0].agent is jobs[1].agent is jobs[2].agent
    assert other.agent is not jobs[0].agent  # another object: its own wrapper, its own state
    assert again.agent is not other.agent


def test_a_shared_wrapper_runs_the_method_of_its_own_object() -> None:
    import asyncio

    async def main() -> None:
        s = Scheduler(clock=FakeClock())
        first, second = Inbox(), Inbox()
        s.add_job(first.handle, "to first", every(minutes=5), name="a-1")
        s.add_job(first.handle, "to first", every(minutes=5), name="a-2")
        s.add_job(second.handle, "to second", every(minutes=5), name="b")
        for name in ("a-1", "a-2", "b"):
            await asyncio.wait_for(s.run_now(name), 2)
        assert first.seen == ["to first", "to first"] and second.seen == ["to second"]

    asyncio.run(main())
