"""Models off the contract in the app: it keeps running, says which models it left out and why
(Models, Classify, Draw), and a model whose probabilities are wrong shows its error in its column."""

from __future__ import annotations

import onnx_models
from app_helpers import SIZE, screen_text, wait_for
from PIL import Image

from tui.app import DlTuiApp
from tui.runtime import Runtime

UNUSABLE = {"cnn-1d": "its output 'probabilities' is [N] (1-d)",
            "cnn-3d": "its output 'probabilities' is [N, 10, 1] (3-d)",
            "cnn-string": "its output 'probabilities' is tensor(string)"}


async def test_the_app_leaves_unusable_models_out_and_says_why_on_every_screen(tmp_path):
    models = tmp_path / "models"
    onnx_models.build("cnn", models)
    for name in UNUSABLE:
        onnx_models.build_variant(name.removeprefix("cnn-"), models)
    onnx_models.build_variant("scores", models)  # loads, but its "probabilities" are raw scores
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(onnx_models.mnist_sample()[0][0]).save(images / "four.png")
    app = DlTuiApp(Runtime(models, device="cpu", interactive=True), images, graphics="halfcell",
                   save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "model produced a " in screen_text(app))  # cnn-scores' column
        classify = screen_text(app)
        await pilot.press("4")
        await wait_for(pilot, lambda: screen_text(app).count("unusable") >= 3)
        table = screen_text(app)
        shown = {}
        for _ in range(6):
            text = screen_text(app)
            shown.update({name: text for name, reason in UNUSABLE.items() if f"unusable: {reason}" in text})
            await pilot.press("down")
            await pilot.pause()
        await pilot.press("5", "space", "down", "down", "space")
        await wait_for(pilot, lambda: "cnn: " in screen_text(app))
        draw = screen_text(app)
    for name in UNUSABLE:
        # The line wraps in the column: its start here, the whole reason on the Models screen.
        assert f"⚠ skipped model {name}, unusable: its output" in classify
        assert f"⚠ skipped model {name}, unusable: its output" in draw
        assert name in table and name in shown
    assert "cnn-scores" in classify and "model produced a " in classify
