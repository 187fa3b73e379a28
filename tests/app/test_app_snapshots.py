"""Snapshots of the screens whose picture matters (half-cell graphics, fixed size, no clock).

Each Classify, Iris, Latent and Train view is taken at the tests' usual 140x45 and at 80x24, the
smallest terminal the app is laid out for: everything must still be in view there.

Update after an intended change with: pytest tests/app/test_app_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest
from app_helpers import SIZE, settled, wait_for

from tui.screens.train import TrainScreen
from tui.widgets.file_browser import ImageTree
from tui.widgets.latent_grid import LatentGrid

SMALL = (80, 24)
SIZES = pytest.mark.parametrize("size", [SIZE, SMALL], ids=["140x45", "80x24"])


async def header_ready(pilot) -> None:
    """The header's provider arrives from a worker: wait for it, so every snapshot has it."""
    await wait_for(pilot, lambda: "CPUExecutionProvider" in pilot.app.sub_title)


async def tree_ready(pilot) -> None:
    """The tree lists the folder, its cursor is on the first image, and the models are known."""
    await header_ready(pilot)
    screen = pilot.app.screen
    tree = screen.query_one(ImageTree)
    await wait_for(pilot, lambda: len(tree.root.children) == 5 and screen.models and tree.cursor_line == 1)


@SIZES
def test_classify_compare_view(make_app, snap_compare, size):
    """A real MNIST 4 beside its 28x28 input, and all three digit models (stacked, top classes, at 80x24)."""

    async def pick_digit(pilot):
        await tree_ready(pilot)
        screen = pilot.app.screen
        await pilot.press("down")  # from broken.png, the first image, to digit-0.png
        await wait_for(pilot, lambda: all(bars.probabilities for bars in screen.query("#bars ProbabilityBars")))
        await settled(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=pick_digit)


@SIZES
def test_classify_one_model(make_app, snap_compare, size):
    """One model's ten bars, the polarity line and the whole 28x28 box."""

    async def pick_cnn(pilot):
        await tree_ready(pilot)
        screen = pilot.app.screen
        await pilot.press("down", "c")  # digit-0.png, then one model
        await wait_for(pilot, lambda: screen.model == "cnn" and screen.query_one("#bars-0").probabilities)
        await settled(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=pick_cnn)


@SIZES
def test_classify_bad_file(make_app, snap_compare, size):
    """The broken file's whole reason, once, where the bars were; the picture box keeps its place."""

    async def pick_broken(pilot):
        await tree_ready(pilot)  # broken.png is the first image, so the first shown
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#file-error").display)
        await settled(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=pick_broken)


@SIZES
def test_latent_grid_with_cursor(make_app, snap_compare, size):
    """An 8x8 grid (large enough cells to see in half-cells) with the cursor outlined on row 3, column 4."""

    async def walk(pilot):
        await header_ready(pilot)
        await pilot.press("2")
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.grid is not None)
        await screen.run_action(f"resize({8 - screen.n})")  # one decode rather than a key press each
        await wait_for(pilot, lambda: screen.grid.n == 8)
        await pilot.press("down", "down", "right", "right", "right")
        await wait_for(pilot, lambda: screen.query_one(LatentGrid).cursor == (2, 3))
        await settled(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=walk)


@SIZES
def test_train_history_playback_without_tensorflow(make_app, snap_compare, monkeypatch, size):
    """The install hint, and the shipped model's recorded history drawn as the live curves would be."""
    monkeypatch.setattr(TrainScreen, "PLAYBACK_INTERVAL", 0.01)

    async def play(pilot):
        await header_ready(pilot)
        await pilot.press("3")
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.state.status == "history (recorded)")
        await settled(pilot)

    assert snap_compare(make_app(can_train=False), terminal_size=size, run_before=play)



@SIZES
def test_iris_form(make_app, snap_compare, size):
    """The four measurements, the first one being typed in, and the three species' bars."""

    async def open_iris(pilot):
        await header_ready(pilot)
        await wait_for(pilot, lambda: pilot.app.screen.query("#feature-0"))
        await pilot.press("i")
        field = pilot.app.screen.query_one("#feature-0")
        await wait_for(pilot, lambda: pilot.app.focused is field)
        field.cursor_blink = False
        bars = pilot.app.screen.query_one("#iris-bars")
        await wait_for(pilot, lambda: bars.probabilities)
        await settled(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=open_iris)


def test_help_lists_the_keys(make_app, snap_compare):
    """The ? help over the Latent screen, at 80x24."""

    async def open_help(pilot):
        await header_ready(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: pilot.app.screen.grid is not None)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: pilot.app.screen.query("#help-keys"))
        await settled(pilot)

    assert snap_compare(make_app(), terminal_size=SMALL, run_before=open_help)
