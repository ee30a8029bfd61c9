"""Job editor details found trying it as a new user: the schedule line says which zone each
time is in, and a problem sits right under the field it is about."""

import asyncio
from datetime import UTC, timedelta

import pytest
from conftest import type_text
from hosts import NOW, SIZE, EditorApp, open_test_deck
from textual.app import App
from textual.widgets import Input, Static

from crondeck.tui.screens.job_editor import JobEditorScreen


def run(runtime, job, steps):
    app = EditorApp(runtime, job)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await steps(pilot, app.screen)

    try:
        asyncio.run(go())
    finally:
        runtime.close()


def info_text(screen) -> str:
    return " ".join(str(screen.query_one("#schedule-info", Static).render()).split())


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_schedule_error_sits_right_under_the_schedule(tmp_path):
    """The empty description line stayed between the field and its error."""

    async def steps(pilot, screen):
        screen.query_one("#schedule", Input).value = "0 9 * * 8"
        await pilot.pause()
        error = screen.query_one("#schedule-error", Static)
        assert error.display
        assert error.region.y == screen.query_one("#schedule", Input).region.bottom

    run(open_test_deck(tmp_path), "digest", steps)


@pytest.mark.slow
def test_q_in_the_editor_or_builder_does_not_quit_the_app(tmp_path):
    """q is the app's priority key: with focus on a checkbox, a select or a button (anything
    but a text box) it would quit crondeck from the middle of a half-filled form, unsaved. In
    the editor and the builder q does nothing; esc leaves them, then q quits."""
    from textual.widgets import Checkbox

    from crondeck.tui.app import CrondeckApp
    from crondeck.tui.screens.cron_builder import CronBuilderScreen
    from crondeck.tui.screens.job_editor import JobEditorScreen

    runtime = open_test_deck(tmp_path)
    app = CrondeckApp(runtime.scheduler, config_path=runtime.config.path,
                      clock=runtime.scheduler.clock, start=False, live=False)
    app.runtime = runtime

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("n")
            await pilot.pause()
            editor = app.screen
            assert isinstance(editor, JobEditorScreen)
            await type_text(pilot, "weekly")
            editor.query_one("#enabled", Checkbox).focus()
            await pilot.pause()
            assert "q" not in [b.binding.key for b in app.active_bindings.values()
                               if b.binding.show and b.enabled]  # not offered in the footer
            await pilot.press("q")
            await pilot.pause()
            assert app.is_running and app.screen is editor
            assert editor.query_one("#name", Input).value == "weekly"
            await pilot.press("ctrl+b")
            await pilot.pause()
            builder = app.screen
            assert isinstance(builder, CronBuilderScreen)
            builder.query_one("#preset-0").focus()
            await pilot.press("q")
            await pilot.pause()
            assert app.is_running and app.screen is builder
            await pilot.press("escape", "escape")
            await pilot.pause()
            await pilot.press("q")  # on the dashboard q quits as before
            await pilot.pause()
        assert not app.is_running

    try:
        asyncio.run(go())
    finally:
        runtime.close()


@pytest.mark.slow
def test_an_empty_inline_command_says_what_to_type_in_the_form(tmp_path):
    """Picking "inline command" says what to type, for a command and for a python target,
    in the box's placeholder too: the file's own wording ('a shell string or an argv list
    like ["sh", "-c"]') is TOML talk, and the form has one text box."""
    from textual.widgets import Select

    async def steps(pilot, screen):
        screen.query_one("#name", Input).value = "report"
        screen.query_one("#source", Select).value = "command"
        await pilot.pause()
        error = screen.query_one("#command-error", Static)
        box = screen.query_one("#command", Input)
        assert str(error.render()) == ("✗ empty command: type what to run, as in a shell, "
                                       "e.g. ./scripts/report.sh")
        assert "python" not in box.placeholder
        screen.query_one("#source", Select).value = "python"
        await pilot.pause()
        assert str(error.render()) == ("✗ empty target: type the function to call, as "
                                       "package.module:function")
        assert box.placeholder.startswith("package.module:function")
        box.value = "nocolon"
        await pilot.pause()
        assert "is not a Python target" in str(error.render())  # the validator's own words

    run(open_test_deck(tmp_path), None, steps)


