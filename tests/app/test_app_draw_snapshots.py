"""Snapshots of the Draw screen's canvas and the Latent screen's map (half-cell graphics, 140x45 and 80x24).

Update after an intended change with: pytest tests/app/test_app_draw_snapshots.py --snapshot-update
"""

from __future__ import annotations

import numpy as np
from app_helpers import settled, wait_for
from test_app_latent_map import make_map
from test_app_snapshots import SIZES, header_ready

# A 7 with the keyboard: pen down, across the top, then down and to the left.
SEVEN = ["left"] * 6 + ["up"] * 7 + ["space"] + ["right"] * 11 + ["down", "left"] * 7 + ["down"] * 4 + ["space"]


@SIZES
def test_canvas_with_a_seven(make_app, snap_compare, size):
    """A 7 drawn with the keyboard, the 28x28 the models get, and every model's bars."""

    async def draw(pilot):
        await header_ready(pilot)
        await pilot.press("5")
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.models and screen.query_one("#draw-bars").columns())
        await pilot.press(*SEVEN)
        pixels = screen.query_one("#canvas").drawing.pixels()
        await wait_for(pilot, lambda: screen.classified is not None and np.array_equal(screen.classified, pixels))
        await settled(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=draw)


@SIZES
def test_latent_map_with_marks(make_app, tiny_models, snap_compare, size):
    """The map beside an 8x8 grid, the Classify image marked, A and B and the segment between them."""
    make_map(tiny_models)

    async def mark(pilot):
        await header_ready(pilot)
        classify = pilot.app.screen
        await wait_for(pilot, lambda: classify.models)
        await pilot.press("down")
        await wait_for(pilot, lambda: "classify" in pilot.app.latent_inputs)
        await pilot.press("2")
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.grid is not None and screen.encoded)
        await screen.run_action(f"resize({8 - screen.n})")  # from whatever n the grid starts at
        await wait_for(pilot, lambda: screen.grid.n == 8)
        await pilot.press("a", "down", "down", "down", "right", "right", "right", "right", "b", "m")
        pilot.app.clear_notifications()
        await settled(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=mark)
