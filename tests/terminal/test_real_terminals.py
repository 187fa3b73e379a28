"""`dl-tui` in real terminals under Xvfb: the pixels on screen, not Textual's idea of them.

xterm draws Sixel pictures; kitty 0.26 has Kitty graphics but not the Unicode placeholders
textual-image needs, so it must get half-cells, never placeholder glyphs. Where a picture should be,
the screenshot is compared with the image it should show; after switching screens and moving the
latent cursor, the screen must be what it was before, pixel for pixel.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import numpy as np
import onnx_models
import pytest
from PIL import Image
from pilot_wait import wait_for
from rig import Terminal, grey, require, similarity

from tui.app import DlTuiApp
from tui.runtime import Runtime
from tui.runtime.preprocess import prepare
from tui.widgets.latent_grid import LatentGrid
from tui.widgets.picture import shown_region

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def digit_folder(tmp_path: Path) -> Path:
    """One large dark-on-light digit, the kind of file people classify."""
    folder = tmp_path / "images"
    folder.mkdir()
    digits, _ = onnx_models.mnist_sample()
    picture = Image.fromarray(255 - digits[0]).resize((280, 280), Image.Resampling.BILINEAR)
    picture.save(folder / "digit.png")
    return folder


def dl_tui(*args: object) -> list[str]:
    return [sys.executable, "-c", "from tui.cli import main; main()", *map(str, args)]


def content_regions(models: Path, images: Path, size: tuple[int, int], graphics: str, cell: tuple[int, int],
                    monkeypatch, help_too: bool = False) -> dict[str, tuple[int, int, int, int]]:
    """Where each picture's content lies, in cells: the same app at the same size, headless
    (and the `?` dialog's outer region, with `help_too`)."""
    monkeypatch.setattr("tui.terminal.cell_size", lambda: cell)

    async def measure() -> dict[str, tuple[int, int, int, int]]:
        app = DlTuiApp(Runtime(models, device="cpu", interactive=True), images, graphics=graphics)
        async with app.run_test(size=size) as pilot:
            for _ in range(100):
                await pilot.pause(0.05)
                if app.query_one("#model-input").image is not None:
                    break
            await pilot.pause(0.2)
            regions = {}
            for name in ("original", "model-input"):  # the picture, centred in a box wider for its title
                widget = app.query_one(f"#{name}")
                regions[name] = tuple(shown_region(widget).translate(widget.content_region.offset))
            if help_too:
                await pilot.press("question_mark")
                await pilot.pause(0.3)
                regions["help"] = tuple(app.screen.query_one("#help").region)
            return regions

    return asyncio.run(measure())


def crop(shot: np.ndarray, region: tuple[int, int, int, int], cell: tuple[int, int]) -> np.ndarray:
    x, y, width, height = region
    return shot[y * cell[1]:(y + height) * cell[1], x * cell[0]:(x + width) * cell[0]]


def changed(before: np.ndarray, after: np.ndarray) -> float:
    """The share of pixels that differ visibly."""
    return float(np.mean(np.abs(before.astype(int) - after.astype(int)).max(axis=2) > 40))


@pytest.fixture
def xterm(display, tiny_models, digit_folder):
    terminal = Terminal.xterm(display, dl_tui(digit_folder, "--models", tiny_models))
    yield terminal
    terminal.close()


def test_sixel_pictures_show_their_images_with_no_band(xterm, tiny_models, digit_folder, monkeypatch):
    shot = xterm.settle()
    cell = xterm.cell()
    regions = content_regions(tiny_models, digit_folder, (xterm.columns, xterm.rows), "sixel", cell, monkeypatch)
    original = grey(crop(shot, regions["original"], cell))
    source = np.asarray(Image.open(digit_folder / "digit.png").convert("L"), dtype=np.float32) / 255.0
    assert similarity(original, source) > 0.95
    # The band was a quarter of the picture in the wrong colour: the top rows must match the image.
    top = original[: original.shape[0] // 4]
    expected_top = np.asarray(Image.fromarray((source * 255).astype(np.uint8)).resize(
        (original.shape[1], original.shape[0]), Image.Resampling.BOX), dtype=np.float32)[: top.shape[0]] / 255.0
    assert np.abs(top - expected_top).mean() < 0.08
    model_input = grey(crop(shot, regions["model-input"], cell))
    assert similarity(model_input, prepare(digit_folder / "digit.png"), size=28) > 0.95


def test_switching_screens_and_moving_the_latent_cursor_leave_nothing_behind(xterm):
    classify = xterm.settle()
    xterm.keys("2")
    latent = xterm.settle()
    assert changed(classify, latent) > 0.05  # the latent grid really was drawn
    xterm.keys("Right")
    moved = xterm.settle()
    assert changed(latent, moved) > 0.0005  # the cursor moved
    xterm.keys("Left")
    assert changed(latent, xterm.settle()) < 0.0005
    xterm.keys("1")
    assert changed(classify, xterm.settle()) < 0.0005


def test_a_dialog_over_pictures_hides_them_and_closing_it_brings_them_back(xterm, tiny_models, digit_folder,
                                                                           monkeypatch):
    """Under a dialog Textual dims the screen below; Sixel data drawn through that filter showed as text."""
    before = xterm.settle()
    cell = xterm.cell()
    regions = content_regions(tiny_models, digit_folder, (xterm.columns, xterm.rows), "sixel", cell, monkeypatch,
                              help_too=True)
    xterm.keys("question")
    under = grey(xterm.settle())
    # The model input's rows, right of the dialog: empty on this screen. Sixel bytes printed as
    # text started right after each picture row, where the dialog no longer covers them.
    _, top, _, height = regions["model-input"]
    help_x, _, help_width, _ = regions["help"]
    beside = under[top * cell[1]:(top + height) * cell[1], (help_x + help_width) * cell[0]:]
    assert beside.size and np.mean(beside > 0.3) < 0.001
    xterm.keys("Escape")
    assert changed(before, xterm.settle()) < 0.0005


def test_kitty_without_unicode_placeholders_gets_half_cells_not_glyphs(display, tiny_models, digit_folder,
                                                                      monkeypatch):
    require("kitty")
    terminal = Terminal.kitty(display, dl_tui(digit_folder, "--models", tiny_models))
    try:
        shot = terminal.settle()
        cell = terminal.cell()
        regions = content_regions(tiny_models, digit_folder, (terminal.columns, terminal.rows), "halfcell",
                                  cell, monkeypatch)
    finally:
        terminal.close()
    original = grey(crop(shot, regions["original"], cell))
    source = np.asarray(Image.open(digit_folder / "digit.png").convert("L"), dtype=np.float32) / 255.0
    assert similarity(original, source, size=8) > 0.9


def test_the_latent_maps_legend_has_the_pictures_colours(display, monkeypatch):
    """xterm says TERM=xterm, which Rich reads as 16 colours: the legend named ten digits with
    seven colours (1 and 3 both red), none of them the Sixel picture's. Each digit in the legend
    must now be nearest its own colour on the map."""
    from tui.runtime.latent import DIGIT_RGB

    monkeypatch.delenv("COLORTERM", raising=False)  # as in a plain xterm
    models, images = ROOT / "exported", ROOT / "images"
    terminal = Terminal.xterm(display, dl_tui(images, "--models", models))
    try:
        terminal.settle()
        terminal.keys("2")
        terminal.settle()  # the Latent screen is up before `m` asks it for the map
        terminal.keys("m")
        shot = terminal.settle()
        cell = terminal.cell()
    finally:
        terminal.close()
    monkeypatch.setattr("tui.terminal.cell_size", lambda: cell)

    async def legend_region() -> tuple[int, int, int, int]:
        app = DlTuiApp(Runtime(models, device="cpu", interactive=True), images, graphics="sixel")
        async with app.run_test(size=(terminal.columns, terminal.rows)) as pilot:
            # As on the screenshot: the first image is classified, so the map marks it (a legend line).
            await wait_for(pilot, lambda: "classify" in app.latent_inputs, timeout=20)
            await pilot.press("2", "m")
            legend = app.screen.query_one("#map-legend")
            await wait_for(pilot, lambda: legend.region.height and "1-serif" in str(legend.render())
                           and "decoded digit" in str(legend.render()), timeout=20)
            return tuple(legend.content_region)

    x, y, _, _ = asyncio.run(legend_region())
    for digit in range(len(DIGIT_RGB)):
        glyph = crop(shot, (x + 2 * digit, y, 1, 1), cell).reshape(-1, 3).astype(float)
        ink = glyph[glyph.sum(axis=1) >= np.percentile(glyph.sum(axis=1), 90)].mean(axis=0)  # the stroke, not the edge
        nearest = int(np.argmin(np.abs(DIGIT_RGB.astype(float) - ink).sum(axis=1)))
        assert nearest == digit, f"legend {digit} is drawn in {ink.round()}, nearest digit {nearest}'s colour"


@pytest.mark.parametrize("kind", ["xterm", "kitty"])
def test_a_click_on_the_latent_grid_moves_its_cursor(display, tiny_models, digit_folder, monkeypatch, kind):
    """The mouse in real terminals: a click on a grid cell shows the same screen as walking there with keys.

    The rig's xterm used to run with `allowSendEvents` (for synthetic keys), which turns off
    xterm's `allowMouseOps`: no mouse report reached the app. Keys and clicks now come through XTEST.
    """
    require(kind)
    argv = dl_tui(digit_folder, "--models", tiny_models)
    terminal = Terminal.xterm(display, argv) if kind == "xterm" else Terminal.kitty(display, argv)
    graphics = "sixel" if kind == "xterm" else "halfcell"
    try:
        terminal.settle()
        cell = terminal.cell()
        terminal.keys("2")
        terminal.settle()
        monkeypatch.setattr("tui.terminal.cell_size", lambda: cell)

        async def grid_layout() -> tuple[tuple[int, int, int, int], int]:
            app = DlTuiApp(Runtime(tiny_models, device="cpu", interactive=True), digit_folder, graphics=graphics)
            async with app.run_test(size=(terminal.columns, terminal.rows)) as pilot:
                await pilot.press("2")
                await wait_for(pilot, lambda: getattr(app.screen, "grid", None) is not None, timeout=20)
                await pilot.pause(0.2)
                grid = app.screen.query_one(LatentGrid)
                picture = grid.picture
                return tuple(shown_region(picture).translate(picture.content_region.offset)), grid.n

        (x, y, width, height), n = asyncio.run(grid_layout())
        row, col = n // 3, (2 * n) // 3
        # The cell (in text cells) over the middle of grid cell (row, col), and where the app maps it back.
        cell_x, cell_y = int((col + 0.5) * width / n), int((row + 0.5) * height / n)
        expected = (cell_y * n // height, cell_x * n // width)
        assert expected != (0, 0)
        terminal.click(int((x + cell_x + 0.5) * cell[0]), int((y + cell_y + 0.5) * cell[1]))
        clicked = terminal.settle()
        terminal.keys("Home", *["Down"] * expected[0], *["Right"] * expected[1], pause=0.1)
        walked = terminal.settle()
    finally:
        terminal.close()
    assert changed(clicked, walked) < 0.0005, f"the click did not put the cursor on {expected}"
