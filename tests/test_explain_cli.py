"""`dl-tui explain PATH... -m NAME`: real pictures in, real PNG overlays, .npy maps and JSON lines out.

The models are tests/onnx_models.py's tiny real ones: the digit classifiers read real MNIST
digits, and the colour folder model calls a picture by its strongest channel, so a red square
on grey is where its evidence for `red` must be.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import onnx_models
from onnx_models import COLOURS
from tui.classify import app as classify_app
from tui.classify.explain_command import SCALE, app as explain_app, safe_name
from tui.cli import main, mistyped_command
from tui.runtime import Runtime
from tui.runtime.classifier import input_for, model_inputs
from tui.runtime.explain import explain
from tui.runtime.preprocess import load_image

SIZE = (12, 20)  # the colour model's input, height x width
KEYS = {"path", "model", "label", "confidence", "regions", "method", "overlay", "error"}


@pytest.fixture
def models(tiny_models: Path) -> Path:
    """The six tiny models and a colour folder model."""
    onnx_models.build_stretch(tiny_models, "colours", COLOURS, SIZE, 3)
    return tiny_models


@pytest.fixture
def digits(tmp_path: Path) -> Path:
    """Four real MNIST test digits as PNG files."""
    return onnx_models.digit_pngs(tmp_path / "digits", 4)


def red_square(path: Path) -> Path:
    """A grey 40x24 picture with a red square at x 20-31, y 8-15: at the colour model's 20x12,
    x 10-15, y 4-7."""
    a = np.full((24, 40, 3), 128, np.uint8)
    a[8:16, 20:32] = (230, 20, 20)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a, "RGB").save(path)
    return path


def run(*args: object) -> tuple[int, list[dict], str]:
    """`dl-tui explain ARGS -q`: the exit code, the JSON lines, stderr."""
    result = CliRunner().invoke(explain_app, [*map(str, args), "-q"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def classify(*args: object) -> list[dict]:
    result = CliRunner().invoke(classify_app, [*map(str, args), "-f", "jsonl", "-q"])
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_overlays_maps_and_lines_for_each_digit(models: Path, digits: Path, tmp_path: Path) -> None:
    out, maps = tmp_path / "out", tmp_path / "maps"
    code, lines, err = run(digits, "-m", "cnn", "--models", models, "--out", out, "--maps", maps)
    assert code == 0, err
    assert err == ""
    expected = {row["path"]: row for row in classify(digits, "-m", "cnn", "--models", models)}
    assert [line["path"] for line in lines] == sorted(str(p) for p in digits.glob("*.png"))
    for line in lines:
        stem = Path(line["path"]).stem
        assert set(line) == KEYS | {"map"}
        assert line["error"] is None and line["model"] == "cnn" and line["method"]
        # Without --class: the class explained is classify's top label, at its probability.
        assert line["label"] == expected[line["path"]]["label"]
        assert line["confidence"] == pytest.approx(expected[line["path"]]["confidence"], abs=1e-5)
        assert line["overlay"] == str(out / f"{stem}.cnn.png")
        with Image.open(out / f"{stem}.cnn.png") as picture:
            assert picture.format == "PNG" and picture.mode == "RGB"
            assert picture.size == (28 * SCALE, 28 * SCALE)
        heat = np.load(maps / f"{stem}.npy", allow_pickle=False)
        assert heat.dtype == np.float32 and heat.shape == (28, 28)
        assert line["map"] == str(maps / f"{stem}.npy")
        assert line["regions"] and all({"x", "y", "width", "height", "share"} <= set(r) for r in line["regions"])
        for region in line["regions"]:
            assert 0 <= region["x"] < region["x"] + region["width"] <= 28
            assert 0 <= region["y"] < region["y"] + region["height"] <= 28
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{p.stem}.cnn.png" for p in digits.glob("*.png"))


def test_the_map_is_the_explanation_of_the_input_classify_makes(models: Path, digits: Path, tmp_path: Path) -> None:
    """Pixel for pixel: the .npy is explain() of the model input classify's path makes of the file."""
    code, lines, err = run(digits / "0001.png", "-m", "cnn", "--models", models,
                           "--out", tmp_path / "out", "--maps", tmp_path / "maps")
    assert code == 0, err
    runtime = Runtime(models, "cpu")
    info = runtime.info("cnn")
    x = input_for(model_inputs(load_image(digits / "0001.png"), [info]), info)
    assert x is not None
    found = explain(runtime, info, x, None, lines[0]["method"])
    np.testing.assert_allclose(np.load(tmp_path / "maps" / "0001.npy"), found.heat, rtol=1e-5, atol=1e-6)
    assert lines[0]["regions"] == json.loads(json.dumps(found.regions(3)))


