"""Models whose bar columns do not fit are counted in a line, never left out in silence (at 80x24 too)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from app_helpers import settled, toasts, wait_for

from tui.widgets.bar_columns import BarColumns
from tui.widgets.file_browser import ImageTree
from tui.widgets.probabilities import ProbabilityBars

DIGIT_MODELS = ("cnn", "cnn-invert", "vae-classifier")


def six_models(tiny_models: Path) -> Path:
    """The three tiny digit models and a copy of each: six columns to fit."""
    for name in DIGIT_MODELS:
        shutil.copy(tiny_models / f"{name}.onnx", tiny_models / f"{name}-copy.onnx")
    return tiny_models


async def classified(pilot) -> BarColumns:
    """The Classify screen once digit-0.png's bars are in."""
    screen = pilot.app.screen
    tree = screen.query_one(ImageTree)
    await wait_for(pilot, lambda: len(tree.root.children) == 5 and screen.models)
    await pilot.press("down")
    bars = screen.query_one(BarColumns)
    await wait_for(pilot, lambda: all(column.probabilities for column in bars.query(ProbabilityBars)))
    await settled(pilot)
    return bars


def in_view(bars: BarColumns) -> list[ProbabilityBars]:
    """The columns whose whole box is on screen, inside the scroll area."""
    area = bars.parent.region
    return [column for column in bars.query(ProbabilityBars)
            if column.display and area.contains_region(column.region) and column.region.height]


def notice(bars: BarColumns) -> str:
    """The line above the columns, "" when hidden."""
    line = bars.query("#bar-columns-notice").first() if bars.query("#bar-columns-notice") else None
    return str(line.render()) if line is not None and line.display else ""


@pytest.mark.parametrize("size", [(80, 24), (140, 45)], ids=["80x24", "140x45"])
async def test_columns_that_do_not_fit_are_counted_in_a_line(make_app, tiny_models, size):
    app = make_app(models=six_models(tiny_models))
    async with app.run_test(size=size) as pilot:
        bars = await classified(pilot)
        shown = in_view(bars)
        said = notice(bars)
        assert 0 < len(shown) < 6
        assert said.startswith(f"{6 - len(shown)} more models: widen the terminal or press c")
        assert all(column.size.width >= 14 for column in shown)  # each still has room for a bar
        await pilot.press("c")  # one model at a time: it fits, and nothing is left to mention
        await settled(pilot)
        assert len(in_view(bars)) == 1 and notice(bars) == ""


async def test_every_column_fits_at_80x24_with_the_three_digit_models(make_app):
    """A guard: the usual three models all show, with no notice (as before the notice existed)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        bars = await classified(pilot)
        assert len(in_view(bars)) == 3 and notice(bars) == ""


async def test_at_40_columns_a_notification_says_the_bars_need_a_wider_terminal(make_app):
    app = make_app()
    async with app.run_test(size=(40, 24), notifications=True) as pilot:  # toasts shown, as in the app
        screen = app.screen
        tree = screen.query_one(ImageTree)
        await wait_for(pilot, lambda: len(tree.root.children) == 5 and screen.models)
        await pilot.press("down")
        await wait_for(pilot, lambda: any("widen the terminal" in toast for toast in toasts(app)))
