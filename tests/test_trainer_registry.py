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
    right = sum(row["label"] == NAMES[label] for row, label in zip(rows, labels, strict=False))
    assert right >= 16, [row["label"] for row in rows]


def test_models_json_is_the_table_the_train_screen_reads():
    from typer.testing import CliRunner

    from trainer.cli import app

    result = CliRunner().invoke(app, ["models", "--format", "json"])
    assert result.exit_code == 0, result.output
    catalogue = json.loads(result.output)
    assert catalogue["default"] == "cnn"
    by_name = {entry["name"]: entry for entry in catalogue["models"]}
    assert list(by_name)[-1] == "all" and {"iris", "cnn", "vae", "vae-classifier"} <= set(by_name)
    cnn = by_name["cnn"]
    assert cnn["epochs"] == 10 and cnn["needs_mnist"] and cnn["needs"] == []
    assert cnn["options"] == ["invert", "data", "restart", "epochs"]
    assert cnn["files"] == ["cnn.onnx", "cnn.int8.onnx"]
    assert by_name["iris"]["options"] == ["restart", "epochs"] and not by_name["iris"]["needs_mnist"]
    assert by_name["vae-classifier"]["needs"] == ["vae"]
    assert "vae-latent-map.npz" in by_name["vae"]["files"]
    assert by_name["all"]["options"] == ["data", "restart", "epochs"]
    assert all(isinstance(entry["description"], str) and entry["description"] for entry in catalogue["models"])


# Each command's options as they were when they were written out by hand (before trainer/specs.py).
COMMON = ["--epochs", "--batch-size", "--out", "--seed", "--progress", "--restart", "--strategy"]
OPTIONS = {
    "iris": COMMON,
    "cnn": ["--invert", *COMMON[:2], "--outlier-exposure", "--outlier-loss", "--fonts", "--shift", "--init",
            "--learning-rate", "--data", *COMMON[2:]],
    "vae": [*COMMON[:2], "--data", *COMMON[2:]],
    "vae-classifier": [*COMMON[:2], "--data", *COMMON[2:]],
    "all": ["--epochs", "--data", *COMMON[2:]],
}


@pytest.mark.parametrize("name", OPTIONS)
def test_the_commands_made_from_the_table_keep_their_options_and_defaults(name):
    import typer.main

    from trainer.cli import app

    command = typer.main.get_command(app).commands[name]
    assert [param.opts[0] for param in command.params] == OPTIONS[name]
    defaults = {param.name: param.default for param in command.params}
    assert defaults["seed"] == 42 and defaults["restart"] is False
    assert defaults["epochs"] == (None if name == "all" else 10)
    if name != "all":
        assert defaults["batch_size"] == {"iris": 32, "cnn": 128, "vae": 64, "vae-classifier": 32}[name]
    if name == "cnn":
        assert defaults["learning_rate"] == 1e-3 and defaults["exposure"] is True