def test_class_explains_another_label(models: Path, digits: Path, tmp_path: Path) -> None:
    (row,) = classify(digits / "0000.png", "-m", "cnn", "--models", models)
    other = next(label for label in onnx_models.DIGITS if label != row["label"])
    code, lines, err = run(digits / "0000.png", "-m", "cnn", "--models", models, "--class", other,
                           "--out", tmp_path / "out", "--maps", tmp_path / "maps")
    assert code == 0, err
    (line,) = lines
    assert line["label"] == other
    assert line["confidence"] == pytest.approx(row["probabilities"][other], abs=1e-5)
    top = np.load(tmp_path / "maps" / "0000.npy")
    run(digits / "0000.png", "-m", "cnn", "--models", models, "--out", tmp_path / "out",
        "--maps", tmp_path / "top")
    assert not np.allclose(top, np.load(tmp_path / "top" / "0000.npy"))  # another class, another map


def test_unknown_class_is_a_usage_error_naming_the_labels(models: Path, digits: Path, tmp_path: Path) -> None:
    code, lines, err = run(digits, "-m", "colours", "--models", models, "--class", "purple",
                           "--out", tmp_path / "out")
    assert code == 2 and lines == []
    assert err.count("\n") == 1
    assert "purple" in err and "blue, green, red" in err
    assert not (tmp_path / "out").exists()  # nothing written before the error


def test_a_model_that_is_no_image_classifier_is_a_usage_error(models: Path, digits: Path, tmp_path: Path) -> None:
    for name in ("iris", "vae-encoder", "nonesuch"):
        code, lines, err = run(digits, "-m", name, "--models", models, "--out", tmp_path / "out")
        assert code == 2 and lines == [], name
        assert err.count("\n") == 1 and "Traceback" not in err, err


