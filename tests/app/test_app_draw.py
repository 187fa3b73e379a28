"""Draw a digit: the brush, mouse and keyboard strokes, undo and clear, live bars, and a saved PNG that
`dl-tui classify` reads back to the same prediction."""

from __future__ import annotations

import json

import numpy as np
from app_helpers import SIZE, wait_for, whole_png
from click.testing import CliRunner
from PIL import Image

from tui.classify import app as classify_app
from tui.runtime import prepare, to_model_input
from tui.widgets.canvas import Drawing, DrawingCanvas


def test_brush_draws_soft_strokes_about_three_pixels_wide():
    drawing = Drawing()
    drawing.stroke((4.0, 14.0), (24.0, 14.0))  # a horizontal stroke through row 14's centre
    pixels = drawing.pixels()
    column = pixels[:, 14].astype(int)
    assert column[14] == 255 and column[13] == 255  # solid in the middle
    inked = column[column > 0]
    assert 3 <= len(inked) <= 5  # about MNIST's width, with soft edges
    assert 0 < inked.min() < 200  # antialiased: the edges are grey, not black or white
    assert pixels[:, :2].max() == 0 and pixels[:5].max() == 0  # nothing far from the stroke


def test_undo_and_clear():
    drawing = Drawing()
    drawing.checkpoint()
    drawing.stroke((5, 5), (20, 20))
    first = drawing.pixels()
    drawing.checkpoint()
    drawing.stroke((5, 20), (20, 5))
    drawing.clear()
    assert drawing.empty
    assert drawing.undo() and not drawing.empty  # the clear taken back: the cross again
    assert drawing.undo()
    np.testing.assert_array_equal(drawing.pixels(), first)
    assert drawing.undo() and drawing.empty and not drawing.undo()


async def drag(pilot, widget, points: list[tuple[float, float]]) -> None:
    """Press at the first point, move through the rest, release: points are fractions of the widget."""
    width, height = widget.content_region.width, widget.content_region.height
    cells = [(min(width - 1, int(x * width)), min(height - 1, int(y * height))) for x, y in points]
    await pilot.mouse_down(widget, offset=cells[0])
    for cell in cells[1:]:
        await pilot.hover(widget, offset=cell)
    await pilot.mouse_up(widget, offset=cells[-1])


async def open_canvas(pilot):
    await pilot.press("5")
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.models and screen.query_one("#draw-bars").columns())
    return screen, screen.query_one(DrawingCanvas)


