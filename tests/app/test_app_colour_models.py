"""Folder models (fit stretch) in the app as the MNIST ones: a colour model's picture read and shown in
colour, its bars on a colour file, compare mode beside cnn (each model its own input), the Draw screen
(the drawing stretched, grey in every channel; only MNIST-fit models feed the latent map) and the Models
screen's lines for its preprocessing, evaluation and data set (issue 20)."""

from __future__ import annotations

import numpy as np
import onnx_models
from app_helpers import SIZE, screen_text, wait_for
from PIL import Image
from test_app_classify import columns, open_file
from test_app_draw import drag, open_canvas

from tui.runtime import Runtime, load_image
from tui.runtime.classifier import classify_image
from tui.runtime.preprocess import picture_array
from tui.screens.classify import COMPARE
from tui.screens.draw import DRAWING
from tui.widgets.bar_columns import FOLDER_OOD_WARNING, OOD_WARNING

COLOUR_SIZE = (12, 20)  # build_stretch's default: (height, width)
RED = (230, 20, 10)


def stretched(picture: Image.Image, size=COLOUR_SIZE, channels=3) -> np.ndarray:
    """A stretch model's input: picture_array / 255, [1, H, W, C]."""
    return picture_array(picture, size, channels)[None].astype(np.float32) / 255.0


def red_file(folder):
    """A red picture of another size and shape than the model's, with a dark band (not one colour)."""
    pixels = np.zeros((30, 44, 3), np.uint8)
    pixels[:] = RED
    pixels[:, :6] = (40, 40, 40)
    path = folder / "red.png"
    Image.fromarray(pixels).save(path)
    return path


def cell_colours(widget) -> list[tuple[int, int, int]]:
    """The foreground colour of each of the half-cell picture's rendered cells (the upper pixel)."""
    colours = []
    for y in range(widget.content_size.height):
        for segment in widget.render_line(y):
            if segment.text.strip() and segment.style is not None and segment.style.color is not None:
                colours += [tuple(segment.style.color.triplet)] * len(segment.text)  # simplified: a run of cells
    return colours


def reddish(colour) -> bool:
    red, green, blue = colour
    return red > 180 and green < 60 and blue < 60


