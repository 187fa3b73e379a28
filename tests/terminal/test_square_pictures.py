"""A square picture is square on screen, whatever the shape of the terminal's cells.

Half-cell pictures were drawn as if every cell were twice as tall as wide, and in boxes of a fixed
width and height: the 28x28 model input came out 1.24-1.45 times taller than wide, the decoded
digit on the latent screen 2.8 times. Here a white probe fills each picture (an all-white image,
its model input kept as it is, and a decoder that decodes every point to a white square), the
terminal's screenshot is searched for the white rectangles, and each must be square to within 10%,
in xterm (half-cells and Sixel) and kitty with fonts of different cell shapes, and in tmux.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from PIL import Image
from rig import Display, Terminal, require
from scipy import ndimage

SHOTS = Path(__file__).resolve().parents[2] / ".pytest_cache" / "square-pictures"
TOLERANCE = 0.10
# (name, terminal, its options, dl-tui's --graphics); the cells are 6x13, 9x15, 10x20, 8x19, 8x25 pixels.
FIXED_6X13 = ("-fn", "-misc-fixed-medium-r-semicondensed--13-120-75-75-c-60-iso10646-1")  # xfonts-base
FIXED_9X15 = ("-fn", "-misc-fixed-medium-r-normal--15-140-75-75-c-90-iso10646-1")
SETUPS = [
    ("xterm-halfcell-6x13", "xterm", FIXED_6X13, "halfcell"),
    ("xterm-halfcell-9x15", "xterm", FIXED_9X15, "halfcell"),
    ("xterm-sixel-9x15", "xterm", FIXED_9X15, "auto"),
    ("xterm-sixel-10x20", "xterm", ("-fa", "Monospace", "-fs", "10"), "auto"),
    ("kitty-8x19", "kitty", (), "auto"),
    ("kitty-8x25", "kitty", ("adjust_line_height=130%",), "auto"),
    ("tmux-in-xterm-9x15", "tmux", FIXED_9X15, "halfcell"),
]
SIZES = [(100, 30), (140, 45)]  # narrow and short (the boxes had fixed sizes there), and the rig's size


@pytest.fixture
def white_models(tiny_models: Path) -> Path:
    """The tiny models, with a decoder that decodes every latent point to an all-white digit."""
    path = tiny_models / "vae-decoder.onnx"
    model = onnx.load(path)
    for initializer in model.graph.initializer:
        values = numpy_helper.to_array(initializer)
        if initializer.name == "W":
            initializer.CopyFrom(numpy_helper.from_array(np.zeros_like(values), "W"))
        elif initializer.name == "b":
            initializer.CopyFrom(numpy_helper.from_array(np.full_like(values, 30.0), "b"))  # sigmoid(30) = 1
    onnx.save(model, path)
    return tiny_models


@pytest.fixture
def white_image(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("L", (280, 280), 255).save(folder / "white.png")
    return folder


def white_rectangles(shot: np.ndarray, cell: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """(x, y, width, height) in pixels of each white area at least 3 cells wide and 2 tall, left to right."""
    white = shot.min(axis=2) >= 235
    # An opening removes text (strokes a pixel or two wide), which may touch a picture's edge.
    white = ndimage.binary_opening(white, np.ones((5, 5), bool))
    labels, _ = ndimage.label(white)
    found = []
    for rows, cols in ndimage.find_objects(labels):
        width, height = cols.stop - cols.start, rows.stop - rows.start
        if width >= 3 * cell[0] and height >= 2 * cell[1]:
            found.append((cols.start, rows.start, width, height))
    # The latent grid's first digit, inside the cursor's frame, is white too: keep the whole grid.
    return sorted(box for box in found if not any(other != box and inside(box, other) for other in found))


def inside(box: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> bool:
    x, y, width, height = box
    ox, oy, other_width, other_height = other
    return ox <= x and oy <= y and x + width <= ox + other_width and y + height <= oy + other_height


def command(setup: str, graphics: str, models: Path, images: Path, server: str) -> list[str]:
    app = [sys.executable, "-c", "from tui.cli import main; main()", str(images), "--models", str(models),
           "--graphics", graphics]
    if setup.startswith("tmux"):
        # A private server, no user configuration; tmux passes the cell size on in TIOCGWINSZ.
        return ["tmux", "-L", server, "-f", "/dev/null", "new-session", *app]
    return app


def open_terminal(display: Display, kind: str, options: tuple[str, ...], argv: list[str],
                  size: tuple[int, int]) -> Terminal:
    if kind == "kitty":
        require("kitty")
        return Terminal.kitty(display, argv, *size, options=options)
    if kind == "tmux":
        require("tmux")
    return Terminal.xterm(display, argv, *size, font=options)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize(("setup", "kind", "options", "graphics"), SETUPS, ids=[setup[0] for setup in SETUPS])
def test_a_square_picture_is_square_on_screen(display, white_models, white_image, setup, kind, options, graphics,
                                              size):
    server = f"dl-tui-square-{os.getpid()}-{setup}-{size[0]}x{size[1]}"
    terminal = open_terminal(display, kind, options, command(setup, graphics, white_models, white_image, server), size)
    try:
        terminal.settle()
        cell = terminal.cell()
        terminal.keys("n", "p")  # the model input as the picture is: no centring, polarity kept (all white)
        classify = terminal.settle()
        terminal.keys("2")
        latent = terminal.settle()
    finally:
        terminal.close()
        if setup.startswith("tmux"):  # its server outlives the terminal, with the app in it
            subprocess.run(["tmux", "-L", server, "kill-server"], capture_output=True, check=False)
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = f"{setup}-{size[0]}x{size[1]}"
    Image.fromarray(classify).save(SHOTS / f"{name}-classify.png")
    Image.fromarray(latent).save(SHOTS / f"{name}-latent.png")

    pictures = {}
    found = white_rectangles(classify, cell)
    assert len(found) == 2, f"the image and the model input, found {found} (cell {cell}; see {SHOTS})"
    pictures["image"], pictures["model input"] = sorted(found, key=lambda box: box[1])  # one above the other
    found = white_rectangles(latent, cell)
    assert len(found) == 2, f"the grid and the decoded digit, found {found} (cell {cell}; see {SHOTS})"
    pictures["latent grid"], pictures["decoded digit"] = found  # left to right
    shapes = {what: round(width / height, 3) for what, (_, _, width, height) in pictures.items()}
    wrong = {what: shape for what, shape in shapes.items() if abs(shape - 1) > TOLERANCE}
    assert not wrong, f"width/height should be 1 ± {TOLERANCE}: {shapes} (cell {cell}; see {SHOTS})"