@pytest.mark.slow
def test_a_field_with_a_problem_is_tinted_until_fixed(tmp_path):
    """The stylesheet tints `.row Input.-invalid`, but nothing set the class: the field in
    error looked like the others, its message a line below."""

    async def steps(pilot, screen):
        box = screen.query_one("#timeout", Input)
        before = box.styles.background_tint
        box.value = "5x"
        await pilot.pause()
        assert box.has_class("-invalid")
        assert box.styles.background_tint != before
        assert not screen.query_one("#schedule", Input).has_class("-invalid")
        box.value = "5m"
        await pilot.pause()
        assert not box.has_class("-invalid")

    run(open_test_deck(tmp_path), "digest", steps)


@pytest.mark.slow
def test_overlap_and_catch_up_fit_side_by_side_at_80x24(tmp_path):
    """Two 26-column selects and their labels need 80 columns: at 80x24 Catch-up lost its
    arrow past the right edge."""
    runtime = open_test_deck(tmp_path)
    app = EditorApp(runtime, "digest")

    async def go():
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            screen = app.screen
            inside = screen.query_one("#form").scrollable_content_region
            for select_id in ("#source", "#overlap", "#catchup"):
                select = screen.query_one(select_id)
                select.focus()
                await pilot.pause()
                assert select.region.right <= inside.right, (select_id, select.region, inside)
                assert select.region.width >= 16, select_id  # "queue_one" and its arrow

    try:
        asyncio.run(go())
    finally:
        runtime.close()


@pytest.mark.slow
def test_the_form_keeps_a_readable_width_in_a_wide_terminal(tmp_path):
    """At 200 columns every field stretched to ~185: the Builder button sat 150 columns from
    the schedule's text and the eye lost the row. The form stays <= 120 wide, centred."""
    runtime = open_test_deck(tmp_path)
    app = EditorApp(runtime, "digest")

    async def go():
        async with app.run_test(size=(200, 50)) as pilot:
            await pilot.pause()
            screen = app.screen
            rows = [row.region for row in screen.query(".row") if row.region.width]
            assert all(r.width <= 120 for r in rows), rows
            assert len({(r.x, r.width) for r in rows}) == 1  # one column, edges aligned
            left, right = rows[0].x, 200 - rows[0].right
            assert abs(left - right) <= 2  # centred
            title = screen.query_one("#title").region
            assert title.x == left  # the title and messages line up with the rows
            assert screen.query_one("#save").region.x == left

    try:
        asyncio.run(go())
    finally:
        runtime.close()


@pytest.mark.slow
def test_a_zone_typed_in_the_wrong_case_or_cut_short_suggests_the_right_one(tmp_path):
    """'utc' got no suggestion at all, and 'europe/ber' offered 'Europe/Jersey' first: the
    suggestions ignored case and prefixes."""

    async def steps(pilot, screen):
        box = screen.query_one("#timezone", Input)
        error = screen.query_one("#timezone-error", Static)
        box.value = "utc"
        await pilot.pause()
        assert "did you mean 'UTC'" in str(error.render())
        box.value = "europe/ber"
        await pilot.pause()
        assert "did you mean 'Europe/Berlin'" in str(error.render())
        box.value = "Europe/Berln"  # a typo still finds its zone
        await pilot.pause()
        assert "did you mean 'Europe/Berlin'" in str(error.render())

    run(open_test_deck(tmp_path), "digest", steps)


@pytest.mark.slow
def test_an_empty_prompt_says_it_is_optional_and_what_it_is(tmp_path):
    """A blank box labelled Prompt: required? for a tar command too? The box says."""
    from textual.widgets import TextArea

    async def steps(pilot, screen):
        prompt = screen.query_one("#prompt", TextArea)
        drawn = prompt.render_line(0).text
        assert "optional" in drawn and "each run" in drawn

    run(open_test_deck(tmp_path), None, steps)


