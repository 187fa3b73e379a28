"""The runtime on tiny real ONNX models: metadata, predictions, devices, errors."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import onnx_models
import onnxruntime as ort
import pytest

from tui.runtime import DeviceError, ModelError, ModelInfo, Runtime

HAS_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()


@pytest.fixture
def runtime(tiny_models):
    return Runtime(tiny_models, device="cpu")


@pytest.fixture
def digits():
    x, y = onnx_models.mnist_sample("test")
    return x.astype(np.float32) / 255.0, y


def test_available_lists_the_onnx_files_sorted(runtime, tiny_models):
    (tiny_models / "notes.txt").write_text("not a model")
    assert runtime.available() == sorted(onnx_models.NAMES)
    assert runtime.models_dir == tiny_models


def test_info_reads_every_metadata_key(runtime, tiny_models):
    info = runtime.info("cnn-invert")
    assert isinstance(info, ModelInfo)
    assert info.name == "cnn-invert"
    assert info.path == tiny_models / "cnn-invert.onnx"
    assert info.task == "classification"
    assert info.labels == [str(d) for d in range(10)]
    assert info.preprocessing.polarity == "white-on-black" and info.preprocessing.size == (28, 28)
    assert info.metrics["test_accuracy_inverted"] == 0.65
    assert info.history[0]["epoch"] == 1
    assert info.config["invert"] is True
    assert info.dataset["name"] == "mnist"
    assert info.created.startswith("2024-")
    assert "onnx" in info.versions
    assert info.parity == 0.0
    assert info.inputs == [("image", ["N", 28, 28, 1], "tensor(float)")]
    assert info.outputs == [("probabilities", ["N", 10], "tensor(float)")]
    assert info.size_bytes == (tiny_models / "cnn-invert.onnx").stat().st_size
    assert info.is_image_classifier


def test_info_of_encoder_decoder_and_iris(runtime):
    assert runtime.info("vae-encoder").outputs[1][0] == "logvar"
    assert runtime.info("vae-decoder").preprocessing.kind == "latent"
    iris = runtime.info("iris")
    assert iris.labels == onnx_models.IRIS_LABELS
    assert not iris.is_image_classifier


def test_labels_come_from_metadata_not_code(tiny_models):
    onnx_models.build("cnn", tiny_models, labels=list("abcdefghij"))
    assert Runtime(tiny_models).info("cnn").labels == list("abcdefghij")


def test_missing_keys_get_empty_values(tiny_models):
    onnx_models.build("cnn", tiny_models, metrics=None, history=None, parity=None)
    info = Runtime(tiny_models).info("cnn")
    assert (info.metrics, info.history, info.parity) == ({}, [], None)


@pytest.mark.parametrize("shape", [(28, 28), (28, 28, 1)])
def test_predict_matches_numpy(runtime, digits, shape):
    x, _ = digits
    batch = x[:16].reshape(16, *shape)
    probs = runtime.predict("cnn", batch)
    np.testing.assert_allclose(probs, onnx_models.reference("cnn", x[:16]), atol=1e-5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_predict_classifies_real_mnist_digits(runtime, digits):
    x, y = digits
    accuracy = (runtime.predict("cnn", x).argmax(axis=1) == y).mean()
    assert accuracy > 0.7  # the tiny nearest-centroid model, not a CNN


def test_predict_binarizes_when_the_metadata_says(runtime, digits):
    x, _ = digits
    got = runtime.predict("vae-classifier", x[:8])
    binary = (x[:8] > 0.5).astype(np.float32)
    np.testing.assert_allclose(got, onnx_models.reference("vae-classifier", binary), atol=1e-5)
    assert not np.allclose(got, onnx_models.reference("vae-classifier", x[:8]), atol=1e-4)


def test_predict_inverts_for_a_black_on_white_model(runtime, tiny_models, digits):
    x, _ = digits
    onnx_models.build_black_on_white(tiny_models)
    runtime.reload()
    # Given white-on-black input like every model, it answers as the cnn does on the same input.
    np.testing.assert_allclose(runtime.predict("cnn-bow", x[:8]), runtime.predict("cnn", x[:8]), atol=1e-5)
    assert runtime.info("cnn-bow").preprocessing.model_view(x[:1]).max() == 1.0 - x[:1].min()


@pytest.mark.parametrize(("preprocessing", "message"), [
    ({"kind": "image", "size": "28x28"}, "'size' should be two positive whole numbers"),
    ({"kind": "image", "polarity": "grey"}, "'polarity' should be white-on-black or black-on-white"),
    ({"kind": "image", "binarize": "half"}, "'binarize' should be a number or null"),
    ({"kind": "features", "features": "sepal"}, "'features' should be a list"),
])
def test_preprocessing_it_cannot_use_is_a_model_error(tiny_models, preprocessing, message):
    onnx_models.build("cnn", tiny_models, preprocessing=preprocessing)
    with pytest.raises(ModelError, match=f"model cnn is unusable: preprocessing {message}"):
        Runtime(tiny_models).info("cnn")


def test_predict_iris_features(runtime):
    flowers = np.array([[5.1, 3.5, 1.4, 0.2], [6.0, 2.9, 4.5, 1.5], [6.9, 3.1, 5.9, 2.3]])
    assert runtime.predict("iris", flowers).argmax(axis=1).tolist() == [0, 1, 2]


def test_predict_refuses_wrong_sizes_and_non_classifiers(runtime):
    with pytest.raises(ValueError, match="28"):
        runtime.predict("cnn", np.zeros((1, 32, 32), np.float32))
    with pytest.raises(ValueError, match="not a classifier"):
        runtime.predict("vae-encoder", np.zeros((1, 28, 28), np.float32))


def test_run_returns_raw_outputs_by_name(runtime, digits):
    x, _ = digits
    out = runtime.run("vae-encoder", {"image": x[:4, :, :, None]})
    mean, logvar = onnx_models.reference("vae-encoder", x[:4])
    np.testing.assert_allclose(out["mean"], mean, atol=1e-5)
    np.testing.assert_allclose(out["logvar"], logvar, atol=1e-5)
    z = np.array([[0.0, 0.0], [1.0, -1.0]], np.float32)
    logits = runtime.run("vae-decoder", {"z": z})["logits"]
    assert logits.shape == (2, 28, 28, 1)
    np.testing.assert_allclose(logits, onnx_models.reference("vae-decoder", z), atol=1e-5)


def test_reload_finds_new_models_and_drops_old_sessions(tiny_models):
    runtime = Runtime(tiny_models)
    runtime.info("cnn")
    onnx_models.build("cnn", tiny_models, filename="cnn-v2", description="retrained")
    assert "cnn-v2" not in runtime.available()
    onnx_models.build("cnn", tiny_models, description="changed")
    runtime.reload()
    assert "cnn-v2" in runtime.available()
    assert runtime.info("cnn").description == "changed"


def test_unknown_and_broken_models_are_one_line_model_errors(tiny_models):
    (tiny_models / "broken.onnx").write_bytes(b"\x00 not protobuf")
    runtime = Runtime(tiny_models)
    with pytest.raises(ModelError, match="no model 'nope'"):
        runtime.info("nope")
    with pytest.raises(ModelError, match="cannot load model") as error:
        runtime.info("broken")
    assert "\n" not in str(error.value)


def test_bad_json_metadata_is_a_model_error(tiny_models):
    onnx_models.build("cnn", tiny_models, labels="[not json")
    with pytest.raises(ModelError, match="labels"):
        Runtime(tiny_models).info("cnn")


def test_missing_folder_has_no_models(tmp_path):
    assert Runtime(tmp_path / "nowhere").available() == []


def test_models_dir_defaults_to_env(tiny_models, monkeypatch):
    monkeypatch.setenv("DL_TUI_MODELS", str(tiny_models))
    assert Runtime().models_dir == tiny_models


def test_cpu_provider_is_what_really_runs(runtime):
    assert runtime.provider == "CPUExecutionProvider"


def test_auto_reports_the_provider_that_really_runs(tiny_models):
    runtime = Runtime(tiny_models, device="auto")
    session_providers = runtime._session("cnn").get_providers()
    assert runtime.provider == session_providers[0]


@pytest.mark.skipif(HAS_CUDA, reason="CUDA provider present")
def test_cuda_without_cuda_is_a_device_error(tiny_models):
    with pytest.raises(DeviceError, match="CUDA"):
        Runtime(tiny_models, device="cuda")


@pytest.mark.filterwarnings("ignore:Specified provider")
def test_cuda_that_falls_back_is_a_device_error(tiny_models, monkeypatch):
    # onnxruntime-gpu without CUDA libraries lists the provider, then runs on the CPU.
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    runtime = Runtime(tiny_models, device="cuda")
    if HAS_CUDA:
        pytest.skip("CUDA really runs here")
    with pytest.raises(DeviceError, match="fell back"):
        runtime.info("cnn")


def test_interactive_sessions_do_not_spin(tiny_models):
    options = Runtime(tiny_models, interactive=True).session_options
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"


def test_a_small_batch_runs_on_one_thread_with_the_same_file_and_results(runtime, digits):
    images = digits[0][:8]
    whole = runtime.predict("cnn", images)  # more than SMALL_BATCH: the main session
    alone = np.concatenate([runtime.predict("cnn", images[i : i + 1]) for i in range(8)])
    np.testing.assert_allclose(alone, whole, rtol=1e-5, atol=1e-6)
    small, main = runtime._small["cnn"], runtime._sessions["cnn"]
    assert small.get_session_options().intra_op_num_threads == 1
    assert main.get_session_options().intra_op_num_threads != 1
    assert small._model_path == main._model_path


def test_metadata_is_json_in_the_file(tiny_models):
    # What the trainer writes is what we read: strings, JSON where the contract says.
    session = ort.InferenceSession(str(tiny_models / "cnn.onnx"), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["labels"])[0] == "0"
    assert set(meta) >= {"model", "task", "description", "labels", "preprocessing", "metrics",
                         "history", "config", "dataset", "created", "versions", "parity"}


def test_the_parity_of_an_int8_twin_is_against_its_float_model_not_tensorflow(tiny_models):
    from tui.model_text import details

    made_from = hashlib.sha256((tiny_models / "cnn.onnx").read_bytes()).hexdigest()
    onnx_models.build("cnn", tiny_models, "cnn.int8", precision="int8", parity="2e-03", parity_reference="float",
                      float_sha256=made_from, float_metrics={"test_accuracy": 0.75})
    info = Runtime(tiny_models, device="cpu", precision="int8").info("cnn")
    lines = dict(details(info, "shipped", "CPUExecutionProvider"))
    assert info.precision == "int8"
    assert lines["parity"] == "2.0e-03 (largest difference, int8 against the float model)"
    float_lines = dict(details(Runtime(tiny_models, device="cpu", precision="float").info("cnn"), "", ""))
    assert float_lines["parity"] == "0.0e+00 (largest difference, onnxruntime against TensorFlow)"
