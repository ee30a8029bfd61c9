"""Snapshot of the dashboard with a job whose daily token budget is spent ("∅ budget", LEFT
counting down to its zone's midnight, left out of Upcoming). Regenerate on purpose only:
`pytest tests/tui/test_budget_snapshot.py --snapshot-update`."""

import pytest
from conftest import SIZE, settle
from test_budget_status import answer


@pytest.mark.slow
def test_budget_spent(snap_compare, make_app):
    app, sched, _clock, _streamer = make_app()
    sched.add_job(answer("summary\n", 700, 400), "go", "*/30 * * * *", name="digest",
                  tz="Asia/Tokyo", daily_token_budget=1_000)

    async def before(pilot):
        await settle(pilot)
        sched.run_now("digest")  # 1,100 of 1,000 tokens: spent until midnight in Tokyo
        await settle(pilot)
        await settle(pilot)
        pilot.app.dashboard.table.select("digest")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)