def test_a_bad_file_gets_its_error_line_and_the_rest_are_written(models: Path, digits: Path, tmp_path: Path) -> None:
    (digits / "0002.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    code, lines, err = run(digits, "-m", "cnn", "--models", models, "--out", out)
    assert code == 1, err
    bad = [line for line in lines if line["error"] is not None]
    assert [line["path"] for line in bad] == [str(digits / "0002.png")]
    assert set(bad[0]) == {"path", "model", "method", "error"}
    assert sorted(p.name for p in out.iterdir()) == ["0000.cnn.png", "0001.cnn.png", "0003.cnn.png"]


def test_stems_that_repeat_get_numbers(models: Path, tmp_path: Path) -> None:
    """x.png in three folders, and a file really named x-2.png: each its own overlay and map."""
    source = onnx_models.digit_pngs(tmp_path / "a", 1, "x.png")
    for folder in ("b", "c"):
        (tmp_path / folder).mkdir()
        shutil.copy(source / "x.png", tmp_path / folder / "x.png")
    shutil.copy(source / "x.png", tmp_path / "c" / "x-2.png")
    out, maps = tmp_path / "out", tmp_path / "maps"
    code, lines, err = run(tmp_path / "a", tmp_path / "b", tmp_path / "c", "-m", "cnn", "--models", models,
                           "--out", out, "--maps", maps)
    assert code == 0, err
    overlays = [Path(line["overlay"]).name for line in lines]
    assert overlays == ["x.cnn.png", "x-2.cnn.png", "x-2-2.cnn.png", "x-3.cnn.png"]
    assert sorted(p.name for p in out.iterdir()) == sorted(overlays)
    assert [Path(line["map"]).name for line in lines] == ["x.npy", "x-2.npy", "x-2-2.npy", "x-3.npy"]
    assert len(list(maps.iterdir())) == 4


def test_unsafe_file_names_become_safe_output_names(models: Path, tmp_path: Path) -> None:
    folder = onnx_models.digit_pngs(tmp_path / "in", 3, "{i}.png")
    weird = ["a\x1b[31mb\nc.png", ".hidden.png", "back\\slash.png"]
    for i, name in enumerate(weird):
        (folder / f"{i}.png").rename(folder / name)
    dots = onnx_models.digit_pngs(tmp_path / "dots", 1, "..png") / "..png"  # no image ending: given by name
    out = tmp_path / "out"
    code, lines, err = run(folder, dots, "-m", "cnn", "--models", models, "--out", out)
    assert code == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["_..cnn.png", "_.hidden.cnn.png", "a_[31mb_c.cnn.png", "back_slash.cnn.png"])
    assert all(p.parent == out for p in out.iterdir())
    assert {line["path"] for line in lines} == {*(str(folder / name) for name in weird), str(dots)}  # exact
    assert safe_name("é" * 200).encode() == ("é" * 60).encode()  # cut on a character, in bytes
    assert safe_name("") == "_" and safe_name(".hidden") == "_.hidden"


def test_a_colour_folder_model_is_explained_on_its_own_input(models: Path, tmp_path: Path) -> None:
    picture = red_square(tmp_path / "in" / "square.png")
    out, maps = tmp_path / "out", tmp_path / "maps"
    code, lines, err = run(picture, "-m", "colours", "--models", models, "--out", out, "--maps", maps)
    assert code == 0, err
    (line,) = lines
    assert line["label"] == "red"
    with Image.open(out / "square.colours.png") as overlay:
        assert overlay.size == (SIZE[1] * SCALE, SIZE[0] * SCALE)
    heat = np.load(maps / "square.npy")
    assert heat.shape == SIZE
    # The evidence is on the square (x 10-15, y 4-7 of the 20x12 input), and so is the top region.
    square = np.zeros(SIZE, bool)
    square[4:8, 10:16] = True
    positive = np.clip(heat, 0, None)
    assert positive[square].sum() > 0.5 * positive.sum()
    top = line["regions"][0]
    assert top["x"] < 16 and top["x"] + top["width"] > 10 and top["y"] < 8 and top["y"] + top["height"] > 4


