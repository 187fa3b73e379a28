"""Names and metadata that look like markup are shown literally: no style applied, no backslash left."""

from __future__ import annotations

import onnx_models
from app_helpers import SIZE, screen_text, wait_for
from PIL import Image

from tui.app import DlTuiApp
from tui.runtime import Runtime

MARKUP_LABELS = [f"[b]{digit}" for digit in range(10)]


async def test_markup_in_names_and_metadata_is_shown_as_written(tmp_path):
    models = tmp_path / "mo[b]dels"
    models.mkdir()
    onnx_models.build("cnn", models, filename="esc[red]name", labels=MARKUP_LABELS)
    onnx_models.build("cnn", models)
    (models / "bad[b]x.onnx").write_bytes(b"not a model")
    images = tmp_path / "images"
    images.mkdir()
    digits, _ = onnx_models.mnist_sample()
    Image.fromarray(digits[0]).save(images / "a[b]x.png")
    app = DlTuiApp(Runtime(models, device="cpu", interactive=True), images, graphics="halfcell",
                   save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        # Every model side by side (the default with several models).
        await wait_for(pilot, lambda: "esc[red]name" in screen_text(app) and "[b]4" in screen_text(app))
        seen = [screen_text(app)]
        await pilot.press("4")
        await wait_for(pilot, lambda: "bad[b]x" in screen_text(app))
        seen.append(screen_text(app))
    classify, models_screen = seen
    assert "a[b]x.png" in classify and "mo[b]dels" in classify
    assert "[b]4" in classify  # the label, brackets and all
    assert "esc[red]name" in models_screen and "bad[b]x" in models_screen
    assert "\\[" not in classify + models_screen
