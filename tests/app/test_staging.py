"""The models folders and the staging folder without Textual: read order, keep new or old, restore."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import onnx_models
from tui.paths import find_models, model_folders, model_source, shipped_models_dir, user_models_dir
from tui.runtime import Runtime
from tui.staging import PREVIOUS, STAGING, Staging, can_restore, restore, together


@pytest.fixture
def folders(tiny_models: Path, tmp_path: Path) -> list[Path]:
    """An empty user folder in front of the tiny models standing in for the shipped ones."""
    return [tmp_path / "user", tiny_models]


def test_the_user_folder_comes_first_and_options_stand_alone(tmp_path, monkeypatch):
    monkeypatch.delenv("DL_TUI_MODELS", raising=False)
    monkeypatch.setenv("DL_TUI_DATA", str(tmp_path / "data"))
    assert user_models_dir() == tmp_path / "data" / "models"
    assert model_folders() == [tmp_path / "data" / "models", shipped_models_dir()]
    assert model_folders(tmp_path / "mine") == [tmp_path / "mine"]
    monkeypatch.setenv("DL_TUI_MODELS", str(tmp_path / "env"))
    assert model_folders() == [tmp_path / "env"]


def test_a_user_model_hides_the_shipped_one(folders):
    user, shipped = folders
    onnx_models.build("iris", user, metrics={"test_accuracy": 0.5})
    found = find_models(folders)
    assert found["iris"] == user / "iris.onnx" and found["cnn"] == shipped / "cnn.onnx"
    runtime = Runtime(folders, device="cpu")
    assert runtime.models_dir == user and runtime.info("iris").metrics == {"test_accuracy": 0.5}
    assert model_source(found["iris"], folders) == "user"
    assert model_source(found["cnn"], folders) == "shipped"
    assert model_source(shipped_models_dir() / "cnn.onnx", [shipped_models_dir()]) == "shipped"


def run_into(staging: Staging, model: str, *files: Path) -> list[Path]:
    """What a trainer run does to the staging folder: its exports, and checkpoints it keeps."""
    staging.prepare()
    (staging.folder / ".checkpoints").mkdir(exist_ok=True)
    for path in files:
        shutil.copyfile(path, staging.folder / path.name)
    return staging.outputs()


def test_keep_new_moves_the_model_in_and_keeps_the_old(folders, tmp_path):
    user, _ = folders
    old = onnx_models.build("iris", user, metrics={"test_accuracy": 0.9}).read_bytes()
    new = onnx_models.build("iris", tmp_path / "new", metrics={"test_accuracy": 0.6})
    staging = Staging(folders)
    outputs = run_into(staging, "iris", new)
    assert outputs == [staging.folder / "iris.onnx"]
    [row] = staging.compare(Runtime(folders, device="cpu"), outputs)
    assert (row.name, row.old, row.new, row.old_source) == (
        "iris", {"test_accuracy": 0.9}, {"test_accuracy": 0.6}, "user")
    staging.keep_new(outputs)
    assert (user / "iris.onnx").read_bytes() == new.read_bytes()
    assert (user / PREVIOUS / "iris.onnx").read_bytes() == old
    assert not (staging.folder / "iris.onnx").exists() and (staging.folder / ".checkpoints").is_dir()
    assert can_restore("iris", folders)
    assert restore("iris", folders) == ["iris.onnx"]
    assert (user / "iris.onnx").read_bytes() == old
    assert (user / PREVIOUS / "iris.onnx").read_bytes() == new.read_bytes()


def test_discard_leaves_the_models_folder_alone(folders, tmp_path):
    user, shipped = folders
    before = (shipped / "iris.onnx").read_bytes()
    staging = Staging(folders)
    outputs = run_into(staging, "iris", onnx_models.build("iris", tmp_path / "new"))
    [row] = staging.compare(Runtime(folders, device="cpu"), outputs)
    assert row.old_source == "shipped"
    staging.discard(outputs)
    assert sorted(p.name for p in user.iterdir()) == [STAGING]
    assert (shipped / "iris.onnx").read_bytes() == before
    assert staging.outputs() == []


def test_restoring_a_user_model_without_a_previous_shows_the_shipped_one(folders, tmp_path):
    user, shipped = folders
    staging = Staging(folders)
    staging.keep_new(run_into(staging, "iris", onnx_models.build("iris", tmp_path / "new")))
    assert not (user / PREVIOUS / "iris.onnx").exists() and can_restore("iris", folders)
    assert not can_restore("cnn", folders)
    restore("iris", folders)
    assert find_models(folders)["iris"] == shipped / "iris.onnx"
    assert can_restore("iris", folders)  # and back again
    restore("iris", folders)
    assert find_models(folders)["iris"] == user / "iris.onnx"


def test_the_vae_files_move_together_and_the_classifier_gets_the_weights(folders, tmp_path):
    user, shipped = folders
    (shipped / "vae.weights.h5").write_bytes(b"shipped weights")
    made = tmp_path / "made"
    encoder, decoder = (onnx_models.build(name, made) for name in ("vae-encoder", "vae-decoder"))
    (made / "vae.weights.h5").write_bytes(b"new weights")
    staging = Staging(folders)
    outputs = run_into(staging, "vae", encoder, decoder, made / "vae.weights.h5")
    assert [p.name for p in outputs] == ["vae-decoder.onnx", "vae-encoder.onnx", "vae.weights.h5"]
    assert [row.name for row in staging.compare(Runtime(folders, device="cpu"), outputs)] == [
        "vae-decoder", "vae-encoder"]
    staging.keep_new(outputs)
    staging.prepare(["vae.weights.h5"])  # what `dl-train models` says vae-classifier builds on
    assert (staging.folder / "vae.weights.h5").read_bytes() == b"new weights"  # the user's VAE first
    assert staging.outputs() == []  # given, not made
    restore("vae-decoder", folders)
    assert not any((user / name).exists() for name in ("vae-encoder.onnx", "vae-decoder.onnx", "vae.weights.h5"))


def test_an_int8_twin_moves_and_restores_with_its_model():
    assert together("cnn.onnx") == ("cnn.onnx", "cnn.int8.onnx")
    assert together("cnn.int8.onnx") == ("cnn.onnx", "cnn.int8.onnx")
    assert "vae-decoder.int8.onnx" in together("vae-encoder.onnx")
