"""Snapshots of the screens whose picture matters (half-cell graphics, fixed size, no clock).

Update after an intended change with: pytest tests/app/test_app_snapshots.py --snapshot-update
"""

from __future__ import annotations

from app_helpers import SIZE, wait_for

from tui.screens.train import TrainScreen


async def header_ready(pilot) -> None:
    """The header's provider arrives from a worker: wait for it, so every snapshot has it."""
    await wait_for(pilot, lambda: "CPUExecutionProvider" in pilot.app.sub_title)
from tui.widgets.file_browser import ImageTree
from tui.widgets.latent_grid import LatentGrid


def test_classify_compare_view(make_app, snap_compare):
    """A real MNIST 4 beside its 28x28 input, and all three digit models side by side."""

    async def pick_digit(pilot):
        await header_ready(pilot)
        screen = pilot.app.screen
        tree = screen.query_one(ImageTree)
        await wait_for(pilot, lambda: len(tree.root.children) == 5 and screen.models)
        await pilot.press("down", "down")  # broken.png, then digit-0.png
        await wait_for(pilot, lambda: all(bars.probabilities for bars in screen.query_one("#bars").children))

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=pick_digit)


def test_classify_bad_file(make_app, snap_compare):
    """The broken file's one-line error where the bars were."""

    async def pick_broken(pilot):
        await header_ready(pilot)
        screen = pilot.app.screen
        tree = screen.query_one(ImageTree)
        await wait_for(pilot, lambda: len(tree.root.children) == 5 and screen.models)
        await pilot.press("down")
        await wait_for(pilot, lambda: all(bars.error for bars in screen.query_one("#bars").children))

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=pick_broken)


def test_latent_grid_with_cursor(make_app, snap_compare):
    """An 8x8 grid (large enough cells to see in half-cells) with the cursor framed on row 3, column 4."""

    async def walk(pilot):
        await header_ready(pilot)
        await pilot.press("2")
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.grid is not None)
        await screen.run_action("resize(-12)")  # one decode rather than twelve key presses
        await wait_for(pilot, lambda: screen.grid.n == 8)
        await pilot.press("down", "down", "right", "right", "right")
        await wait_for(pilot, lambda: screen.query_one(LatentGrid).cursor == (2, 3))

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=walk)


def test_train_history_playback_without_tensorflow(make_app, snap_compare, monkeypatch):
    """The install hint, and the shipped model's recorded history drawn as the live curves would be."""
    monkeypatch.setattr(TrainScreen, "PLAYBACK_INTERVAL", 0.01)

    async def play(pilot):
        await header_ready(pilot)
        await pilot.press("3")
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.state.status == "history (recorded)")

    assert snap_compare(make_app(can_train=False), terminal_size=SIZE, run_before=play)


def test_iris_form(make_app, snap_compare):
    """The four measurements and the three species' bars."""

    async def open_iris(pilot):
        await header_ready(pilot)
        await pilot.press("i")
        bars = pilot.app.screen.query_one("#iris-bars")
        await wait_for(pilot, lambda: bars.probabilities)
        pilot.app.screen.query_one("#feature-0").focus()
        pilot.app.screen.query_one("#feature-0").cursor_blink = False

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=open_iris)
