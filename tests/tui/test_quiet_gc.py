"""Full garbage collections wait for a quiet moment while the dashboard is up."""

import gc

from crondeck.tui.quiet_gc import LONGEST, QUIET, QuietCollector


def test_full_passes_wait_for_quiet_and_everything_is_restored():
    before = gc.get_threshold()
    now = [100.0]
    collector = QuietCollector(clock=lambda: now[0])
    collector.start()
    try:
        assert gc.get_threshold()[2] > 10**6  # no automatic full passes
        assert gc.get_freeze_count() > 0
        for _ in range(before[2] + 1):  # make a full pass due, as CPython counts
            gc.collect(1)
        collector.touched()
        assert not collector.collect_if_quiet()  # the operator is busy
        now[0] += QUIET
        assert collector.collect_if_quiet()
        assert not collector.collect_if_quiet()  # nothing due any more
        for _ in range(before[2] + 1):
            gc.collect(1)
        collector.touched()
        now[0] += LONGEST  # busy for a minute: it runs anyway
        collector.touched()
        assert collector.collect_if_quiet()
        assert collector.collections == 2
    finally:
        collector.stop()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_held_frame_collects_nothing_until_released():
    """Between `hold` and `release` (a countdown frame) no collection runs, however much is
    allocated; afterwards they run as before, and `stop` releases a hold too."""
    runs: list[int] = []

    def count(phase, info):
        if phase == "start":
            runs.append(info["generation"])

    collector = QuietCollector()
    collector.hold()  # not started: the collector leaves the collector alone
    assert gc.isenabled()
    collector.start()
    gc.callbacks.append(count)
    try:
        collector.hold()
        junk = [[i] for i in range(gc.get_threshold()[0] * 5)]  # young collections due
        assert runs == [] and not gc.isenabled()
        collector.release()
        assert gc.isenabled()
        junk += [[i] for i in range(gc.get_threshold()[0] * 2)]
        assert runs  # due ones ran once released
        del junk
        collector.hold()  # a tick before the last one's frame was drawn: both held
        collector.hold()
        collector.release()
        assert not gc.isenabled()
        collector.release()
        assert gc.isenabled()
        collector.hold()
    finally:
        gc.callbacks.remove(count)
        collector.stop()
    assert gc.isenabled()
