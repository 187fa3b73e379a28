"""The Classify screen: browsing images moves the bars to the runtime's numbers; errors replace the bars."""

from __future__ import annotations

import numpy as np
import onnx_models
from app_helpers import SIZE, screen_text, wait_for
from textual.widgets import Select, Static

from tui.runtime import load_image, prepare, to_model_input
from tui.screens.classify import COMPARE, ClassifyScreen
from tui.widgets.file_browser import ImageTree
from tui.widgets.iris_form import IrisForm
from tui.widgets.probabilities import ProbabilityBars


def columns(screen: ClassifyScreen) -> dict[str, ProbabilityBars]:
    """Each digit model's bars, by model name."""
    return {info.name: bars for info, bars in zip(screen.models, screen.query_one("#bars").query(ProbabilityBars), strict=False)}


async def open_file(pilot, screen: ClassifyScreen, name: str) -> None:
    """Move the tree's cursor down to a file, as a user would."""
    tree = screen.query_one(ImageTree)
    await wait_for(pilot, lambda: len(tree.root.children) > 0 and screen.models)
    for _ in range(20):
        node = tree.cursor_node
        if node is not None and node.data is not None and node.data.path.name == name:
            return
        await pilot.press("down")
    raise AssertionError(f"{name} not in the tree")


async def test_selecting_a_file_shows_each_models_probabilities(make_app, images):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await open_file(pilot, screen, "digit-0.png")
        await wait_for(pilot, lambda: all(b.probabilities for b in columns(screen).values()))
        assert screen.model == COMPARE
        x = prepare(images / "digit-0.png")[None]
        for name, bars in columns(screen).items():
            expected = app.runtime.predict(name, x)[0]
            np.testing.assert_allclose(bars.probabilities, expected, rtol=1e-5, atol=1e-6)
            assert bars.labels == tuple(str(d) for d in range(10))
            assert bars.display
        assert columns(screen)["cnn"].top == 4  # the tiny nearest-centroid model gets this one right
        assert screen.query_one("#original").image is not None
        assert screen.query_one("#model-input").image is not None


