"""The shipped int8 models: same contract as their float twins, within the bar, and chosen by
the Runtime only where they may stand in for the float model. Real MNIST sample, no TensorFlow."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import onnx_models
from tui.paths import shipped_models_dir
from tui.runtime import Runtime
from tui.runtime.info import BARS, meets_bar

SHIPPED = shipped_models_dir()
TWINS = sorted(p.name.removesuffix(".int8.onnx") for p in SHIPPED.glob("*.int8.onnx"))
ACCURACY_KEYS = ("test_accuracy", "test_accuracy_original", "test_accuracy_inverted")


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def meta(path: Path) -> dict[str, str]:
    return session(path).get_modelmeta().custom_metadata_map


def signature(args) -> list:
    return [(a.name, a.shape, a.type) for a in args]


def test_the_digit_classifiers_and_the_decoder_ship_int8_twins():
    assert {"cnn", "cnn-invert", "vae-decoder"} <= set(TWINS)


@pytest.mark.parametrize("name", TWINS)
def test_twin_keeps_the_contract_and_records_what_it_is(name):
    float_path, int8_path = SHIPPED / f"{name}.onnx", SHIPPED / f"{name}.int8.onnx"
    f, q = session(float_path), session(int8_path)
    assert signature(q.get_inputs()) == signature(f.get_inputs())
    assert signature(q.get_outputs()) == signature(f.get_outputs())
    fm, qm = meta(float_path), meta(int8_path)
    for key in ("model", "task", "description", "labels", "preprocessing", "history", "config", "dataset"):
        assert qm[key] == fm[key], key
    assert qm["precision"] == "int8" and fm.get("precision", "float") == "float"
    assert qm["float_sha256"] == hashlib.sha256(float_path.read_bytes()).hexdigest()
    assert qm["parity_reference"] == "float" and float(qm["parity"]) >= 0
    each = json.loads(qm["parity_outputs"])  # the OOD score's difference apart from the answers'
    assert set(each) == {out.name for out in f.get_outputs()}
    score = json.loads(fm.get("ood", "{}")).get("output")
    assert float(qm["parity"]) == pytest.approx(max(v for k, v in each.items() if k != score), rel=0.01)
    quantization = json.loads(qm["quantization"])
    assert quantization["format"] == "QDQ" and quantization["calibration"]["data"] == "MNIST training images"


@pytest.mark.parametrize("name", TWINS)
def test_recorded_test_metrics_are_within_the_bar(name):
    qm, fm = meta(SHIPPED / f"{name}.int8.onnx"), meta(SHIPPED / f"{name}.onnx")
    metrics, float_metrics = json.loads(qm["metrics"]), json.loads(qm["float_metrics"])
    assert set(metrics) == set(float_metrics) == set(json.loads(fm["metrics"]))
    for key, value in float_metrics.items():
        bar = BARS["elbo"] if "elbo" in key else BARS["accuracy"]  # 0.5 nats, 0.1 points
        assert value - metrics[key] <= bar, key
    recorded = json.loads(fm["metrics"])  # TensorFlow's figures at training; onnxruntime's here
    for key in set(ACCURACY_KEYS) & set(recorded):
        assert abs(float_metrics[key] - recorded[key]) <= 0.0005, key
    assert meets_bar(metrics, float_metrics)


@pytest.fixture(scope="module")
def sample():
    x, y = onnx_models.mnist_sample("test")
    return (x.astype(np.float32) / 255.0)[..., None], y


@pytest.mark.parametrize("name", [n for n in TWINS if n in ("cnn", "cnn-invert", "vae-classifier")])
def test_twin_classifies_the_real_sample_as_the_float_model_does(name, sample):
    x, y = sample
    if name == "vae-classifier":
        x = (x > 0.5).astype(np.float32)
    images = np.concatenate([x, 1.0 - x]) if name == "cnn-invert" else x
    labels = np.concatenate([y, y]) if name == "cnn-invert" else y
    f = session(SHIPPED / f"{name}.onnx").run(None, {"image": images})[0]
    q = session(SHIPPED / f"{name}.int8.onnx").run(None, {"image": images})[0]
    # 200 images catch a broken twin, not a 0.1-point drift (that is the recorded full test
    # set's job, above): one answer here is 0.5 points. The weak 2-D latent classifier sits
    # near its decision boundaries, so a few of its answers flip either way.
    weak = name == "vae-classifier"
    assert np.mean(f.argmax(1) == q.argmax(1)) >= (0.95 if weak else 0.99)
    extra = np.sum(q.argmax(1) != labels) - np.sum(f.argmax(1) != labels)
    assert extra <= (0.02 * len(labels) if weak else 1)
    assert np.max(np.abs(f - q)) < 0.5


def test_int8_decoder_keeps_the_elbo_on_the_sample(sample):
    from trainer.quantize import elbo as ours

    x = (sample[0] > 0.5).astype(np.float32)
    encoder = session(SHIPPED / "vae-encoder.onnx")
    elbo = {p: ours(encoder, session(SHIPPED / f"vae-decoder{p}.onnx"), x) for p in ("", ".int8")}
    assert elbo[""] - elbo[".int8"] <= BARS["elbo"]


def test_trainer_and_runtime_share_the_bar():
    from trainer import quantize

    assert quantize.BARS == BARS
    assert quantize.meets_bar({"test_elbo": -156.0}, {"test_elbo": -155.6})
    assert not meets_bar({"test_accuracy": 0.9900}, {"test_accuracy": 0.9915})


@pytest.fixture
def shipped_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("cnn.onnx", "cnn.int8.onnx", "iris.onnx"):
        shutil.copy(SHIPPED / name, folder / name)
    return folder


def test_runtime_lists_twins_under_their_float_name(shipped_copy):
    runtime = Runtime(shipped_copy, "cpu")
    assert runtime.available() == ["cnn", "iris"]
    assert runtime.info("cnn.int8").precision == "int8"  # still loadable by its own name


@pytest.mark.parametrize("precision, used", [("auto", "int8"), ("int8", "int8"), ("float", "float")])
def test_precision_chooses_the_file(shipped_copy, precision, used):
    info = Runtime(shipped_copy, "cpu", precision=precision).info("cnn")
    assert info.precision == used
    assert info.path.name == ("cnn.int8.onnx" if used == "int8" else "cnn.onnx")
    assert Runtime(shipped_copy, "cpu", precision=precision).info("iris").precision == "float"


@pytest.mark.parametrize("precision", ["float", "int8"])
def test_classify_workers_run_the_parents_precision(shipped_copy, monkeypatch, precision):
    from tui.classify import pipeline

    monkeypatch.delenv("DL_TUI_PRECISION", raising=False)
    monkeypatch.setattr(pipeline, "_worker", None)
    pipeline._start_classifier([shipped_copy], ["cnn"], precision)  # as a worker process starts
    runtime, (info,) = pipeline._worker
    assert runtime.precision == precision and info.precision == precision


def test_precision_from_the_environment(shipped_copy, monkeypatch):
    monkeypatch.setenv("DL_TUI_PRECISION", "float")
    assert Runtime(shipped_copy, "cpu").info("cnn").precision == "float"
    monkeypatch.setenv("DL_TUI_PRECISION", "fp4")
    with pytest.raises(Exception, match="unknown precision"):
        Runtime(shipped_copy, "cpu")


def _rewrite_meta(path: Path, **changes: str) -> None:
    import onnx

    model = onnx.load(str(path))
    for prop in model.metadata_props:
        if prop.key in changes:
            prop.value = changes[prop.key]
    onnx.save(model, str(path))


def test_twin_of_another_float_model_is_ignored(shipped_copy):
    _rewrite_meta(shipped_copy / "cnn.int8.onnx", float_sha256="0" * 64)
    for precision in ("auto", "int8"):
        assert Runtime(shipped_copy, "cpu", precision=precision).info("cnn").precision == "float"


def test_twin_outside_the_bar_runs_only_when_asked(shipped_copy):
    _rewrite_meta(shipped_copy / "cnn.int8.onnx", metrics=json.dumps({"test_accuracy": 0.97}))
    assert Runtime(shipped_copy, "cpu").info("cnn").precision == "float"
    assert Runtime(shipped_copy, "cpu", precision="int8").info("cnn").precision == "int8"


def test_broken_twin_falls_back_to_float(shipped_copy):
    (shipped_copy / "cnn.int8.onnx").write_bytes(b"not a model")
    runtime = Runtime(shipped_copy, "cpu")
    assert runtime.info("cnn").precision == "float"
    assert runtime.predict("cnn", np.zeros((2, 28, 28), np.float32)).shape == (2, 10)


def test_big_batches_run_in_pieces_with_the_same_results(shipped_copy, sample):
    from tui.runtime import core

    runtime = Runtime(shipped_copy, "cpu", precision="float")
    x = np.concatenate([sample[0]] * 3)  # 600 images
    whole = session(shipped_copy / "cnn.onnx").run(None, {"image": x})[0]
    old, core.BATCH_PIECE = core.BATCH_PIECE, 128
    try:
        pieces = runtime.predict("cnn", x)
    finally:
        core.BATCH_PIECE = old
    np.testing.assert_allclose(pieces, whole, atol=1e-6)  # in order, though run side by side
    assert runtime._small["cnn"].get_session_options().intra_op_num_threads == 1


def test_transposed_convolution_rewrite_is_exact():
    """The decoder's rewrites on a small random ConvTranspose stack, against onnxruntime."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from trainer.graph import decoder_rewrites

    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((3, 5, 3, 3)).astype(np.float32)
    w2 = rng.standard_normal((5, 1, 3, 3)).astype(np.float32)
    b1 = rng.standard_normal(5).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("ConvTranspose", ["x", "w1", "b1"], ["h"], strides=[2, 2], pads=[0, 0, 1, 1], kernel_shape=[3, 3]),
         helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("ConvTranspose", ["r", "w2"], ["y"], strides=[1, 1], pads=[1, 1, 1, 1], kernel_shape=[3, 3])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 1, 8, 8])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b1, "b1")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    rewritten, names = decoder_rewrites(model)  # raises if the output changed
    assert "ConvTranspose" not in {n.op_type for n in rewritten.graph.node}
    assert {"MatMul", "Conv"} <= {n.op_type for n in rewritten.graph.node} and names


