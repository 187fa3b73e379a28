"""The header names every screen by its key and marks the one shown, at 80x24 and narrower, in one row."""

from __future__ import annotations

from app_helpers import screen_strips, wait_for

from tui.screens.classify import ClassifyScreen
from tui.screens.models import ModelsScreen
from tui.screens.train import TrainScreen
from tui.widgets.screen_tabs import ScreenTabs

SMALL = (80, 24)


def header_row(app) -> list:
    """The top row's segments: (text, style)."""
    return list(screen_strips(app)[0])


def header_text(app) -> str:
    """The top row, as plain text."""
    return "".join(segment.text for segment in header_row(app))


def column_of(app, text: str) -> int:
    """The column where TEXT starts in the top row, as the user sees it."""
    top = header_text(app)
    assert text in top, f"{text!r} is not in the header: {top!r}"
    return top.index(text)


async def header_ready(pilot) -> None:
    """Wait until the header has named what runs the models (its last part to come; cut short at 80)."""
    await wait_for(pilot, lambda: "CPUExecution" in header_text(pilot.app))


def style_of(app, word: str):
    """The style the top row draws WORD in."""
    return next(segment.style for segment in header_row(app) if word in segment.text)


async def test_the_header_names_every_screen_and_marks_the_one_shown(make_app):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await wait_for(pilot, lambda: "CPUExecutionProvider" in app.sub_title)
        await header_ready(pilot)
        top = header_text(app)
        for key, _, title in app.SCREENS_BY_KEY:  # at 80 columns a title may be cut to its first word
            assert f"{key} {title.split()[0]}" in top
        assert "CPUExecution" in top and "needs" not in top  # what runs the models stays in the header
        current, other = style_of(app, "Classify"), style_of(app, "Train")
        assert current.bgcolor != other.bgcolor and current.bold and not other.bold
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen) and style_of(app, "Train").bold)
        assert not style_of(app, "Classify").bold


async def test_the_header_takes_no_row_of_its_own(make_app):
    """It replaces the stock header's row: the screens keep every row they had at 80x24."""
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await header_ready(pilot)
        tabs = app.screen.query_one(ScreenTabs)
        assert tabs.region.y == 0 and tabs.region.height == 1
        body = [widget for widget in app.screen.children if widget.display and widget.region.height]
        assert min(widget.region.y for widget in body if widget is not tabs) == 1


async def test_clicking_a_screen_name_goes_there(make_app):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await header_ready(pilot)
        await pilot.click(offset=(column_of(app, "4 Models") + 1, 0))
        await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen))
        await pilot.click(ScreenTabs, offset=(2, 0))
        await wait_for(pilot, lambda: isinstance(app.screen, ClassifyScreen))


async def test_at_40_columns_every_key_still_shows_and_the_current_name(make_app):
    app = make_app()
    async with app.run_test(size=(40, 24)) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: "2 Latent" in header_text(app) and "needs 80×24" in header_text(app))
        top = header_text(app)
        assert " 1 " in top and " 3 " in top and " 4 " in top and " 5 " in top
        assert "2 Latent" in top
        assert "needs 80×24" in top  # parts of every screen are cut off: the header says so


async def test_the_tab_under_the_mouse_lights_up(make_app):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await header_ready(pilot)
        plain = style_of(app, "Models").bgcolor
        await pilot.hover(offset=(column_of(app, "4 Models") + 1, 0))
        await wait_for(pilot, lambda: style_of(app, "Models").bgcolor != plain)
        assert style_of(app, "Draw").bgcolor == plain


async def test_a_terminal_made_shorter_than_24_rows_is_named_in_the_header(make_app):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await header_ready(pilot)
        await pilot.resize_terminal(80, 20)
        await wait_for(pilot, lambda: "needs 80×24" in header_text(app))
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: "needs" not in header_text(app))
