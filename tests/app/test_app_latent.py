"""The Latent space screen and its grid maths: decode in one batch, move the cursor, resize, save."""

from __future__ import annotations

import numpy as np
import onnx_models
from app_helpers import SIZE, toasts, wait_for, whole_png
from PIL import Image
from textual.widgets import Static

from tui.runtime import latent
from tui.widgets.latent_grid import LatentGrid


def test_grid_points_follow_the_notebook():
    q = latent.quantiles(20)
    assert q[0] == np.float32(-1.6448536) and q[-1] == np.float32(1.6448536)
    points = latent.grid_points(3).reshape(3, 3, 2)
    q3 = latent.quantiles(3)
    # Row i, column j holds z = [q[j], q[i]], as the notebook's nested loop builds it.
    for i in range(3):
        for j in range(3):
            np.testing.assert_array_equal(points[i, j], [q3[j], q3[i]])


def test_tile_puts_each_digit_in_its_cell():
    digits = np.random.default_rng(0).random((3, 3, 28, 28), dtype=np.float32)
    picture = latent.tile(digits)
    assert picture.shape == (84, 84) and picture.dtype == np.uint8
    np.testing.assert_array_equal(picture[28:56, 56:84], np.rint(digits[1, 2] * 255).astype(np.uint8))
    framed = latent.with_cursor(picture, 1, 2)
    assert tuple(framed[28, 56]) == latent.CURSOR_RGB  # the outline, on the cell's corner
    assert tuple(framed[26, 70]) == tuple(framed[30, 70]) == latent.CURSOR_RGB  # either side of the edge
    inside = framed[31:53, 59:81]  # the digit itself keeps its own pixels: an outline, not a tint
    np.testing.assert_array_equal(inside, np.repeat(picture[31:53, 59:81, None], 3, axis=2))
    np.testing.assert_array_equal(framed[40, 40], [picture[40, 40]] * 3)  # other cells untouched


def expected_digit(row: int, col: int, n: int) -> np.ndarray:
    z = latent.grid_points(n)[row * n + col][None]
    return latent.sigmoid(onnx_models.reference("vae-decoder", z))[0, :, :, 0]


async def test_cursor_moves_and_shows_the_decoded_digit_and_the_cnns_verdict(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        screen = app.screen
        await wait_for(pilot, lambda: screen.grid is not None)
        grid = screen.query_one(LatentGrid)
        n = grid.n  # half-cells: as many as read well in the grid's box (10 at 140x45)
        assert 3 <= n <= latent.DEFAULT_N and grid.tiles.shape == (28 * n, 28 * n)
        await pilot.press("right", "right", "down")
        await wait_for(pilot, lambda: grid.cursor == (1, 2))
        np.testing.assert_allclose(screen.grid.digits[1, 2], expected_digit(1, 2, n), atol=1e-5)
        x, y = latent.grid_points(n)[1 * n + 2]
        info = str(screen.query_one("#latent-info", Static).render())
        assert f"z = ({x:+.3f}, {y:+.3f})" in info
        expected = app.runtime.predict("cnn", screen.grid.digits[1, 2][None])[0]
        bars = screen.query_one("#latent-bars")
        np.testing.assert_allclose(bars.probabilities, expected, rtol=1e-5, atol=1e-6)
        assert f"cnn says {int(np.argmax(expected))}" in info
        await pilot.press("up", "up", "left", "left", "left")  # stops at the edges
        assert grid.cursor == (0, 0)


async def test_plus_minus_change_n_and_s_saves_a_png(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        screen = app.screen
        await wait_for(pilot, lambda: screen.grid is not None)
        n = screen.grid.n
        await pilot.press("minus", "minus")
        await wait_for(pilot, lambda: screen.grid.n == n - 2)
        await pilot.press("plus")
        await wait_for(pilot, lambda: screen.grid.n == n - 1)
        await pilot.press("s")
        path = tmp_path / f"latent-grid-{n - 1}x{n - 1}-1.png"
        await wait_for(pilot, lambda: whole_png(path))
        with Image.open(path) as saved:
            assert saved.size == ((n - 1) * 28, (n - 1) * 28)


async def test_a_click_moves_the_cursor(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        screen = app.screen
        await wait_for(pilot, lambda: screen.grid is not None)
        image = screen.query_one(LatentGrid).picture
        width, height = image.content_size
        await pilot.click(image, offset=(width - 1, height - 1))
        assert screen.query_one(LatentGrid).cursor == (screen.grid.n - 1, screen.grid.n - 1)


async def test_without_a_decoder_the_screen_says_why(make_app, tiny_models):
    (tiny_models / "vae-decoder.onnx").unlink()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        info = app.screen.query_one("#latent-info", Static)
        await wait_for(pilot, lambda: "no latent grid" in str(info.render()))
        assert "vae-decoder" in str(info.render())


async def test_palette_save_from_another_screen_works_the_first_time(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.on_screen("latent", "save")  # what the palette's "save grid as PNG" runs
        await wait_for(pilot, lambda: app.screen.grid is not None)
        n = app.screen.grid.n
        path = tmp_path / f"latent-grid-{n}x{n}-1.png"
        await wait_for(pilot, lambda: whole_png(path))
        with Image.open(path) as saved:
            assert saved.size == (n * 28, n * 28)


async def test_the_grid_size_limits_are_announced(make_app):
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("2")
        screen = app.screen
        await wait_for(pilot, lambda: screen.grid is not None)
        await screen.run_action(f"resize({latent.MIN_N - latent.DEFAULT_N})")
        await wait_for(pilot, lambda: screen.grid.n == latent.MIN_N)
        await pilot.press("minus")
        await wait_for(pilot, lambda: toasts(app))
        assert toasts(app) == ["the grid is at least 2×2"] and screen.n == latent.MIN_N
        await screen.run_action(f"resize({latent.MAX_N - latent.MIN_N})")
        await wait_for(pilot, lambda: screen.grid.n == latent.MAX_N)
        await pilot.press("plus")
        await wait_for(pilot, lambda: "the grid is at most 40×40" in toasts(app))


async def test_at_80x24_the_half_cell_grid_starts_with_digits_large_enough_to_read(make_app):
    """At n=20 a half-cell digit was two cells wide and one tall at 80x24: a smear, not a digit."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        screen = app.screen
        await wait_for(pilot, lambda: screen.grid is not None)
        grid = screen.query_one(LatentGrid)
        columns, rows = grid.picture.content_size
        n = screen.grid.n
        # Each digit gets at least 8 of the picture's columns and 8 half-cell rows (4 cells).
        assert columns / n >= 8 and 2 * rows / n >= 8, (n, columns, rows)
        assert n >= 4  # and still a grid, not a few digits
        info = screen.query_one("#latent-info", Static)
        await wait_for(pilot, lambda: f"of {n}" in str(info.render()))