@pytest.mark.parametrize(("kernel", "opset"), [(5, 17), (3, 18)])
def test_first_layer_on_blocks_is_exact(kernel, opset):
    """The CNN's one-channel Conv + Relu + 2x2 MaxPool as SpaceToDepth + Conv + Max, on random weights."""
    pytest.importorskip("onnx")
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from trainer.graph import classifier_rewrites

    rng = np.random.default_rng(kernel)
    w1 = rng.standard_normal((6, 1, kernel, kernel)).astype(np.float32)
    w2 = rng.standard_normal((4, 6, 3, 3)).astype(np.float32)
    b1 = rng.standard_normal(6).astype(np.float32)
    pad = kernel // 2
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w1", "b1"], ["c"], kernel_shape=[kernel] * 2, pads=[pad] * 4),
         helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Conv", ["p", "w2"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 8, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4, 4, 3])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b1, "b1")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    rewritten, names = classifier_rewrites(model)  # raises if the output changed
    ops = [n.op_type for n in rewritten.graph.node]
    assert names and ops == ["SpaceToDepth", "Conv", "Relu", "Split", "Max", "Conv"]
    x = rng.random((3, 1, 8, 6)).astype(np.float32)
    before, after = (ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
                     .run(None, {"x": x})[0] for m in (model, rewritten))
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)

    model.graph.node[2].attribute[1].ints[:] = [1, 1]  # a MaxPool of stride 1: not a 2x2 block
    assert classifier_rewrites(model)[1] == []
