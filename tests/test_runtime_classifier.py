"""tui.runtime.classifier: the one path that classifies an image with every model, for the app and the CLI.

Real tiny ONNX models (tests/onnx_models.py), one of them for 20x16 grey images and one for
12x12 colour images: each model gets the picture at the size and channels its metadata says.
"""

from __future__ import annotations

import json

import numpy as np
import onnx_models
import pytest
from click.testing import CliRunner
from PIL import Image

from tui.runtime import Runtime
from tui.runtime.classifier import (
    catalogue,
    classifiers,
    classify_image,
    result,
    verdict,
)
from tui.runtime.errors import DeviceError
from tui.runtime.ood import Ood
from tui.runtime.preprocess import to_model_input


@pytest.fixture
def sized_models(tmp_path):
    """cnn (28x28), digits-20x16 (grey) and digits-12x12-rgb (3 channels), and one model off the contract."""
    folder = tmp_path / "sized"
    onnx_models.build("cnn", folder)
    onnx_models.build_sized(folder, (20, 16))
    onnx_models.build_sized(folder, (12, 12), channels=3)
    onnx_models.build_variant("1d", folder)
    return folder


def test_the_catalogue_lists_the_image_classifiers_and_says_why_others_are_left_out(sized_models, tiny_models):
    found = catalogue(Runtime(sized_models, "cpu"))
    assert [info.name for info in found.models] == ["cnn", "digits-12x12-rgb", "digits-20x16"]
    (line,) = found.skipped
    assert line.startswith("skipped model cnn-1d, unusable: its output 'probabilities' is [N] (1-d)")
    # Encoders, decoders and the iris model are no image classifiers; nothing is left out.
    tiny = catalogue(Runtime(tiny_models, "cpu"))
    assert [info.name for info in tiny.models] == ["cnn", "cnn-invert", "vae-classifier"]
    assert tiny.skipped == []


def test_each_model_gets_the_picture_at_its_own_size_and_channels(sized_models):
    runtime = Runtime(sized_models, "cpu")
    models = catalogue(runtime).models
    digits, labels = onnx_models.mnist_sample()
    picture = Image.fromarray(digits[0])
    results = classify_image(runtime, models, picture)
    assert [r.model for r in results] == ["cnn", "digits-12x12-rgb", "digits-20x16"]
    for r, size, channels in zip(results, [(28, 28), (12, 12), (20, 16)], [1, 3, 1], strict=False):
        assert r.error is None, r.error
        np.testing.assert_array_equal(r.model_input, to_model_input(picture, size=size))
        reference = (onnx_models.reference("cnn", r.model_input[None]) if r.model == "cnn"
                     else onnx_models.reference_sized(size, channels, r.model_input[None]))
        np.testing.assert_allclose(r.probabilities, reference[0], rtol=1e-5, atol=1e-6)
        assert r.labels == tuple(onnx_models.DIGITS)
        assert r.label == str(labels[0]) and r.confidence == max(r.probabilities.tolist())
        assert r.ood is None  # no calibration in their metadata
    # Polarity and centring are the caller's, as in `dl-tui classify`.
    flat = classify_image(runtime, models[2:], Image.fromarray(255 - digits[0]), "invert", normalize=False)
    np.testing.assert_allclose(flat[0].model_input, to_model_input(picture, "keep", False, (20, 16)), atol=1e-6)


def test_a_failing_model_gets_its_error_and_the_others_still_run(tmp_path):
    folder = tmp_path / "models"
    onnx_models.build("cnn", folder)
    onnx_models.build_nan(folder)
    onnx_models.build_variant("broken-run", folder)
    runtime = Runtime(folder, "cpu")
    results = {r.model: r for r in classify_image(runtime, catalogue(runtime).models,
                                                  Image.fromarray(onnx_models.mnist_sample()[0][1]))}
    assert results["cnn"].error is None and results["cnn"].label is not None
    assert results["cnn-nan"].error == "model produced NaN" and results["cnn-nan"].probabilities is None
    assert results["cnn-nan"].label is None and results["cnn-nan"].top() == []
    assert results["cnn-broken-run"].error and "\n" not in results["cnn-broken-run"].error


def test_the_ood_verdict_comes_with_the_result(tmp_path):
    folder = tmp_path / "models"
    onnx_models.build("cnn", folder, ood={"method": "max-softmax", "threshold": 0.0})
    runtime = Runtime(folder, "cpu")
    (r,) = classify_image(runtime, catalogue(runtime).models, Image.fromarray(onnx_models.mnist_sample()[0][2]))
    assert r.ood is not None and r.ood.flagged and r.ood.threshold == 0.0 and r.ood.method == "max-softmax"
    assert r.ood.score == pytest.approx(1 - max(r.probabilities.tolist()))
    assert r.ood.item() == {"score": r.ood.score, "flagged": True}


def test_result_checks_the_probabilities_and_orders_the_labels():
    good = result("m", ["a", "b", "c"], np.array([0.2, 0.5, 0.3], np.float32))
    assert (good.label, good.error) == ("b", None)
    assert [label for label, _ in good.top(2)] == ["b", "c"] and len(good.top()) == 3
    assert good.by_label() == pytest.approx({"a": 0.2, "b": 0.5, "c": 0.3})
    assert result("m", ["a", "b"], np.array([0.4, 0.4])).error == "model's probabilities sum to 0.8, not 1"
    assert result("m", ["a", "b"], np.array([np.inf, 0.0])).error == "model produced infinity"
    assert result("m", ["only"], np.array([0.5, 0.5])).labels == ("0", "1")  # labels that do not fit
    assert result("m", ["a", "b"], np.array([0.5, 0.5])).label == "a"  # the first of equals
    ood = Ood(np.array([0.1, float("nan")]), np.array([False, True]), 0.5, "energy")
    assert verdict(ood, 0).item() == {"score": 0.1, "flagged": False}
    assert verdict(ood, 1).flagged and verdict(None, 0) is None


def test_dl_tui_classify_agrees_with_the_one_image_path(sized_models, tmp_path):
    from tui.classify import app as classify_app

    digits, _ = onnx_models.mnist_sample()
    path = tmp_path / "four.png"
    Image.fromarray(digits[0]).save(path)
    runtime = Runtime(sized_models, "cpu")
    models = [info for info in catalogue(runtime).models if info.name == "digits-20x16"]
    (expected,) = classify_image(runtime, models, Image.open(path))
    out = CliRunner().invoke(classify_app, [str(path), "--models", str(sized_models), "-m", "digits-20x16",
                                            "-f", "jsonl"])
    assert out.exit_code == 0, out.output
    (row,) = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert row["label"] == expected.label
    assert row["probabilities"] == pytest.approx(expected.by_label(), abs=1e-6)


def test_a_device_error_is_the_runs_for_the_cli_and_one_line_for_the_app(tiny_models):
    # CUDA that falls back is only seen on a machine with a GPU: a Runtime whose cnn says so stands in.
    class FallsBack(Runtime):
        def info(self, name):
            if name == "cnn":
                raise DeviceError("CUDA was asked for but onnxruntime fell back to the CPU")
            return super().info(name)

    runtime = FallsBack(tiny_models, "cpu")
    with pytest.raises(DeviceError):
        classifiers(runtime, print)
    found = catalogue(runtime)
    assert [info.name for info in found.models] == ["cnn-invert", "vae-classifier"]
    assert found.skipped == ["skipped model cnn: CUDA was asked for but onnxruntime fell back to the CPU"]
