"""Shared fixtures: tiny ONNX models (see tests/onnx_models.py) built once per session."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import onnx_models


@pytest.fixture(autouse=True)
def _own_data_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Models "trained by the user" live in a fresh folder: never the developer's own."""
    monkeypatch.setenv("DL_TUI_DATA", str(tmp_path_factory.mktemp("user-data")))
    monkeypatch.delenv("DL_TUI_MODELS", raising=False)


@pytest.fixture(scope="session")
def _tiny_models_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return onnx_models.build_all(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture
def tiny_models(_tiny_models_master: Path, tmp_path: Path) -> Path:
    """A fresh folder holding all six tiny models; tests may add, change or delete files."""
    folder = tmp_path / "models"
    shutil.copytree(_tiny_models_master, folder)
    return folder
