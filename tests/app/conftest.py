"""Fixtures for the app's tests: sample images and an app factory on the tiny models and the fake trainer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from app_helpers import fake_command
from fake_trainer import fake_models_command
from PIL import Image

import onnx_models
from tui.app import DlTuiApp
from tui.runtime import Runtime


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """A folder named `images`: three real MNIST test digits (4, 0, 4), a dark-on-light 9, a broken PNG."""
    folder = tmp_path / "images"
    folder.mkdir()
    digits, _ = onnx_models.mnist_sample()
    for index in range(3):
        Image.fromarray(digits[index]).save(folder / f"digit-{index}.png")
    Image.fromarray(255 - digits[3]).save(folder / "inverted.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but not really")
    return folder


@pytest.fixture
def make_app(tiny_models: Path, images: Path, tmp_path: Path) -> Callable[..., DlTuiApp]:
    """Build the app on the tiny models, half-cell graphics, the fake trainer and a fixed header label."""

    def make(models: Path | None = None, start: Path | None = None, can_train: bool = True) -> DlTuiApp:
        # The CPU always: with onnxruntime-gpu "auto" would put CUDA in the header and the snapshots.
        runtime = Runtime(models or tiny_models, device="cpu", interactive=True)
        app = DlTuiApp(runtime, start or images, graphics="halfcell", trainer_command=fake_command,
                       trainer_models=fake_models_command, can_train=can_train, save_dir=tmp_path)
        # The header shows the models folder: a fixed name keeps snapshots free of tmp paths.
        app.models_label = "models"
        return app

    return make