def test_all_explains_with_every_image_classifier(models: Path, digits: Path, tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    code, lines, err = run(digits / "0000.png", "-m", "all", "--models", models,
                           "--out", tmp_path / "out", "--maps", maps)
    assert code == 0, err
    names = [line["model"] for line in lines]
    assert sorted(names) == ["cnn", "cnn-invert", "colours", "vae-classifier"]
    # More than one model: each map is named by its model too.
    assert sorted(p.name for p in maps.iterdir()) == sorted(f"0000.{name}.npy" for name in names)
    assert np.load(maps / "0000.colours.npy").shape == SIZE
    assert np.load(maps / "0000.cnn.npy").shape == (28, 28)


def test_a_folder_with_no_images_and_a_missing_path(models: Path, tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    code, lines, err = run(tmp_path / "empty", "-m", "cnn", "--models", models, "--out", tmp_path / "out")
    assert code == 0 and lines == []
    assert "no image files" in err and "-r" in err
    code, lines, err = run(tmp_path / "nowhere", "-m", "cnn", "--models", models)
    assert code == 2 and "no such path" in err and err.count("\n") == 1
    (tmp_path / "file").write_text("")
    code, lines, err = run(tmp_path / "empty", "-m", "cnn", "--models", models, "--out", tmp_path / "file")
    assert code == 2 and err == f"dl-tui explain: error: not a folder: {tmp_path / 'file'}\n"


def test_explain_is_a_first_word_of_dl_tui(models: Path, digits: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["explain", str(digits / "0003.png"), "-m", "cnn", "--models", str(models), "-q"])
    assert exit_.value.code == 0
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line["overlay"] == str(Path("explain") / "0003.cnn.png")  # --out defaults to ./explain
    assert (tmp_path / "explain" / "0003.cnn.png").is_file()
    assert mistyped_command(["explian"]) == "explain"
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "./explain" in capsys.readouterr().out


def test_a_model_that_answers_nan_gets_error_lines(models: Path, digits: Path, tmp_path: Path) -> None:
    onnx_models.build_nan(models)
    out = tmp_path / "out"
    code, lines, err = run(digits / "0000.png", "-m", "cnn-nan", "-m", "cnn", "--models", models, "--out", out)
    assert code == 1, err
    nan, good = lines
    assert nan["model"] == "cnn-nan" and "not a number" in nan["error"]
    assert good["model"] == "cnn" and good["error"] is None
    assert [p.name for p in out.iterdir()] == ["0000.cnn.png"]


def test_a_model_that_fails_to_run_stops_the_run(models: Path, digits: Path, tmp_path: Path) -> None:
    onnx_models.build_variant("broken-run", models)
    code, lines, err = run(digits, "-m", "cnn-broken-run", "--models", models, "--out", tmp_path / "out")
    assert code == 2 and lines == []
    assert err.count("\n") == 1 and "cnn-broken-run" in err and "Traceback" not in err


def test_all_with_a_class_leaves_out_the_models_without_it(models: Path, digits: Path, tmp_path: Path) -> None:
    code, lines, err = run(digits / "0000.png", "-m", "all", "--class", "7", "--models", models,
                           "--out", tmp_path / "out")
    assert code == 0, err
    assert sorted(line["model"] for line in lines) == ["cnn", "cnn-invert", "vae-classifier"]
    assert {line["label"] for line in lines} == {"7"}
    assert "colours" in err and "left out" in err and err.count("\n") == 1
    code, lines, err = run(digits / "0000.png", "-m", "all", "--class", "mauve", "--models", models)
    assert code == 2 and lines == [] and err.count("\n") == 1


def test_help() -> None:
    runner = CliRunner()
    text = runner.invoke(explain_app, ["--help"], env={"COLUMNS": "200"}).output
    assert runner.invoke(explain_app, ["-h"], env={"COLUMNS": "200"}).output == text
    assert "BOOLEAN" not in text
    flat = " ".join(text.split())
    assert "STEM-2, STEM-3" in flat and "JSON keys: path, model, label" in flat


def test_the_shipped_models_on_the_shipped_pictures(tmp_path: Path) -> None:
    """The real cnn and cnn-invert (float and int8 as --precision picks) explain the shipped
    digits as classify labels them."""
    from tui.paths import shipped_images_dir, shipped_models_dir

    pictures = sorted(shipped_images_dir().glob("[0-9]-*"))[:3]
    models = shipped_models_dir()
    code, lines, err = run(*pictures, "-m", "cnn", "-m", "cnn-invert", "--models", models,
                           "--out", tmp_path / "out", "--maps", tmp_path / "maps")
    assert code == 0, err
    rows = classify(*pictures, "-m", "cnn", "-m", "cnn-invert", "--models", models)
    assert [(line["path"], line["model"], line["label"]) for line in lines] == \
        [(row["path"], row["model"], row["label"]) for row in rows]
    assert [line["label"] for line in lines] == ["1", "1", "2", "2", "3", "3"]
    assert all(np.load(line["map"]).shape == (28, 28) for line in lines)
