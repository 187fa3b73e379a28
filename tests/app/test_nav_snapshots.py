"""Snapshots of the app's navigation at 80x24: the screen tabs, the browser's filter and cut names,
the note about bar columns that do not fit, and check boxes on and off.

Update after an intended change with: pytest tests/app/test_nav_snapshots.py --snapshot-update
"""

from __future__ import annotations

import shutil

from app_helpers import settled, wait_for

from tui.screens.train import TrainScreen
from tui.widgets.file_browser import ImageTree
from tui.widgets.probabilities import ProbabilityBars

SMALL = (80, 24)
LONG_NAME = "handwritten-digit-seven-from-the-whiteboard-photo-2024-01-01.png"


async def header_ready(pilot) -> None:
    """The header's provider arrives from a worker: wait for it, so every snapshot has it."""
    await wait_for(pilot, lambda: "CPUExecutionProvider" in pilot.app.sub_title)


def test_browser_filter_and_a_long_name(make_app, images, snap_compare):
    """A long name cut in the middle, its extension kept; `/dig` typed shows only the digits, the first one open."""
    shutil.copy(images / "digit-0.png", images / LONG_NAME)

    async def filter_digits(pilot):
        await header_ready(pilot)
        screen = pilot.app.screen
        tree = screen.query_one(ImageTree)
        await wait_for(pilot, lambda: len(tree.root.children) == 6 and screen.models)
        await pilot.press("slash", "d", "i", "g")
        await wait_for(pilot, lambda: len(tree.root.children) == 4)
        await wait_for(pilot, lambda: all(bars.probabilities for bars in screen.query("#bars ProbabilityBars")))
        await settled(pilot)

    assert snap_compare(make_app(start=images), terminal_size=SMALL, run_before=filter_digits)


def test_bar_columns_that_do_not_fit(make_app, tiny_models, snap_compare):
    """Six digit models at 80x24: four columns, and a line counting the two left out."""
    for name in ("cnn", "cnn-invert", "vae-classifier"):
        shutil.copy(tiny_models / f"{name}.onnx", tiny_models / f"{name}-copy.onnx")

    async def pick_digit(pilot):
        await header_ready(pilot)
        screen = pilot.app.screen
        tree = screen.query_one(ImageTree)
        await wait_for(pilot, lambda: len(tree.root.children) == 5 and len(screen.models) == 6)
        await pilot.press("down")
        await wait_for(pilot, lambda: all(bars.probabilities for bars in screen.query(ProbabilityBars)))
        await settled(pilot)

    assert snap_compare(make_app(models=tiny_models), terminal_size=SMALL, run_before=pick_digit)


def test_train_form_check_boxes(make_app, snap_compare):
    """The Train screen's tab marked in the header, --invert on beside --restart off."""

    async def invert_on(pilot):
        await header_ready(pilot)
        await pilot.press("3")
        screen = pilot.app.screen
        await wait_for(pilot, lambda: isinstance(screen, TrainScreen))
        screen = pilot.app.screen
        invert = screen.query_one("#train-invert")
        await wait_for(pilot, lambda: invert.display)
        invert.value = True
        screen.set_focus(None)
        await settled(pilot)

    assert snap_compare(make_app(), terminal_size=SMALL, run_before=invert_on)
