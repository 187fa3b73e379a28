"""`dl-train folder`: a real train -> export -> classify round trip on a tiny generated folder,
the name rules, the defaults' decisions, and resume keyed by the dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.folder_sets import colour_set, grey_set

pytest.importorskip("tensorflow")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

SHARED_KEYS = {"model", "task", "description", "labels", "preprocessing", "metrics", "evaluation", "history", "config",
               "dataset", "ood", "created", "versions", "parity"}
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def dl_train(*args: str) -> tuple[int, list[dict], str]:
    """dl-train in a subprocess with JSON-lines progress: exit code, events, stderr."""
    proc = subprocess.run([sys.executable, "-m", "trainer.cli", *args, "--progress", "jsonl"], capture_output=True,
                          text=True, timeout=600, env=ENV)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, events, proc.stderr


def metadata(path: Path) -> dict:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 3-class colour folder of 16x16 pictures (30 each) trained for 8 epochs into OUT."""
    root = colour_set(tmp_path_factory.mktemp("pictures") / "colours", per_class=30, classes=3)
    out = tmp_path_factory.mktemp("models")
    code, events, stderr = dl_train("folder", str(root), "--name", "colours", "--out", str(out), "--epochs", "8",
                                    "--seed", "1")
    assert code == 0, stderr
    return root, out, events, stderr