async def test_mouse_strokes_update_every_models_bars_and_s_saves_a_png_classify_agrees_with(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen, canvas = await open_canvas(pilot)
        assert canvas.drawing.empty and not screen.check_action("save", ())
        # A 7: across the top, then down to the lower left.
        await drag(pilot, canvas.picture, [(0.3, 0.25), (0.5, 0.25), (0.7, 0.25), (0.6, 0.5), (0.45, 0.8)])
        assert not canvas.drawing.empty
        pixels = canvas.drawing.pixels()
        assert pixels[7].max() == 255  # the top stroke, row 7 of 28
        columns = screen.query_one("#draw-bars").columns()
        await wait_for(pilot, lambda: screen.classified is not None and np.array_equal(screen.classified, pixels)
                       and all(column.probabilities for column in columns.values()))
        model_input = to_model_input(Image.fromarray(pixels))
        for name, column in columns.items():
            expected = app.runtime.predict(name, model_input[None])[0]
            np.testing.assert_allclose(column.probabilities, expected, rtol=1e-5, atol=1e-6)
        assert "drawing" in app.latent_inputs  # the latent map marks it

        await pilot.press("s")
        path = tmp_path / "drawing-1.png"
        await wait_for(pilot, lambda: whole_png(path))
        np.testing.assert_array_equal(np.asarray(Image.open(path)), pixels)
        shown = {name: int(np.argmax(column.probabilities)) for name, column in columns.items()}
        for name in columns:  # the runtime reads the file back to the same prediction
            assert int(np.argmax(app.runtime.predict(name, prepare(path)[None])[0])) == shown[name]

        # ...and so does `dl-tui classify`, with its defaults.
        result = CliRunner().invoke(classify_app, [str(path), "--models", str(app.runtime.folders[0]),
                                                   "--model", "all", "--format", "jsonl"])
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        for row in rows:
            labels = app.runtime.info(row["model"]).labels
            assert row["label"] == labels[shown[row["model"]]]
        assert {row["model"] for row in rows} == set(columns)

        await pilot.press("s")  # a second save never overwrites the first
        await wait_for(pilot, lambda: whole_png(tmp_path / "drawing-2.png"))


async def test_keyboard_draws_and_undo_clear(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen, canvas = await open_canvas(pilot)
        assert app.focused is canvas
        await pilot.press("space", *["down"] * 6, "space", *["right"] * 3)  # a line down, then a move
        pixels = canvas.drawing.pixels()
        assert canvas.cursor == (17, 20) and not canvas.pen_down
        assert pixels[14:21, 14].min() == 255 and pixels[14:21, 17].max() == 0
        await wait_for(pilot, lambda: screen.classified is not None and np.array_equal(screen.classified, pixels))
        await pilot.press("space", "up", "up", "space")  # a second stroke
        assert canvas.drawing.pixels()[18, 17] == 255
        await pilot.press("u")
        np.testing.assert_array_equal(canvas.drawing.pixels(), pixels)
        await pilot.press("c")
        assert canvas.drawing.empty
        await wait_for(pilot, lambda: screen.classified is not None and not screen.classified.any())
        assert not any(column.probabilities for column in screen.query_one("#draw-bars").columns().values())
        assert "drawing" not in app.latent_inputs
        await pilot.press("u")  # the clear is undone too
        np.testing.assert_array_equal(canvas.drawing.pixels(), pixels)


async def test_ood_warning_shows_above_the_bars_when_a_model_flags_the_drawing(make_app, tiny_models):
    import onnx_models

    # max-softmax with threshold 0 flags every image the model is less than sure of: the warning shows.
    onnx_models.build("cnn", tiny_models, ood={"method": "max-softmax", "threshold": 0.0})
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen, canvas = await open_canvas(pilot)
        warning = screen.query_one("#draw-warning")
        assert not warning.display
        await drag(pilot, canvas.picture, [(0.5, 0.2), (0.5, 0.5), (0.5, 0.8)])
        await wait_for(pilot, lambda: warning.display)
        text = str(warning.render())
        assert "does not look like a digit" in text and "cnn " in text and "> 0.00" in text
        assert "cnn-invert" not in text  # no calibration in its metadata: never flagged
        await pilot.press("c")
        await wait_for(pilot, lambda: not warning.display)


async def test_models_of_other_sizes_and_channels_get_the_drawing_at_theirs(make_app, tiny_models):
    import onnx_models

    # Before, every model got the 28x28 input and these two showed an error in their columns.
    onnx_models.build_sized(tiny_models, (20, 16))
    onnx_models.build_sized(tiny_models, (12, 12), channels=3)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen, canvas = await open_canvas(pilot)
        await drag(pilot, canvas.picture, [(0.3, 0.25), (0.5, 0.25), (0.7, 0.25), (0.6, 0.5), (0.45, 0.8)])
        pixels = canvas.drawing.pixels()
        columns = screen.query_one("#draw-bars").columns()
        assert {"digits-20x16", "digits-12x12-rgb"} <= set(columns)
        await wait_for(pilot, lambda: screen.classified is not None and np.array_equal(screen.classified, pixels)
                       and all(column.probabilities for column in columns.values()))
        for name, column in columns.items():
            size = app.runtime.info(name).preprocessing.size
            model_input = to_model_input(Image.fromarray(pixels), size=size)
            expected = app.runtime.predict(name, model_input[None])[0]
            np.testing.assert_allclose(column.probabilities, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(columns["digits-20x16"].probabilities, onnx_models.reference_sized(
            (20, 16), 1, to_model_input(Image.fromarray(pixels), size=(20, 16))[None])[0], rtol=1e-5, atol=1e-6)
        assert app.latent_inputs["drawing"][1].shape == (28, 28)  # the latent map's encoder takes MNIST's size
