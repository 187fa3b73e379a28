"""dl-train end to end on a few hundred real MNIST digits: train one epoch, export, check the contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


SAMPLE = Path(__file__).parent / "data" / "mnist-sample.npz"
META_KEYS = {"model", "task", "description", "labels", "preprocessing", "metrics", "history", "config", "dataset", "created",
             "versions", "parity"}

# file -> (input name, input shape, {output name: shape}); "batch" is the dynamic axis
CONTRACT = {
    "iris": ("features", ["batch", 4], {"probabilities": ["batch", 3]}),
    "cnn": ("image", ["batch", 28, 28, 1], {"probabilities": ["batch", 10], "ood_score": ["batch"]}),
    "cnn-invert": ("image", ["batch", 28, 28, 1], {"probabilities": ["batch", 10], "ood_score": ["batch"]}),
    "vae-encoder": ("image", ["batch", 28, 28, 1], {"mean": ["batch", 2], "logvar": ["batch", 2]}),
    "vae-decoder": ("z", ["batch", 2], {"logits": ["batch", 28, 28, 1]}),
    "vae-classifier": ("image", ["batch", 28, 28, 1], {"probabilities": ["batch", 10]}),
}


def train(*args: str) -> tuple[int, list[dict], str]:
    """Run dl-train in a subprocess with JSON-lines progress; returns exit code, events and stderr."""
    import os
    import subprocess
    import sys

    # The JSONL reporter rewires fd 1, so it runs in a child process, as the TUI runs it.
    proc = subprocess.run(
        [sys.executable, "-m", "trainer.cli", *args, "--progress", "jsonl"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    return proc.returncode, events, proc.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, list[dict]]:
    """Every subcommand, one epoch each, into one folder (vae-classifier needs the VAE)."""
    out = tmp_path_factory.mktemp("exported")
    code, events, err = train("all", "--epochs", "1", "--data", str(SAMPLE), "--out", str(out))
    assert code == 0, err
    assert "resuming" not in err  # a fresh run fits each model once, from nothing saved
    return out, events


def dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_export_contract(trained, name):
    out, _ = trained
    model = onnx.load(out / f"{name}.onnx")
    onnx.checker.check_model(model)
    input_name, input_shape, outputs = CONTRACT[name]
    assert [(i.name, dims(i)) for i in model.graph.input] == [(input_name, input_shape)]
    assert {o.name: dims(o) for o in model.graph.output} == outputs
    meta = {p.key: p.value for p in model.metadata_props}
    assert set(meta) >= META_KEYS
    assert meta["model"] == name
    assert 0.0 <= float(meta["parity"]) <= 1e-4
    history = json.loads(meta["history"])
    assert [h["epoch"] for h in history] == [1]
    assert json.loads(meta["dataset"])["train"] in (120, 400)  # iris train split, or the MNIST sample
    if name in ("cnn", "cnn-invert"):  # the OOD head and its threshold (docs/ood.md)
        ood = json.loads(meta["ood"])
        assert ood["output"] == "ood_score" and np.isfinite(ood["threshold"]) and ood["false_flag_rate"] == 0.05


def test_classifiers_give_probabilities_for_a_batch_of_any_size(trained):
    out, _ = trained
    digits = np.load(SAMPLE)["x_test"][:7].astype(np.float32)[..., None] / 255.0
    for name in ("cnn", "cnn-invert", "vae-classifier"):
        session = ort.InferenceSession(str(out / f"{name}.onnx"), providers=["CPUExecutionProvider"])
        probs = session.run(["probabilities"], {"image": digits})[0]  # the CNNs also have ood_score
        assert probs.shape == (7, 10)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        meta = session.get_modelmeta().custom_metadata_map
        assert json.loads(meta["labels"]) == [str(d) for d in range(10)]


def test_metadata_carries_metrics_labels_and_preprocessing(trained):
    out, _ = trained
    meta = lambda name: ort.InferenceSession(str(out / f"{name}.onnx")).get_modelmeta().custom_metadata_map  # noqa: E731
    iris = meta("iris")
    assert json.loads(iris["labels"]) == ["setosa", "versicolor", "virginica"]
    assert len(json.loads(iris["preprocessing"])["features"]) == 4
    invert = json.loads(meta("cnn-invert")["metrics"])
    assert invert["test_accuracy"] == pytest.approx((invert["test_accuracy_original"] + invert["test_accuracy_inverted"]) / 2)
    assert json.loads(meta("vae-classifier")["preprocessing"])["binarize"] == 0.5
    assert json.loads(meta("cnn")["preprocessing"])["binarize"] is None
    elbo = json.loads(meta("vae-decoder")["metrics"])["test_elbo"]
    assert elbo < 0  # a log-likelihood bound of binary images
    versions = json.loads(meta("cnn")["versions"])
    assert {"tensorflow", "tf2onnx", "onnxruntime"} <= set(versions)


def test_jsonl_stream_is_only_events_in_order(trained):
    _, events = trained
    kinds = [e["event"] for e in events]
    assert kinds.count("start") == 5 and kinds.count("done") == 5
    assert kinds.count("export") == 6
    for event in events:
        if event["event"] == "epoch_end":
            assert {"epoch", "loss", "metrics", "val_metrics", "seconds"} <= set(event)
    starts = {e["model"]: e["config"] for e in events if e["event"] == "start"}
    notebook = {"iris": (32, 1e-3), "cnn": (128, 1e-3), "cnn-invert": (128, 1e-3), "vae": (64, 1e-4), "vae-classifier": (32, 1e-3)}
    assert {m: (c["batch_size"], c["learning_rate"]) for m, c in starts.items()} == notebook
    cnn = [e for e in events if e.get("model") == "cnn"]
    assert [e["event"] for e in cnn if e["event"] != "batch"] == ["start", "epoch_start", "epoch_end", "export", "done"]
    assert any(e["event"] == "batch" for e in cnn)


def test_cnns_train_with_outlier_exposure_by_default(trained):
    """docs/ood.md: non-digits towards the uniform answer, a quarter as many as the digits, with the
    energy loss (the shipped models'), scored by their energy."""
    out, events = trained
    starts = {e["model"]: e for e in events if e["event"] == "start"}
    for name, copies in (("cnn", 1), ("cnn-invert", 2)):
        exposure = starts[name]["config"]["outlier_exposure"]
        assert exposure["outliers"] == 100 and exposure["printed_digits"] == 25 and exposure["target"] == "uniform"
        assert exposure["loss"] == "energy" and exposure["energy_margins"] == [-15.0, -5.0]
        assert starts[name]["train_size"] == copies * (400 + 100 + 25)
        meta = {p.key: p.value for p in onnx.load(out / f"{name}.onnx").metadata_props}
        assert json.loads(meta["ood"])["method"] == "energy"
    assert "outlier_exposure" not in starts["vae"]["config"]


def test_init_starts_from_an_exported_cnn(trained, tmp_path):
    """--init loads an exported cnn's weights: at learning rate 0 the new file computes the same."""
    out, _ = trained
    code, events, err = train("cnn", "--init", str(out / "cnn.onnx"), "--learning-rate", "0", "--no-outlier-exposure",
                              "--epochs", "1", "--data", str(SAMPLE), "--out", str(tmp_path))
    assert code == 0, err
    start = next(e for e in events if e["event"] == "start")
    assert start["config"]["init"] == "cnn.onnx" and "outlier_exposure" not in start["config"]
    digits = np.load(SAMPLE)["x_test"][:64].astype(np.float32)[..., None] / 255.0
    before, after = (ort.InferenceSession(str(folder / "cnn.onnx")).run(["probabilities"], {"image": digits})[0]
                     for folder in (out, tmp_path))
    np.testing.assert_allclose(after, before, atol=1e-5)

    code, events, err = train("cnn", "--init", str(out / "vae-decoder.onnx"), "--epochs", "1", "--data", str(SAMPLE),
                              "--out", str(tmp_path / "other"))
    assert code == 2 and "cannot start from" in events[-1]["message"] and "Traceback" not in err


def test_energy_loss_adds_the_distance_past_each_margin_and_spares_wrong_digits():
    """trainer.training.energy_loss: cross-entropy, plus 0.1 x (-5 - energy)^2 for an outlier
    (uniform label) below -5, and for a digit classified right above -15, 0.1 x its distance
    past -15 squared up to 1 and linear (2d - 1) beyond; nothing within, nor for a digit
    classified wrong (its margin, from scratch, swamped the classifier: docs/ood.md)."""
    from trainer.training import ENERGY_WEIGHT, energy_loss

    logits = np.array([[20, 0, 0, 0, 0, 0, 0, 0, 0, 0], [8, 0, 0, 0, 0, 0, 0, 0, 0, 0], [14.5, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                       [0, 8, 0, 0, 0, 0, 0, 0, 0, 0], [0] * 10, [8, 0, 0, 0, 0, 0, 0, 0, 0, 0]], np.float32)
    labels = np.array([np.eye(10)[0], np.eye(10)[0], np.eye(10)[0], np.eye(10)[0], np.full(10, 0.1), np.full(10, 0.1)], np.float32)
    z = logits.astype(np.float64)
    energy = -np.log(np.exp(z).sum(axis=1))
    cross_entropy = -(labels * (z + energy[:, None])).sum(axis=1)
    near = energy[2] + 15
    margin = np.array([0.0, 2 * (energy[1] + 15) - 1, near**2, 0.0, 0.0, (-5 - energy[5]) ** 2])
    assert energy[0] < -15 < energy[2] < -14 and energy[1] > -14 and energy[4] > -5 > energy[5]
    np.testing.assert_allclose(energy_loss(labels, logits).numpy(), cross_entropy + ENERGY_WEIGHT * margin,
                               rtol=1e-5, atol=1e-6)


def test_shift_moves_each_training_image_by_up_to_one_pixel_and_never_a_test_image():
    """build_cnn(1): in training, each image comes out moved by -1, 0 or 1 pixel down and across,
    the gap filled with its edge (the background); outside training, untouched."""
    import tensorflow as tf

    from trainer.models import build_cnn

    digit = np.load(SAMPLE)["x_train"][0].astype(np.float32) / 255.0
    images = np.repeat(digit[None, ..., None], 64, axis=0)
    first = build_cnn(1).layers[0]
    moved = first(tf.constant(images), training=True).numpy()[..., 0]
    padded = np.pad(digit, 1, mode="edge")
    copies = {(dy, dx): padded[1 - dy : 29 - dy, 1 - dx : 29 - dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    seen = [next((shift for shift, copy in copies.items() if np.array_equal(image, copy)), None) for image in moved]
    assert None not in seen  # each image is the digit moved by whole pixels
    assert len(set(seen)) >= 5  # moved every way, not one shift for all
    np.testing.assert_array_equal(first(tf.constant(images), training=False).numpy(), images)


def test_energy_outlier_loss_exports_the_energy_as_the_ood_score(trained, tmp_path):
    """dl-train cnn's default --outlier-loss, energy: trained on the logits, exported with its softmax,
    and `ood_score` is -logsumexp of the logits, its threshold the calibration images' 95th percentile;
    --fonts adds fonts; --shift moves the training images and leaves nothing of that in the export."""
    from trainer.outliers import font_files

    out, _ = trained
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    for font in font_files()[:2]:
        (fonts / font.name).write_bytes(font.read_bytes())
    if not any(fonts.iterdir()):
        pytest.skip("no fonts installed to copy")
    code, events, err = train("cnn", "--init", str(out / "cnn.onnx"), "--fonts", str(fonts),
                              "--shift", "1", "--epochs", "1", "--data", str(SAMPLE), "--out", str(tmp_path / "energy"))
    assert code == 0, err
    config = next(e for e in events if e["event"] == "start")["config"]
    exposure = config["outlier_exposure"]
    assert exposure["loss"] == "energy" and exposure["energy_margins"] == [-15.0, -5.0]
    assert exposure["more_fonts"] == len(list(fonts.iterdir())) and config["shift"] == 1
    model = onnx.load(tmp_path / "energy" / "cnn.onnx")

    def network(m) -> list[str]:
        return [n.op_type for n in m.graph.node if not n.name.startswith("ood_head/")]

    assert network(model) == network(onnx.load(out / "cnn.onnx"))  # the same network as without --shift
    ood = json.loads({p.key: p.value for p in model.metadata_props}["ood"])
    assert ood["method"] == "energy" and ood["output"] == "ood_score"
    logits = next(n for n in model.graph.node if n.op_type == "Softmax").input[0]
    model.graph.output.append(onnx.helper.make_tensor_value_info(logits, onnx.TensorProto.FLOAT, None))
    digits = np.load(SAMPLE)["x_test"].astype(np.float32)[..., None] / 255.0
    probs, scores, z = ort.InferenceSession(model.SerializeToString()).run(None, {"image": digits})
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)  # the softmax is back
    top = z.max(axis=1).astype(np.float64)
    np.testing.assert_allclose(scores, -(top + np.log(np.exp(z - top[:, None]).sum(axis=1))), rtol=1e-4, atol=1e-4)
    assert ood["threshold"] == pytest.approx(np.quantile(scores, 0.95), abs=1e-4)  # the sample's test set calibrates

    (fonts / "empty").mkdir()
    code, events, err = train("cnn", "--fonts", str(fonts / "empty"), "--epochs", "1", "--data", str(SAMPLE),
                              "--out", str(tmp_path / "none"))
    assert code == 2 and "no .ttf or .otf font under" in events[-1]["message"] and "Traceback" not in err


def test_uniform_outlier_loss_scores_by_a_head_on_the_logits(tmp_path):
    """--outlier-loss uniform, kept as an option (docs/ood.md): no energy margins, and the OOD score
    is a logistic head fitted on the logits after training."""
    code, events, err = train("cnn", "--outlier-loss", "uniform", "--epochs", "1", "--data", str(SAMPLE),
                              "--out", str(tmp_path))
    assert code == 0, err
    exposure = next(e for e in events if e["event"] == "start")["config"]["outlier_exposure"]
    assert exposure["loss"] == "uniform" and "energy_margins" not in exposure
    ood = json.loads({p.key: p.value for p in onnx.load(tmp_path / "cnn.onnx").metadata_props}["ood"])
    assert ood["method"] == "feature-head" and ood["output"] == "ood_score" and np.isfinite(ood["threshold"])


def test_checkpoints_are_removed_after_export(trained):
    out, _ = trained
    assert not (out / ".checkpoints").exists()
    # int8 twins (trainer.quantize) are written only where they meet the bar: not part of the check
    names = [p.name for p in out.iterdir() if not p.name.endswith(".int8.onnx")]
    assert sorted(names) == sorted([f"{n}.onnx" for n in CONTRACT] + ["vae.weights.h5", "vae-latent-map.npz"])


def test_vae_writes_the_latent_map_of_its_encoder(trained):
    """The app's latent map: the test set's means as the exported encoder computes them (onnxruntime)."""
    from tui.runtime import Runtime, latent

    out, _ = trained
    loaded = latent.load_map(out / "vae-encoder.onnx")  # checks it was made by this very encoder
    x, y = np.load(SAMPLE)["x_test"], np.load(SAMPLE)["y_test"]
    np.testing.assert_array_equal(loaded.labels, y)
    means = latent.encode(Runtime(out, device="cpu", precision="float"), x.astype(np.float32) / 255.0)
    np.testing.assert_allclose(loaded.means, means, atol=2e-2, rtol=1e-2)  # float16 in the file


def test_vae_classifier_without_a_trained_vae_says_so(tmp_path):
    code, events, err = train("vae-classifier", "--epochs", "1", "--data", str(SAMPLE), "--out", str(tmp_path))
    assert code == 2
    assert events[-1]["event"] == "error" and "dl-train vae" in events[-1]["message"]
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_killed_run_resumes_and_keeps_the_previous_model(tmp_path):
    """Kill training after its first epoch: the old file stays; running again resumes at epoch 2."""
    import os
    import signal
    import subprocess
    import sys

    previous = b"previous model"
    (tmp_path / "iris.onnx").write_bytes(previous)
    cmd = [sys.executable, "-m", "trainer.cli", "iris", "--epochs", "3", "--out", str(tmp_path), "--progress", "jsonl"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if json.loads(line)["event"] == "epoch_end":
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert (tmp_path / "iris.onnx").read_bytes() == previous
    assert not list(tmp_path.glob(".iris.onnx.*"))

    code, events, err = train("iris", "--epochs", "3", "--out", str(tmp_path))
    assert code == 0, err
    epochs = [e["epoch"] for e in events if e["event"] == "epoch_start"]
    assert epochs[0] >= 2 and epochs[-1] == 3
    assert "resuming iris after epoch" in err
    meta = ort.InferenceSession(str(tmp_path / "iris.onnx")).get_modelmeta().custom_metadata_map
    assert [h["epoch"] for h in json.loads(meta["history"])] == [1, 2, 3]
