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