async def test_one_model_at_a_time_and_binarised_input_for_the_vae(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await open_file(pilot, screen, "digit-1.png")
        await wait_for(pilot, lambda: screen.model_input is not None)
        screen.query_one("#model-select", Select).value = "vae-classifier"
        await pilot.pause()
        shown = {name for name, bars in columns(screen).items() if bars.display}
        assert shown == {"vae-classifier"}
        assert "binarised" in str(screen.query_one("#model-input").border_title)
        await pilot.press("c")
        assert screen.model == COMPARE
        assert all(bars.display for bars in columns(screen).values())


async def test_a_black_on_white_model_gets_its_input_inverted(make_app, tiny_models, images):
    onnx_models.build_black_on_white(tiny_models)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await open_file(pilot, screen, "digit-0.png")
        await wait_for(pilot, lambda: all(b.probabilities for b in columns(screen).values()))
        # The same numbers as the cnn: the runtime inverted the input for this model.
        bars = columns(screen)
        np.testing.assert_allclose(bars["cnn-bow"].probabilities, bars["cnn"].probabilities, atol=1e-5)
        assert bars["cnn-bow"].top == 4
        screen.select_model("cnn-bow")
        assert str(screen.query_one("#model-input").border_title) == "model input 28×28 inverted"


async def test_polarity_and_normalisation_keys_reclassify(make_app, images):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await open_file(pilot, screen, "inverted.png")
        path = images / "inverted.png"
        await wait_for(pilot, lambda: screen.model_input is not None)
        auto = screen.model_input.copy()
        await pilot.press("p")  # auto -> keep: the dark-on-light digit is no longer inverted
        await wait_for(pilot, lambda: not np.array_equal(screen.model_input, auto))
        np.testing.assert_allclose(screen.model_input, prepare(path, polarity="keep"))
        await pilot.press("p", "n")  # invert, and no MNIST centring
        await wait_for(pilot, lambda: np.allclose(screen.model_input, prepare(path, "invert", normalize=False)))
        expected = app.runtime.predict("cnn", prepare(path, "invert", normalize=False)[None])[0]
        await wait_for(pilot, lambda: np.allclose(columns(screen)["cnn"].probabilities, expected, atol=1e-6))


async def test_a_bad_file_shows_its_error_in_place_of_the_bars(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await open_file(pilot, screen, "broken.png")
        error = screen.query_one("#file-error", Static)
        await wait_for(pilot, lambda: error.display)
        assert str(error.render()).startswith("⚠ broken.png: ")
        assert not screen.query_one("#bars").display  # one reason, not one per model


async def test_a_bad_file_shows_the_whole_reason_and_keeps_the_picture_box(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await open_file(pilot, screen, "digit-0.png")
        await wait_for(pilot, lambda: all(b.probabilities for b in columns(screen).values()))
        await pilot.pause()
        box = screen.query_one("#original").outer_size
        await pilot.press("up")  # back to broken.png
        error = screen.query_one("#file-error", Static)
        await wait_for(pilot, lambda: error.display)
        await pilot.pause()
        assert screen.query_one("#original").outer_size == box
        shown = screen_text(app).split()
        assert all(word in shown for word in str(error.render()).split())  # all of it, wrapped
        assert error.region.bottom <= screen.query_one("#predictions").region.bottom
        await pilot.press("down")
        await wait_for(pilot, lambda: not error.display and screen.query_one("#bars").display)


async def test_file_names_are_shown_literally(make_app, images):
    (images / "[bold]x\x1b[31m.png").write_bytes((images / "digit-0.png").read_bytes())
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        tree = app.screen.query_one(ImageTree)
        await wait_for(pilot, lambda: len(tree.root.children) > 0)
        labels = [str(node.label) for node in tree.root.children]
        assert "[bold]x\\x1b[31m.png" in labels
        assert not any("\x1b" in label for label in labels)


async def test_start_path_can_be_a_file(make_app, images):
    app = make_app(start=images / "digit-2.png")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: columns(screen) and columns(screen)["cnn"].probabilities)
        expected = app.runtime.predict("cnn", prepare(images / "digit-2.png")[None])[0]
        np.testing.assert_allclose(columns(screen)["cnn"].probabilities, expected, rtol=1e-5, atol=1e-6)


async def test_iris_bars_follow_the_measurements(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")
        pane = app.screen.query_one("#iris")
        bars = pane.query_one("#iris-bars", ProbabilityBars)
        await wait_for(pilot, lambda: bars.probabilities)
        assert bars.labels == ("setosa", "versicolor", "virginica")
        field = pane.query_one("#feature-2")
        field.focus()
        field.value = ""
        await pilot.press("1", ".", "4")  # a setosa's petal length
        await pilot.press("shift+down")
        assert field.value == "0.4"
        features = np.array([[5.9, 2.8, 0.4, 1.3]], np.float32)
        expected = app.runtime.predict("iris", features)[0]
        await wait_for(pilot, lambda: np.allclose(bars.probabilities, expected, atol=1e-6))


def test_iris_labels_name_the_unit_once():
    form = IrisForm(["sepal length (cm)", "petal width"], "cm")
    assert form.label("sepal length (cm)") == "sepal length (cm)"  # the shipped model's names
    assert form.label("petal width") == "petal width (cm)"


async def test_models_of_other_sizes_and_channels_get_the_image_at_theirs(make_app, tiny_models, images):
    # A grey 20x16 model and a colour 12x12 one beside the 28x28 ones: each gets the picture as its
    # metadata says (before, every model got 28x28 and these two showed an error in their columns).
    onnx_models.build_sized(tiny_models, (20, 16))
    onnx_models.build_sized(tiny_models, (12, 12), channels=3)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await open_file(pilot, screen, "digit-0.png")
        assert {"digits-20x16", "digits-12x12-rgb"} <= set(columns(screen))
        await wait_for(pilot, lambda: all(b.probabilities for b in columns(screen).values()))
        grey = load_image(images / "digit-0.png")
        for name, size, channels in (("digits-20x16", (20, 16), 1), ("digits-12x12-rgb", (12, 12), 3)):
            x = to_model_input(grey, size=size)[None]
            np.testing.assert_allclose(columns(screen)[name].probabilities,
                                       onnx_models.reference_sized(size, channels, x)[0], rtol=1e-5, atol=1e-6)
            assert columns(screen)[name].top == 4
        np.testing.assert_allclose(columns(screen)["cnn"].probabilities,
                                   app.runtime.predict("cnn", prepare(images / "digit-0.png")[None])[0],
                                   rtol=1e-5, atol=1e-6)
        screen.query_one("#model-select", Select).value = "digits-20x16"
        await wait_for(pilot, lambda: screen.model_input is not None and screen.model_input.shape == (20, 16))
        assert str(screen.query_one("#model-input").border_title) == "model input 16×20"
        screen.query_one("#model-select", Select).value = "cnn"
        await wait_for(pilot, lambda: screen.model_input.shape == (28, 28))
        assert str(screen.query_one("#model-input").border_title) == "model input 28×28"
        assert app.latent_inputs["classify"][1].shape == (28, 28)  # the latent map's encoder takes MNIST's size
