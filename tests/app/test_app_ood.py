"""The Classify screen warns, above a model's bars, when its OOD check flags the image."""

from __future__ import annotations

import numpy as np
import onnx_models
from app_helpers import SIZE, screen_text, wait_for
from PIL import Image
from test_app_classify import columns, open_file

from tui.widgets.bar_columns import OOD_WARNING

# 1 - the top probability above 0.3: the tiny cnn is never that sure of noise, and is of digit-0
CALIBRATED = {"method": "max-softmax", "threshold": 0.3, "false_flag_rate": 0.05}


async def test_flagged_image_shows_the_warning_and_a_digit_does_not(make_app, tiny_models, images):
    onnx_models.build("cnn", tiny_models, ood=CALIBRATED)
    noise = (np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint8)
    Image.fromarray(noise).save(images / "noise.png")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await open_file(pilot, screen, "digit-0.png")
        await wait_for(pilot, lambda: columns(screen)["cnn"].probabilities)
        assert columns(screen)["cnn"].warning == ""
        assert "⚠" not in screen_text(app)

        await open_file(pilot, screen, "noise.png")
        await wait_for(pilot, lambda: columns(screen)["cnn"].warning)
        assert columns(screen)["cnn"].warning == OOD_WARNING
        assert columns(screen)["vae-classifier"].warning == ""  # no calibration: no verdict
        # above the bars, wrapped in a narrow column, and every class still shown below it
        await wait_for(pilot, lambda: "⚠ this does not" in screen_text(app))
        assert all(f" {digit} " in screen_text(app) for digit in "0123456789")
