"""Adding a model is one spec (trainer/specs.py, docs/adding-a-model.md): a model registered from
outside the project is listed, trained, exported with the checks and classified by dl-tui."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = Path(__file__).parent / "data" / "mnist-sample.npz"
NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# The whole of what a newcomer writes: a builder and one spec. Keras is imported inside the
# builder, so listing the models (dl-train models, --help) never loads TensorFlow.
PLUGIN = f'''
from trainer.specs import ModelSpec, OnnxFile, register


def build():
    import keras

    return keras.Sequential([
        keras.Input((28, 28, 1), name="image"),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ], name="tiny")


register(ModelSpec("tiny-mlp", "A tiny MLP on digits -> tiny-mlp.onnx.", (OnnxFile("tiny-mlp"),),
                   builder="tiny_digits:build", epochs=12, batch_size=16, labels={NAMES!r}))
'''


def run(args: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], check=False, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict[str, str]:
    """$DL_TRAIN_PLUGINS naming a module, written here, that registers tiny-mlp."""
    (tmp_path / "tiny_digits.py").write_text(PLUGIN)
    path = os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "DL_TRAIN_PLUGINS": "tiny_digits", "TF_CPP_MIN_LOG_LEVEL": "3"}


def test_a_registered_model_is_listed_without_tensorflow(plugin_env):
    code = ("import sys\nfrom trainer.cli import main\nsys.argv = ['dl-train', 'models', '--format', 'json']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')), file=sys.stderr)")
    proc = run(["-c", code], plugin_env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "[]"
    catalogue = json.loads(proc.stdout)
    names = [entry["name"] for entry in catalogue["models"]]
    assert names[-1] == "all" and "tiny-mlp" in names and catalogue["default"] == "cnn"
    tiny = catalogue["models"][names.index("tiny-mlp")]
    assert tiny["epochs"] == 12 and tiny["files"] == ["tiny-mlp.onnx"] and tiny["options"] == ["data", "restart", "epochs"]
    assert "tiny-mlp.onnx" in catalogue["models"][-1]["files"]


def test_a_broken_plugin_is_one_warning_line_and_the_rest_works(plugin_env, tmp_path):
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('nope')\n")
    env = {**plugin_env, "DL_TRAIN_PLUGINS": "broken_plugin, tiny_digits"}
    proc = run(["-m", "trainer.cli", "models", "--format", "json"], env, timeout=60)
    assert proc.returncode == 0
    assert proc.stderr.strip() == "dl-train: warning: model plugin 'broken_plugin' not loaded: RuntimeError: nope"
    assert "tiny-mlp" in [entry["name"] for entry in json.loads(proc.stdout)["models"]]


def test_a_registered_model_is_trained_exported_and_classified(plugin_env, tmp_path):
    pytest.importorskip("tensorflow")
    pytest.importorskip("tf2onnx")
    from PIL import Image

    from tui.contract import Done, Export, Start, event_from_json

    out = tmp_path / "models"
    proc = run(["-m", "trainer.cli", "tiny-mlp", "--data", str(SAMPLE), "--out", str(out), "--progress", "jsonl"],
               plugin_env)
    assert proc.returncode == 0, proc.stderr
    events = [event_from_json(line) for line in proc.stdout.splitlines()]
    assert isinstance(events[0], Start) and events[0].model == "tiny-mlp" and events[0].epochs == 12
    exports = [e for e in events if isinstance(e, Export)]
    assert [Path(e.path).name for e in exports] == ["tiny-mlp.onnx"] and exports[0].parity <= 1e-4
    assert isinstance(events[-1], Done) and set(events[-1].metrics) == {"test_accuracy"}
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["tiny-mlp.onnx"]

    # Twenty of the digits it learnt from, as PNG files, classified by dl-tui from its metadata alone.
    with np.load(SAMPLE) as data:
        images, labels = data["x_train"][:20], data["y_train"][:20]
    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:02d}.png")
    proc = run(["-m", "tui.cli", "classify", str(folder), "--models", str(out), "-m", "tiny-mlp", "-f", "jsonl",
                "-q", "--polarity", "keep", "--no-normalize"], plugin_env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = sorted((json.loads(line) for line in proc.stdout.splitlines()), key=lambda row: row["path"])
    assert len(rows) == 20 and {row["model"] for row in rows} == {"tiny-mlp"}
    assert {row["label"] for row in rows} <= set(NAMES)  # its own labels, from its metadata
    right = sum(row["label"] == NAMES[label] for row, label in zip(rows, labels))
    assert right >= 16, [row["label"] for row in rows]
