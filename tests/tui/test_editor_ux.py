"""Job editor details found trying it as a new user: the schedule line says which zone each
time is in, and a problem sits right under the field it is about."""

import asyncio

from hosts import SIZE, EditorApp, open_test_deck
from textual.widgets import Input, Static


def run(deck, job, steps):
    app = EditorApp(deck, job)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await steps(pilot, app.screen)

    try:
        asyncio.run(go())
    finally:
        deck.close()


def info_text(screen) -> str:
    return " ".join(str(screen.query_one("#schedule-info", Static).render()).split())


def test_the_next_fire_names_its_zone_and_the_jobs_own_time(tmp_path):
    """"At 09:00 … · next Tue 04 Mar 08:00" read as a contradiction: 08:00 was this machine's
    time (UTC) for 09:00 in the job's zone (Berlin), and neither was named."""

    async def steps(pilot, screen):
        assert info_text(screen).endswith("next Mon 03 Mar 09:00 UTC · in 1m 30s")  # UTC job
        screen.query_one("#timezone", Input).value = "Europe/Berlin"
        await pilot.pause()
        text = info_text(screen)
        assert text.startswith("At 09:00, Monday through Friday · next Tue 04 Mar 08:00 UTC "
                               "(09:00 in Europe/Berlin) · in 23h")

    run(open_test_deck(tmp_path), "digest", steps)


def test_a_schedule_error_sits_right_under_the_schedule(tmp_path):
    """The empty description line stayed between the field and its error."""

    async def steps(pilot, screen):
        screen.query_one("#schedule", Input).value = "0 9 * * 8"
        await pilot.pause()
        error = screen.query_one("#schedule-error", Static)
        assert error.display
        assert error.region.y == screen.query_one("#schedule", Input).region.bottom

    run(open_test_deck(tmp_path), "digest", steps)
