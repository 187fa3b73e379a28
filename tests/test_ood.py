"""The out-of-distribution warning: scores and flags from the runtime, the shipped CNNs' head,
and the OOD fields of `dl-tui classify` (docs/ood.md)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import onnx_models
import pytest
from PIL import Image, ImageDraw, ImageFont
from click.testing import CliRunner

from tui.classify import app as classify_app
from tui.runtime import Runtime, to_model_input
from tui.runtime.ood import Ood, calibration, from_outputs

EXPORTED = Path(__file__).resolve().parents[1] / "exported"
SHIPPED = ("cnn", "cnn-invert")
# Both trained with the energy loss and scored by their energy (docs/ood.md).
METHOD = {"cnn": "energy", "cnn-invert": "energy"}
SOFTMAX_OOD = {"method": "max-softmax", "threshold": 0.3, "false_flag_rate": 0.05}


def letter(char: str) -> np.ndarray:
    """A printed capital, dark on light as on paper, as `dl-tui` would read it: [28, 28]."""
    img = Image.new("L", (64, 64), 255)
    ImageDraw.Draw(img).text((32, 32), char, fill=0, font=ImageFont.load_default(size=40), anchor="mm")
    return to_model_input(img)


def noise(count: int = 8) -> np.ndarray:
    return np.random.default_rng(0).random((count, 28, 28)).astype(np.float32)


@pytest.fixture(scope="module")
def shipped() -> Runtime:
    return Runtime(EXPORTED, device="cpu")


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("precision", ["float", "auto"])
def test_shipped_cnns_flag_noise_and_letters_not_mnist_digits(name, precision):
    runtime = Runtime(EXPORTED, device="cpu", precision=precision)
    digits, _ = onnx_models.mnist_sample("test")
    ood = runtime.ood(name, digits / 255.0)
    assert isinstance(ood, Ood) and ood.method == METHOD[name] and len(ood) == len(digits)
    # calibrated at 5% false flags on other MNIST test images: 200 real digits, a few at most
    assert ood.flags.mean() <= 0.08
    assert runtime.ood(name, noise()).flags.all()
    letters = runtime.ood(name, np.stack([letter("A"), letter("E")]))
    assert letters.flags.all(), letters.scores


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_metadata_records_the_threshold_and_probabilities_are_unchanged(shipped, name):
    info = shipped.info(name)
    assert info.ood["output"] == "ood_score" and info.ood["false_flag_rate"] == 0.05
    assert calibration(info.ood) == (METHOD[name], info.ood["threshold"])
    digits, labels = onnx_models.mnist_sample("test")
    probs, ood = shipped.predict_ood(name, digits / 255.0)
    np.testing.assert_array_equal(probs, shipped.predict(name, digits / 255.0))
    assert (probs.argmax(axis=1) == labels).mean() >= 0.97
    np.testing.assert_array_equal(ood.flags, ood.scores > info.ood["threshold"])


def test_max_softmax_method_on_any_classifier(tiny_models):
    onnx_models.build("cnn", tiny_models, ood=SOFTMAX_OOD)
    runtime = Runtime(tiny_models)
    digits, _ = onnx_models.mnist_sample("test")
    probs, ood = runtime.predict_ood("cnn", digits[:20] / 255.0)
    np.testing.assert_allclose(ood.scores, 1.0 - probs.max(axis=1))
    np.testing.assert_array_equal(ood.flags, ood.scores > 0.3)
    assert ood.item(0) == {"score": pytest.approx(ood.scores[0]), "flagged": bool(ood.flags[0])}
    assert ood.method == "max-softmax" and ood.threshold == 0.3
    assert runtime.ood("cnn", noise()).flags.all()  # the tiny model is never sure of noise
    assert runtime.ood("vae-classifier", noise()) is None  # no calibration, no score


@pytest.mark.parametrize("meta", [None, {}, {"method": "max-softmax"}, {"method": "x", "threshold": 1},
                                  {"method": "max-softmax", "threshold": "nan"}, {"output": 3, "threshold": 1}])
def test_unusable_calibrations_give_no_score(meta):
    probs = np.full((2, 10), 0.1)
    assert from_outputs(meta, {"probabilities": probs}, probs) is None


def test_a_missing_score_output_gives_no_score_and_nan_is_flagged():
    probs = np.full((2, 10), 0.1)
    meta = {"method": "feature-head", "output": "ood_score", "threshold": 0.0}
    assert from_outputs(meta, {"probabilities": probs}, probs) is None
    ood = from_outputs(meta, {"ood_score": np.array([np.nan, -1.0], np.float32)}, probs)
    assert ood.flags.tolist() == [True, False]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two real MNIST digits (neither flagged by the shipped CNNs) and one picture of noise."""
    images = tmp_path / "images"
    images.mkdir()
    digits, _ = onnx_models.mnist_sample("test")
    for index in (1, 2):  # not 0: an open-topped 4, one of the 3% of the sample `cnn` flags
        Image.fromarray(digits[index]).save(images / f"digit-{index}.png")
    Image.fromarray((noise(1)[0] * 255).astype(np.uint8)).save(images / "noise.png")
    return images


def classify(models: Path, folder: Path, *args: str, workers: int = 1):
    return CliRunner().invoke(classify_app, [str(folder), "--models", str(models), "--workers", str(workers), *args])


@pytest.mark.parametrize("workers", [1, 2])  # 2: the scores travel back from worker processes
def test_classify_writes_the_ood_field_in_jsonl_and_csv(folder, workers):
    result = classify(EXPORTED, folder, "-m", "cnn", "-m", "vae-classifier", "--format", "jsonl", workers=workers)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    cnn = {Path(line["path"]).name: line["ood"] for line in lines if line["model"] == "cnn"}
    assert cnn["noise.png"]["flagged"] is True and cnn["digit-1.png"]["flagged"] is False
    assert cnn["digit-1.png"]["score"] < cnn["noise.png"]["score"]
    assert all("ood" not in line for line in lines if line["model"] == "vae-classifier")

    result = classify(EXPORTED, folder, "-m", "cnn", "-m", "vae-classifier", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    by = {(Path(r["path"]).name, r["model"]): r for r in rows}
    assert by["noise.png", "cnn"]["ood_flagged"] == "true" and by["digit-2.png", "cnn"]["ood_flagged"] == "false"
    assert float(by["noise.png", "cnn"]["ood_score"]) == pytest.approx(cnn["noise.png"]["score"], rel=1e-5)
    assert by["noise.png", "vae-classifier"]["ood_score"] == by["noise.png", "vae-classifier"]["ood_flagged"] == ""


def test_classify_table_marks_flagged_images_and_the_summary_counts_them(tiny_models, folder):
    onnx_models.build("cnn", tiny_models, ood=SOFTMAX_OOD)  # any calibrated model will do
    result = classify(tiny_models, folder, "-m", "cnn", "--format", "table")
    assert result.exit_code == 0, result.output
    table = {line.split()[0].rsplit("/", 1)[-1]: line for line in result.stdout.splitlines()[1:] if line.strip()}
    assert table["noise.png"].rstrip().endswith("?")
    assert not table["digit-1.png"].rstrip().endswith("?")
    assert "1 flagged (?) as not like a digit" in result.stderr


def test_no_ood_count_without_a_calibrated_model(tiny_models, folder):
    result = classify(tiny_models, folder, "-m", "cnn", "--format", "jsonl")
    assert result.exit_code == 0
    assert "flagged" not in result.stderr
    assert all("ood" not in json.loads(line) for line in result.stdout.splitlines())