def test_round_trip_learns_exports_and_classifies(trained):
    root, out, events, stderr = trained
    kinds = [event["event"] for event in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("epoch_end") == 8
    assert "decoding them once at 16x16 colour" in stderr
    done = events[-1]
    # 3 colours, chance is 1/3: a working model gets nearly all of the 9 test pictures
    assert done["metrics"]["test_accuracy"] >= 0.8, done
    meta = metadata(out / "colours.onnx")
    assert set(meta) >= SHARED_KEYS
    assert json.loads(meta["labels"]) == ["blue", "green", "red"]
    assert json.loads(meta["preprocessing"]) == {"kind": "image", "size": [16, 16], "channels": 3, "range": [0, 1],
                                                 "fit": "stretch", "resize": "bilinear"}
    metrics = json.loads(meta["metrics"])
    assert set(metrics) == {"test_accuracy", "test_macro_f1"} and all(isinstance(v, float) for v in metrics.values())
    evaluation = json.loads(meta["evaluation"])
    assert evaluation["split"] == "test" and evaluation["count"] == 9
    assert evaluation["accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert np.sum(evaluation["confusion"]["matrix"]) == 9 and [row["label"] for row in evaluation["per_class"]] == ["blue", "green", "red"]
    dataset = json.loads(meta["dataset"])
    assert dataset["name"] == "folder" and dataset["source"] == str(root) and dataset["layout"] == "classes"
    assert (dataset["train"], dataset["val"], dataset["test"], dataset["skipped"]) == (72, 9, 9, 0)
    assert dataset["split_manifest"] == "colours.split.json"
    ood = json.loads(meta["ood"])
    assert ood["method"] == "max-softmax" and 0 <= ood["threshold"] <= 1 and ood["calibration"]["count"] == 9
    assert len(json.loads(meta["history"])) == 8

    manifest = json.loads((out / "colours.split.json").read_text())
    assert manifest["root"] == str(root) and manifest["seed"] == 1 and manifest["classes"] == ["blue", "green", "red"]
    assert [len(manifest["files"][part]) for part in ("train", "val", "test")] == [72, 9, 9]
    import hashlib

    assert hashlib.sha256((out / "colours.split.json").read_bytes()).hexdigest() == dataset["split_sha256"]
    assert not (out / ".checkpoints").exists()

    # dl-tui classify, on the held-out test files, answers what onnxruntime answers on the trainer's own input
    from tui.runtime.preprocess import load_image, picture_array

    tests = [root / path for path, _ in manifest["files"]["test"]]
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "classify", *map(str, tests), "-m", "colours", "--models", str(out),
                           "--format", "jsonl", "--precision", "float"], capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    session = ort.InferenceSession(str(out / "colours.onnx"), providers=["CPUExecutionProvider"])
    pictures = np.stack([picture_array(load_image(path, colour=True), (16, 16), 3) for path in tests]).astype(np.float32) / 255
    probs = session.run(None, {"image": pictures})[0]
    labels = ["blue", "green", "red"]
    assert [row["label"] for row in rows] == [labels[i] for i in probs.argmax(axis=1)]
    np.testing.assert_allclose([row["confidence"] for row in rows], probs.max(axis=1), atol=1e-5)
    right = sum(row["label"] == Path(row["path"]).parent.name for row in rows)
    assert right / len(rows) == pytest.approx(evaluation["accuracy"])


def test_int8_twin_when_it_meets_the_bar(trained):
    _, out, events, _ = trained
    exported = [Path(event["path"]).name for event in events if event["event"] == "export"]
    assert exported[0] == "colours.onnx"
    twin = out / "colours.int8.onnx"
    if "colours.int8.onnx" in exported:
        meta = metadata(twin)
        assert meta["precision"] == "int8"
        assert json.loads(meta["metrics"])["test_accuracy"] >= json.loads(meta["float_metrics"])["test_accuracy"] - 0.001
    else:
        assert not twin.exists()


def test_same_seed_same_manifest_and_previous_model_kept(tmp_path):
    root = grey_set(tmp_path / "shapes", per_class=12, classes=2, size=(12, 20))
    out = tmp_path / "out"
    for run in (1, 2):
        code, _, stderr = dl_train("folder", str(root), "--name", "shapes", "--out", str(out), "--epochs", "1",
                                        "--no-int8", "--seed", "3")
        assert code == 0, stderr
        if run == 1:
            first = (out / "shapes.split.json").read_bytes()
            first_model = (out / "shapes.onnx").read_bytes()
    assert (out / "shapes.split.json").read_bytes() == first
    assert (out / "previous" / "shapes.onnx").read_bytes() == first_model
    assert (out / "previous" / "shapes.split.json").read_bytes() == first
    meta = metadata(out / "shapes.onnx")
    assert json.loads(meta["preprocessing"])["size"] == [12, 20] and json.loads(meta["preprocessing"])["channels"] == 1
    assert not (out / "shapes.int8.onnx").exists()


@pytest.mark.parametrize(("name", "says"), [
    ("all", "reserved"),
    ("my model", "letters, digits"),
    ("../x", "letters, digits"),
    ("shapes.int8", "int8 twin"),
    ("cnn", "--force"),
    ("vae-decoder", "--force"),
])
def test_name_rules(tmp_path, name, says):
    from trainer.cli import make_app

    root = grey_set(tmp_path / "shapes", per_class=4, classes=2)
    result = CliRunner().invoke(make_app(), ["folder", str(root), "--name", name, "--out", str(tmp_path / "out"),
                                             "--progress", "none"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], result.output
    assert not (tmp_path / "out").exists()


def test_usage_errors_are_one_line(tmp_path):
    from trainer.cli import make_app

    root = grey_set(tmp_path / "shapes", per_class=4, classes=1)
    runner = CliRunner()
    for args, says in ([[str(root), "--size", "4x4"], "each side from 8"], [[str(root), "--size", "big"], "HEIGHTxWIDTH"],
                       [[str(root), "--val", "0.6", "--test", "0.5"], "together under 1"],
                       [[str(tmp_path / "nowhere")], "not a folder"], [[str(root)], "at least two"]):
        result = runner.invoke(make_app(), ["folder", *args, "--name", "x", "--out", str(tmp_path / "out"), "--progress", "none"])
        assert result.exit_code == 2, result.output
        assert result.output.strip().count("\n") == 0 and says in result.output, result.output


def test_checkpoints_resume_only_on_the_same_dataset(tmp_path):
    from trainer.folder_training import KEY_FILE, claim_checkpoints, dataset_key
    from trainer.progress import Reporter

    class Lines(Reporter):
        def __init__(self):
            super().__init__()
            self.lines = []

        def info(self, text):
            self.lines.append(text)

    folder = tmp_path / ".checkpoints" / "mine"
    first = dataset_key(tmp_path / "a", "0" * 64, (16, 16), 1)
    claim_checkpoints(tmp_path, "mine", first, Lines())
    (folder / "epoch-3.npz").write_bytes(b"weights")
    same = Lines()
    claim_checkpoints(tmp_path, "mine", dict(first), same)
    assert (folder / "epoch-3.npz").exists() and same.lines == []
    other = Lines()
    claim_checkpoints(tmp_path, "mine", dataset_key(tmp_path / "b", "1" * 64, (16, 16), 1), other)
    assert not (folder / "epoch-3.npz").exists() and json.loads((folder / KEY_FILE).read_text())["root"] == str(tmp_path / "b")
    assert len(other.lines) == 1 and "starting over" in other.lines[0] and str(tmp_path / "a") in other.lines[0]


def _killed_after(args: list[str], epoch: int) -> list[str]:
    """Run dl-train ARGS and SIGTERM it once EPOCH is reported (so saved); its stderr lines."""
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "trainer.cli", *args, "--progress", "jsonl"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == "epoch_end" and event["epoch"] == epoch:
            proc.send_signal(signal.SIGTERM)
            break
    proc.stdout.read()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 143, stderr
    return stderr.splitlines()


def test_a_killed_run_resumes_on_its_folder_and_starts_over_on_another(tmp_path):
    first = grey_set(tmp_path / "first", per_class=8, classes=2, size=(8, 8))
    other = grey_set(tmp_path / "other", per_class=8, classes=2, size=(8, 8), seed=5)
    out = tmp_path / "out"
    common = ["--name", "mine", "--out", str(out), "--epochs", "3", "--no-int8"]
    _killed_after(["folder", str(first), *common], 2)
    assert not (out / "mine.onnx").exists()
    # the same name on another folder: starts over, and says so; killed after its first epoch
    lines = _killed_after(["folder", str(other), *common], 1)
    assert f"the checkpoints of mine are from {first}, not {other}: starting over" in lines
    assert not any("resuming" in line for line in lines)
    # the same folder again: resumes
    code, events, stderr = dl_train("folder", str(other), *common)
    assert code == 0, stderr
    assert "resuming mine after epoch 1" in stderr and "starting over" not in stderr
    assert [e["epoch"] for e in events if e["event"] == "epoch_end"] == [2, 3]
    meta = metadata(out / "mine.onnx")
    assert len(json.loads(meta["history"])) == 3 and json.loads(meta["dataset"])["source"] == str(other)


def test_the_defaults_decide_from_the_history():
    from trainer import folder_training as ft
    from trainer.folder_model import bn_momentum, pooled_blocks

    flat = [{"val_loss": 1.0, "val_balanced_accuracy": 0.5}] * 9
    assert ft.learning_rate([]) == ft.LEARNING_RATE
    assert ft.learning_rate(flat) == ft.LEARNING_RATE * ft.LR_FACTOR ** 2  # epoch 1 sets the best; 8 without a better one
    rising = [{"val_loss": 1.0 - i / 100, "val_balanced_accuracy": i / 100} for i in range(30)]
    assert ft.best_epoch(rising) == 30 and not ft.should_stop(rising, None)
    stuck = [*rising[:5], *[{"val_loss": 2.0, "val_balanced_accuracy": 0.0}] * ft.PATIENCE]
    assert ft.best_epoch(stuck) == 5 and ft.should_stop(stuck, None)
    early = [*rising[:1], *[{"val_loss": 2.0, "val_balanced_accuracy": 0.0}] * (ft.MIN_EPOCHS - 2)]
    assert not ft.should_stop(early, None)  # never before MIN_EPOCHS
    assert ft.should_stop(rising[:4], 4) and not ft.should_stop(rising[:3], 4)
    y = np.array([0] * 50 + [1] * 5)
    assert ft.balance_weights(y, 2, "auto") == pytest.approx([55 / 100, 55 / 10])
    assert ft.balance_weights(y, 2, "none") is None
    assert ft.balance_weights(np.array([0] * 10 + [1] * 9), 2, "auto") is None
    assert ft.chosen_augment("auto") == "shift"
    assert [pooled_blocks(s) for s in ((8, 8), (28, 28), (12, 24), (64, 64), (224, 224))] == [1, 2, 1, 4, 5]
    assert bn_momentum(3) == 0.5 and bn_momentum(1000) == 0.9


def test_large_sets_get_a_fixed_cosine_budget_and_no_augmentation():
    from trainer import folder_training as ft

    assert ft.budget_epochs(ft.LARGE_SET - 1) is None  # small sets: early stopping
    assert ft.budget_epochs(54_000) == 7  # Fashion-MNIST's 60,000 less the validation cut
    assert ft.budget_epochs(10 * ft.IMAGE_BUDGET) == ft.MIN_BUDGET_EPOCHS
    rates = [ft.learning_rate([{"val_loss": 1.0}] * done, 7) for done in range(9)]
    assert rates[0] == ft.LEARNING_RATE and all(rates[i] > rates[i + 1] for i in range(6))
    assert 0 < rates[6] < ft.LEARNING_RATE / 10 and rates[8] == rates[6]  # past the budget (--epochs resumed): the last rate
    plan = [{"val_loss": 1.0, "val_balanced_accuracy": 0.5}] * 7
    assert ft.should_stop(plan, 7) and not ft.should_stop(plan[:6], 7)
    assert ft.chosen_augment("auto", 54_000, 10) == "none"
    assert ft.chosen_augment("auto", ft.AUGMENT_BELOW * 10 - 1, 10) == "shift"
    assert ft.chosen_augment("shift", 54_000, 10) == "shift"


def _column_centres(pictures: np.ndarray) -> np.ndarray:
    """The brightness-weighted mean column of each picture [N, H, W, 1]."""
    mass = pictures[..., 0].sum(axis=1)
    return (mass * np.arange(pictures.shape[2])).sum(axis=1) / mass.sum(axis=1)


def test_moves_shift_and_zoom_in_one_affine_never_flipping():
    from trainer import folder_training as ft
    from trainer.folder_model import SHIFT, ZOOM

    assert ft.moves("none", 0) is None
    pictures = np.zeros((256, 32, 32, 1), np.float32)
    pictures[:, 12:20, 4:10] = 1.0  # a bar left of the centre: its column centre is 6.5
    moved = np.asarray(ft.moves("shift", 0)(pictures))
    assert moved.shape == pictures.shape and moved.min() >= 0.0 and moved.max() <= 1.0 + 1e-6
    centres = _column_centres(moved)
    bound = SHIFT * 32 + ZOOM * (15.5 - 6.5) + 0.5  # the shift plus the zoom's pull towards or away from the centre
    assert np.all(np.abs(centres - 6.5) <= bound)  # never mirrored (that would put it at 24.5)
    assert np.std(centres) > 0.5 and len(np.unique(np.round(centres, 3))) > 100  # each picture its own move
    flipped = _column_centres(np.asarray(ft.moves("shift-flip", 0)(pictures)))
    assert 0.3 < np.mean(flipped > 15.5) < 0.7  # shift-flip mirrors about half