@pytest.mark.slow
def test_overlap_and_catch_up_say_what_the_chosen_policy_does(tmp_path):
    """skip, queue_one, replace, allow; latest, none, all: bare words a new user had to look
    up. The line under them says what the choice (or the default it stands for) does."""
    from textual.widgets import Select

    async def steps(pilot, screen):
        info = screen.query_one("#policy-info", Static)
        text = " ".join(str(info.render()).split())
        assert "default: skip" in text and "is skipped" in text
        assert "default: latest" in text and "only the latest" in text
        screen.query_one("#overlap", Select).value = "queue_one"
        screen.query_one("#catchup", Select).value = "all"
        await pilot.pause()
        text = " ".join(str(info.render()).split())
        assert "overlap queue_one — waits for the running one to end" in text
        assert "catch-up all — after crondeck was down, every missed slot runs" in text

    run(open_test_deck(tmp_path), "digest", steps)


@pytest.mark.slow
@pytest.mark.parametrize("theme", ("crondeck-dark", "crondeck-light", "crondeck-high-contrast"))
def test_the_text_fields_stand_out_from_the_form_in_every_shipped_theme(theme, tmp_path):
    """Fields were $surface: the same black as the form in crondeck-high-contrast, white on
    near-white in crondeck-light, so an empty field (the Prompt) did not show at all."""
    from test_themes import _contrast
    from textual.widgets import TextArea

    from crondeck.tui.themes import install_themes

    async def steps(pilot, screen):
        install_themes(pilot.app, user_dir=tmp_path / "none", remember=False)
        pilot.app.theme = theme
        await pilot.pause()
        form = screen.query_one("#form").background_colors[1]
        for field in (screen.query_one("#timeout", Input), screen.query_one("#prompt", TextArea)):
            colour = field.background_colors[1]
            assert _contrast(colour, form) >= 1.1, (theme, field.id, colour.hex, form.hex)

    run(open_test_deck(tmp_path), "digest", steps)


@pytest.mark.slow
def test_a_bad_job_name_points_at_what_is_wrong_with_it(tmp_path):
    """'my job!' got the whole rule ('can use letters, digits, spaces and ...'), leaving the
    operator to find the '!' themselves."""

    async def steps(pilot, screen):
        box = screen.query_one("#name", Input)
        error = screen.query_one("#name-error", Static)
        cases = {
            "my job!": "✗ job name 'my job!': '!' is not allowed; use letters, digits, spaces "
                       "and . _ - : + (no / or @)",
            "-nightly": "✗ job name '-nightly' must start with a letter or digit",
            "x" * 101: "✗ job name is 101 characters long: 100 at most",
        }
        for name, message in cases.items():
            box.value = name
            await pilot.pause()
            assert " ".join(str(error.render()).split()) == message

    run(open_test_deck(tmp_path), None, steps)


@pytest.mark.slow
def test_ctrl_s_on_an_invalid_form_shows_the_problem_scrolled_out_of_view(tmp_path):
    """In a small terminal the field in error can be below the fold: ctrl+s did nothing at
    all (Save is off); it brings the first problem into view, its field focused."""
    app = EditorApp(open_test_deck(tmp_path), "disk")

    async def go():
        async with app.run_test(size=(60, 15)) as pilot:
            await pilot.pause()
            screen = app.screen
            screen.query_one("#timeout", Input).value = "x"
            screen.query_one("#name", Input).focus()
            screen.query_one("#form").scroll_home(animate=False)
            await pilot.pause()
            error = screen.query_one("#timeout-error", Static)
            assert not screen.query_one("#form").region.contains_region(error.region)
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert screen.focused is screen.query_one("#timeout", Input)
            assert screen.query_one("#form").region.contains_region(error.region)
            assert app.results == []  # nothing saved, the form still open

    try:
        asyncio.run(go())
    finally:
        app.runtime.close()


@pytest.mark.slow
def test_the_next_fire_counts_down_while_the_form_is_open(tmp_path):
    """"in 1m 30s" stayed as it was when the form opened, however long it stayed open."""
    runtime = open_test_deck(tmp_path)
    clock = [NOW]

    class LiveEditorApp(App[None]):  # not EditorApp: Textual runs every class's on_mount
        def on_mount(self) -> None:
            self.push_screen(JobEditorScreen(runtime, "digest", now=lambda: clock[0], zone=UTC,
                                             live=True))

    app = LiveEditorApp()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen = app.screen
            assert info_text(screen).endswith("in 1m 30s")
            clock[0] = NOW + timedelta(seconds=60)
            await pilot.pause(1.3)
            assert info_text(screen).endswith("in 30s")

    try:
        asyncio.run(go())
    finally:
        runtime.close()
