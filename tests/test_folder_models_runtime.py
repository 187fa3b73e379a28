"""Models trained on a folder (`fit: stretch`, docs/model-contract.md) in dl-tui's runtime and
`dl-tui classify`: colour and non-square inputs made from the model's own metadata, side by
side with the MNIST models, each with its own input; bad values refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import onnx_models
from onnx_models import COLOURS
from tui.classify import app as classify_app
from tui.runtime import Runtime
from tui.runtime.classifier import classify_image
from tui.runtime.errors import UnusableModel
from tui.runtime.preprocess import load_image, picture_array

GREY_LABELS = ["left", "middle", "right"]
GREY_SIZE = (10, 24)  # non-square: height 10, width 24
COLOUR_SIZE = (12, 20)
RGB = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (20, 40, 230)}


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """cnn (MNIST, 28x28), a colour folder model and a grey non-square one (bicubic)."""
    folder = tmp_path / "models"
    onnx_models.build("cnn", folder)
    onnx_models.build_stretch(folder, "colours", COLOURS, COLOUR_SIZE, 3)
    onnx_models.build_stretch(folder, "stripes", GREY_LABELS, GREY_SIZE, 1, resize="bicubic")
    return folder


def colour_picture(name: str, size: tuple[int, int] = (37, 23), seed: int = 0) -> Image.Image:
    """A noisy picture of one colour, of another size than the model's."""
    rng = np.random.default_rng(seed)
    a = np.clip(np.array(RGB[name]) + rng.normal(0, 20, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(a, "RGB")


def stripe_picture(band: int, dark_on_light: bool = False, size: tuple[int, int] = (60, 30)) -> Image.Image:
    """A grey picture with a bright (or dark, on white) vertical stripe in one of three bands."""
    width, height = size
    a = np.full((height, width), 255 if dark_on_light else 0, np.uint8)
    a[:, band * width // 3: (band + 1) * width // 3] = 0 if dark_on_light else 255
    return Image.fromarray(a, "L")


def test_a_folder_models_metadata_is_read(models: Path) -> None:
    info = Runtime(models, "cpu").info("stripes")
    prep = info.preprocessing
    assert (prep.fit, prep.resize, prep.size, prep.channels) == ("stretch", "bicubic", GREY_SIZE, 1)
    assert info.evaluation is not None and info.evaluation["accuracy"] == 1.0
    assert info.dataset["classes"] == GREY_LABELS


@pytest.mark.parametrize("key, value, words", [
    ("preprocessing", {"kind": "image", "size": [12, 20], "channels": 3, "fit": "crop"}, "'fit' should be mnist or stretch"),
    ("preprocessing", {"kind": "image", "size": [12, 20], "channels": 3, "fit": "stretch", "resize": "lanczos"},
     "'resize' should be bilinear, bicubic, nearest, area"),
    ("preprocessing", {"kind": "image", "size": [12, 20], "channels": 3, "fit": "stretch", "range": [-1, 1]},
     "'range' should be [0, 1]"),
    ("evaluation", {"accuracy": 1.5}, "evaluation 'accuracy' should be a fraction"),
    ("evaluation", {"confusion": {"labels": COLOURS, "matrix": [[1, 0], [0, 1]]}}, "square matrix"),
    ("evaluation", [1, 2], "should be a JSON object"),
    ("dataset", {"name": "folder", "classes": COLOURS, "train": -1}, "dataset 'train' should be a whole number"),
    ("dataset", {"name": "folder", "counts": {"train": {"red": "many"}}}, "dataset 'counts'"),
])
def test_a_bad_folder_model_value_is_an_unusable_model_in_one_line(tmp_path: Path, key: str, value: object,
                                                                    words: str) -> None:
    onnx_models.build_stretch(tmp_path, "bad", COLOURS, COLOUR_SIZE, 3, **{key: value})
    with pytest.raises(UnusableModel) as caught:
        Runtime(tmp_path, "cpu").info("bad")
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_colour_model_gets_the_whole_picture_stretched_in_colour(models: Path, tmp_path: Path) -> None:
    runtime = Runtime(models, "cpu")
    info = runtime.info("colours")
    for k, name in enumerate(["red", "green", "blue"]):
        path = tmp_path / f"{name}.png"
        colour_picture(name, seed=k).save(path)
        picture = load_image(path, colour=True)
        (found,) = classify_image(runtime, [info], picture)
        x = picture_array(picture, COLOUR_SIZE, 3, "bilinear").astype(np.float32) / 255
        assert found.model_input is not None and found.model_input.shape == (*COLOUR_SIZE, 3)
        np.testing.assert_array_equal(found.model_input, x)
        expected = onnx_models.reference_stretch(COLOUR_SIZE, 3, 3, x[None])[0]
        np.testing.assert_allclose(found.probabilities, expected, rtol=1e-5, atol=1e-6)
        assert found.label == name


def test_a_grey_non_square_model_keeps_the_picture_unless_told(models: Path) -> None:
    runtime = Runtime(models, "cpu")
    info = runtime.info("stripes")
    dark = stripe_picture(2, dark_on_light=True)
    # As it is (no polarity, no centring): the light bands win, not the dark stripe.
    (kept,) = classify_image(runtime, [info], dark, None, None)
    x = picture_array(dark, GREY_SIZE, 1, "bicubic")[..., 0].astype(np.float32) / 255
    np.testing.assert_array_equal(kept.model_input, x)
    assert kept.label != "right"
    # --polarity invert, given: the stripe is bright and found.
    (inverted,) = classify_image(runtime, [info], dark, "invert", None)
    np.testing.assert_allclose(inverted.model_input, 1 - x, atol=1e-6)
    assert inverted.label == "right"


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(classify_app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_all_runs_models_of_different_sizes_and_channels_side_by_side(models: Path, tmp_path: Path) -> None:
    """`-m all`: the MNIST cnn, a colour 12x20 and a grey 10x24 model, each on its own input
    from one decoding of each file, with the numbers each would give alone."""
    onnx_models.build_sized(models, (20, 16))  # an MNIST-steps model of another size too
    folder = tmp_path / "pictures"
    folder.mkdir()
    x, y = onnx_models.mnist_sample("test")
    files = {"digit.png": Image.fromarray(x[0]), "red.png": colour_picture("red"),
             "stripe.png": stripe_picture(1)}
    for name, picture in files.items():
        picture.save(folder / name)
    code, out, err = run(folder, "--models", models, "-m", "all", "-f", "jsonl", "--workers", "1", "-q")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    by = {(Path(r["path"]).name, r["model"]): r for r in rows}
    assert {model for _, model in by} == {"cnn", "colours", "stripes", "digits-20x16"}
    assert by["red.png", "colours"]["label"] == "red"
    assert by["stripe.png", "stripes"]["label"] == "middle"
    assert by["digit.png", "cnn"]["label"] == str(y[0])
    for name in files:  # each model's numbers are those it gives alone
        for model in ("colours", "stripes"):
            code, alone, _ = run(folder / name, "--models", models, "-m", model, "-f", "jsonl", "-q")
            assert json.loads(alone)["probabilities"] == by[name, model]["probabilities"]


def test_many_files_on_worker_processes_give_the_numbers_of_one_process(models: Path, tmp_path: Path) -> None:
    """Past one task's worth of files the workers decode and run the models: same rows."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(150):
        (colour_picture(COLOURS[i % 3], seed=i) if i % 2 else stripe_picture(i % 3)).save(folder / f"{i:03d}.png")
    args = (folder, "--models", models, "-m", "colours", "-m", "stripes", "-m", "cnn", "-f", "jsonl", "-q")
    code1, one, _ = run(*args, "--workers", "1")
    code2, two, _ = run(*args, "--workers", "2")
    assert code1 == code2 == 0
    assert one == two
    assert len(one.splitlines()) == 450


def test_normalize_given_centres_a_grey_folder_models_picture_as_mnist(models: Path) -> None:
    """--normalize, given, is MNIST's crop and centring for a grey stretch model (and nothing
    for a colour one); --no-normalize is its default."""
    from tui.runtime.preprocess import to_model_input

    runtime = Runtime(models, "cpu")
    stripes, colours = runtime.info("stripes"), runtime.info("colours")
    picture = stripe_picture(0)
    (centred,) = classify_image(runtime, [stripes], picture, None, True)
    np.testing.assert_array_equal(centred.model_input, to_model_input(picture, "keep", True, GREY_SIZE))
    (plain,) = classify_image(runtime, [stripes], picture, None, False)
    (default,) = classify_image(runtime, [stripes], picture, None, None)
    np.testing.assert_array_equal(plain.model_input, default.model_input)
    red = colour_picture("red")
    (given,) = classify_image(runtime, [colours], red, None, True)
    (own,) = classify_image(runtime, [colours], red, None, None)
    np.testing.assert_array_equal(given.model_input, own.model_input)
