"""Check boxes look different on and off, by glyph and by colour, in 16-colour terminals too."""

from __future__ import annotations

from app_helpers import screen_strips, wait_for
from rich.color import ColorSystem
from textual.app import App, ComposeResult

from tui.screens.train import TrainScreen

SMALL = (80, 24)


def box(app: App, label: str) -> tuple[str, list]:
    """The glyph inside the check box on the row that shows LABEL, and the box's three segments."""
    for strip in screen_strips(app):
        if label in strip.text:
            segments = [segment for segment in strip if segment.text]
            start = next(index for index, segment in enumerate(segments) if segment.text == "▐")
            three = segments[start:start + 3]
            return three[1].text, three
    raise AssertionError(f"no row shows {label}")


def sixteen(segments: list) -> list:
    """The colours of SEGMENTS as a 16-colour terminal shows them."""
    return [(s.style.color.downgrade(ColorSystem.STANDARD).number if s.style.color else None,
             s.style.bgcolor.downgrade(ColorSystem.STANDARD).number if s.style.bgcolor else None)
            for s in segments]


async def test_the_train_forms_check_boxes_differ_on_and_off_in_glyph_and_colour(make_app):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen))
        invert = app.screen.query_one("#train-invert")
        await wait_for(pilot, lambda: invert.display and invert.region.height)
        invert.value = True
        await wait_for(pilot, lambda: box(app, "--invert")[0].strip())  # drawn on
        on_glyph, on = box(app, "--invert")
        off_glyph, off = box(app, "--restart")
    assert on_glyph.strip() and not off_glyph.strip()  # a mark when on, an empty box when off
    assert sixteen(on) != sixteen(off)  # and another colour, even with 16 colours
    assert on[1].style.bold


async def test_a_check_box_in_an_ansi_theme_differs_too():
    from tui.widgets.checkbox import Check

    class Boxes(App[None]):
        def compose(self) -> ComposeResult:
            yield Check("yes", True)
            yield Check("no", False)

    app = Boxes(ansi_color=True)
    async with app.run_test(size=(30, 8)) as pilot:
        await pilot.pause()
        on_glyph, on = box(app, "yes")
        off_glyph, off = box(app, "no")
        assert on_glyph == "X" and off_glyph == " "
        assert on[1].style != off[1].style
        app.query(Check).last().toggle()
        await pilot.pause()
        assert box(app, "no")[0] == "X"