async def test_a_colour_model_sees_and_shows_the_picture_in_colour(make_app, tiny_models, images):
    onnx_models.build_stretch(tiny_models, "colours", onnx_models.COLOURS)
    path = red_file(images)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.models)
        screen.select_model("colours")
        await open_file(pilot, screen, "red.png")
        await wait_for(pilot, lambda: screen.current == path and columns(screen)["colours"].probabilities)
        # Its bars are the model's on the colour file: what onnxruntime gives for picture_array / 255.
        expected = onnx_models.reference_stretch(COLOUR_SIZE, 3, 3, stretched(load_image(path, colour=True)))[0]
        bars = columns(screen)["colours"]
        np.testing.assert_allclose(bars.probabilities, expected, rtol=1e-5, atol=1e-6)
        assert bars.labels[int(np.argmax(bars.probabilities))] == "red" and max(bars.probabilities) > 0.9
        # Read grey, every channel equal, the three classes would be nearly even.
        grey = onnx_models.reference_stretch(COLOUR_SIZE, 3, 3, stretched(load_image(path)))[0]
        assert max(grey) < 0.5
        # The file's picture, and the model's input, are colour: the image each widget holds and its cells.
        original, model_input = screen.query_one("#original"), screen.query_one("#model-input")
        assert reddish(original.image.getpixel((original.image.width - 2, original.image.height // 2)))
        assert model_input.image.getpixel((model_input.image.width - 5, 5)) == tuple(
            picture_array(load_image(path, colour=True), COLOUR_SIZE, 3)[0, -1])
        assert reddish(model_input.image.getpixel((model_input.image.width - 5, 5)))
        assert str(model_input.border_title) == "model input 20×12"
        assert sum(map(reddish, cell_colours(original))) > len(cell_colours(original)) / 2
        assert sum(map(reddish, cell_colours(model_input))) > len(cell_colours(model_input)) / 2


async def test_compare_mode_gives_each_model_its_own_input(make_app, tiny_models, images):
    """cnn beside a colour folder model: cnn's 28x28 MNIST input, the colour model's 20x12 colour one,
    each model's bars what classify_image gives (as `dl-tui classify -m all`), from one colour read."""
    onnx_models.build_stretch(tiny_models, "colours", onnx_models.COLOURS)
    red_file(images)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.models)
        screen.select_model(COMPARE)
        for name in ("digit-0.png", "red.png"):
            await open_file(pilot, screen, name)
            file = images / name
            await wait_for(pilot, lambda file=file: screen.current == file
                           and all(column.probabilities for column in columns(screen).values()))
            runtime = Runtime(tiny_models, device="cpu")
            expected = classify_image(runtime, screen.models, load_image(file, colour=True), None, None)
            for result in expected:
                np.testing.assert_allclose(columns(screen)[result.model].probabilities, result.probabilities,
                                           rtol=1e-5, atol=1e-6, err_msg=f"{result.model} on {name}")
            shapes = set()
            for model in ("cnn", "colours"):
                screen.select_model(model)
                shapes.add(screen.model_input.shape)
                await pilot.pause()
                assert str(screen.query_one("#model-input").border_title).startswith(
                    "model input 28×28" if model == "cnn" else "model input 20×12")
            screen.select_model(COMPARE)
            assert shapes == {(28, 28), (*COLOUR_SIZE, 3)}
        # The latent map still gets the MNIST input of the file shown.
        assert app.latent_inputs["classify"][0] == "red.png"
        assert app.latent_inputs["classify"][1].shape == (28, 28)


async def test_a_flagged_folder_model_says_not_like_its_training_images(make_app, tiny_models, images):
    calibrated = {"method": "max-softmax", "threshold": 0.5, "false_flag_rate": 0.05}
    onnx_models.build_stretch(tiny_models, "colours", onnx_models.COLOURS, ood=calibrated)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.models)
        screen.select_model("colours")
        await open_file(pilot, screen, "digit-0.png")  # grey: the three colours nearly even
        await wait_for(pilot, lambda: columns(screen)["colours"].warning)
        assert columns(screen)["colours"].warning == FOLDER_OOD_WARNING != OOD_WARNING
        await wait_for(pilot, lambda: "⚠ this does not look like its" in screen_text(app))


async def test_draw_gives_folder_models_the_drawing_and_the_latent_map_only_mnist_inputs(make_app, tiny_models,
                                                                                         tmp_path):
    """A drawing is grey: a colour model gets it in every channel, stretched to its size; a 28x28 grey
    stretch model classifies it too, but does not stand in for MNIST on the latent map."""
    folder = tmp_path / "folder-models"
    folder.mkdir()
    onnx_models.build_stretch(folder, "colours", onnx_models.COLOURS)
    onnx_models.build_stretch(folder, "stripes", ["left", "middle", "right"], size=(28, 28), channels=1)
    app = make_app(models=folder)
    async with app.run_test(size=SIZE) as pilot:
        screen, canvas = await open_canvas(pilot)
        await drag(pilot, canvas, [(0.8, 0.2), (0.8, 0.5), (0.8, 0.8)])  # a stroke down the right
        await wait_for(pilot, lambda: screen.classified is not None and np.array_equal(screen.classified, screen.pixels)
                       and screen.pixels.any())
        bars = dict(zip([info.name for info in screen.models],
                        screen.query_one("#draw-bars").columns().values(), strict=True))
        drawing = Image.fromarray(screen.pixels)
        np.testing.assert_allclose(bars["colours"].probabilities,
                                   onnx_models.reference_stretch(COLOUR_SIZE, 3, 3, stretched(drawing))[0],
                                   rtol=1e-5, atol=1e-6)
        stripes = onnx_models.reference_stretch((28, 28), 1, 3, stretched(drawing, (28, 28), 1))[0]
        np.testing.assert_allclose(bars["stripes"].probabilities, stripes, rtol=1e-5, atol=1e-6)
        assert bars["stripes"].labels[int(np.argmax(bars["stripes"].probabilities))] == "right"
        assert DRAWING not in app.latent_inputs
        assert screen.query_one("#draw-input").image.size == (200, 120)  # the first model's, colours' 20x12


async def test_draw_feeds_the_latent_map_with_an_mnist_model(make_app, tiny_models):
    onnx_models.build_stretch(tiny_models, "stripes", ["left", "middle", "right"], size=(28, 28), channels=1)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen, canvas = await open_canvas(pilot)
        await drag(pilot, canvas, [(0.5, 0.2), (0.5, 0.8)])
        await wait_for(pilot, lambda: DRAWING in app.latent_inputs)
        from tui.runtime import to_model_input

        np.testing.assert_array_equal(app.latent_inputs[DRAWING][1],
                                      to_model_input(Image.fromarray(screen.classified), "auto", True))


async def test_models_screen_describes_a_folder_model(make_app, tiny_models):
    onnx_models.build_stretch(tiny_models, "colours", onnx_models.COLOURS)
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("4")
        screen = app.screen
        await wait_for(pilot, lambda: screen.rows)
        table = screen.query_one("#models-table")
        row = next(i for i, row in enumerate(screen.rows) if getattr(row, "name", None) == "colours")
        table.move_cursor(row=row)
        await wait_for(pilot, lambda: "colours: Tiny test folder model" in screen_text(app))
        text = screen_text(app)
        assert "test metrics: acc 100.00% macro-F1 100.00%" in text
        assert ("preprocessing: 20×12 colour (channels 3) · fit stretch: the whole picture, resized bilinear"
                " · pixels / 255") in text
        assert "evaluation: 6 test images · accuracy 100.00% · macro-F1 100.00% · lowest F1 100.00% (blue)" in text
        assert ("dataset: folder · 3 classes · 24 train · 6 val · 6 test · 0 skipped · split by dl-train"
                " · from /nowhere") in text
        assert "labels: blue, green, red" in text
