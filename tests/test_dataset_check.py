"""`dl-train check DIR`: the report on real folders (messy, planted duplicates, both layouts),
line by line and as JSON, its exit codes, and that it runs without TensorFlow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image

from typer.testing import CliRunner
from folder_sets import colour_set, grey_set, make_set, messy_set, plant_duplicates, splits_set
from trainer.cli import app

runner = CliRunner()


def check(*args: object) -> tuple[int, str, str]:
    """`dl-train check ARGS` through click's CliRunner: exit code, stdout, stderr."""
    result = runner.invoke(app, ["check", *[str(arg) for arg in args]])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def report(*args: object) -> dict:
    code, out, _ = check(*args, "--format", "json")
    assert code in (0, 2)
    return json.loads(out)


def test_messy_set_line_by_line(tmp_path):
    messy_set(tmp_path / "messy")
    code, out, err = check(tmp_path / "messy")
    assert code == 0 and err == ""
    root = str(tmp_path / "messy")
    lines = out.splitlines()
    truncated = [i for i, line in enumerate(lines) if "truncated.jpg" in line]
    assert len(truncated) == 1
    line = lines.pop(truncated[0])  # Pillow's words for it vary: kind and start only
    assert line.startswith(f"  skipped  {root}/circle/truncated.jpg: cannot decode: ") and line.endswith("(truncated)")
    assert lines == [
        f"{root}: 3 classes with images, 19 images (classes layout; 6 files skipped)",
        "  class   images   train     val    test",
        "  circle      10       8       1       1",
        "  single       1       1       0       0",
        "  square       8       6       1       1",
        "split: stratified, made by dl-train (seed 0, val 0.1, test 0.1)",
        "sizes: 16x16 (all 19; height x width)",
        "modes: grey 19, RGB 0, alpha 0, 16-bit 1; in colour 0 (formats: BMP 1, PNG 18)",
        "imbalance: largest/smallest 10 (circle 10, single 1): imbalanced (1.5 or more: dl-train folder --balance auto "
        "weighs the classes)",
        "training defaults: size 16x16, grey",
        "duplicates: none (near: 256-bit pHashes within 20 bits)",
        "problems: 6 files skipped, 3 warnings",
        f"  skipped  {root}/.DS_Store: outside any class folder: left out (outside-class)",
        f"  skipped  {root}/README: outside any class folder: left out (outside-class)",
        f"  skipped  {root}/circle/.DS_Store: not an image (not-image)",
        f"  warning  {root}/circle/bitmap.jpg: a BMP file named .jpg: read as BMP (suffix-mismatch)",
        f"  warning  {root}/empty: class 'empty' has no images: left out (empty-class)",
        f"  warning  {root}/single: class 'single' has only 1 image, too few to split: all train (small-class)",
        f"  skipped  {root}/square/empty.png: empty file (empty)",
        f"  skipped  {root}/square/notes.txt: not an image (not-image)",
        "result: can train (3 classes, 19 images)",
    ]


def test_messy_set_as_json(tmp_path):
    files = messy_set(tmp_path / "messy")
    got = report(tmp_path / "messy")
    assert got["can_train"] is True and got["layout"] == "classes"
    assert got["classes"] == ["circle", "single", "square"]
    assert got["counts"] == {"circle": 10, "single": 1, "square": 8}
    assert got["empty_classes"] == ["empty"] and got["small_classes"] == ["single"]
    kinds = {problem["path"]: (problem["kind"], problem["severity"]) for problem in got["problems"]}
    assert kinds == {
        str(files["readme"]): ("outside-class", "skipped"), str(files["ds_store"]): ("outside-class", "skipped"),
        str(files["class_ds_store"]): ("not-image", "skipped"), str(files["notes"]): ("not-image", "skipped"),
        str(files["empty_png"]): ("empty", "skipped"), str(files["truncated"]): ("truncated", "skipped"),
        str(files["bmp_as_jpg"]): ("suffix-mismatch", "warning"),
        str(files["empty_class"]): ("empty-class", "warning"), str(files["single_class"]): ("small-class", "warning"),
    }
    assert all(set(problem) >= {"path", "kind", "detail"} for problem in got["problems"])
    assert got["skipped"] == 6 and got["images"] == 19
    assert got["modes"]["16-bit"] == 1 and got["duplicates"] == [] and got["leaks"] == []


def test_planted_exact_and_near_duplicates_and_two_classes(tmp_path):
    root = grey_set(tmp_path / "set", per_class=12, classes=3)
    planted = plant_duplicates(root)
    got = report(root)
    groups = {(group["kind"], tuple(entry["path"] for entry in group["files"])) for group in got["duplicates"]}
    assert groups == {
        ("exact", tuple(str(path) for path in planted["exact"])),
        ("exact", tuple(str(path) for path in planted["two_classes"])),
        ("near", tuple(sorted(str(path) for path in planted["near"]))),
    }
    crossed = [problem for problem in got["problems"] if problem["kind"] == "two-classes"]
    first, second = planted["two_classes"]
    assert crossed == [{"path": str(second), "kind": "two-classes", "severity": "warning",
                        "detail": f"the same picture as {first} is filed under class 'circle' too (here 'square')"}]
    code, out, _ = check(root)
    assert code == 0
    assert f"  warning  {second}: the same picture as {first} is filed under class 'circle' too (here 'square') " \
           "(two-classes)" in out.splitlines()


def test_near_duplicates_survive_resizing_and_jpeg(tmp_path):
    root = grey_set(tmp_path / "set", per_class=10, classes=2, size=(32, 32))
    source = root / "circle" / "circle_0003.png"
    Image.open(source).resize((64, 64), Image.Resampling.BILINEAR).save(root / "circle" / "bigger.png")
    Image.open(source).save(root / "circle" / "recompressed.jpg", quality=80)
    Image.open(source).resize((640, 640), Image.Resampling.BICUBIC).save(root / "circle" / "photo.jpg", quality=90)
    got = report(root)
    near = [group for group in got["duplicates"] if group["kind"] == "near"]
    assert [sorted(entry["path"] for entry in group["files"]) for group in near] == [
        sorted(str(root / "circle" / name) for name in ("bigger.png", "circle_0003.png", "photo.jpg", "recompressed.jpg"))]
    assert near[0]["distance"] <= got["near"]["within"] == 20
    assert report(root, "--near", "3")["near"]["within"] == 3


def test_leaks_across_given_splits(tmp_path):
    root = splits_set(tmp_path / "set", train=8, val=3, test=3, classes=2)
    train_file = root / "train" / "circle" / "train_circle_0000.png"
    shutil.copy(train_file, root / "test" / "circle" / "copied.png")
    pixels = np.asarray(Image.open(root / "train" / "square" / "train_square_0001.png"), dtype=np.int16)
    Image.fromarray(np.clip(pixels - 4, 0, 255).astype(np.uint8)).save(root / "val" / "square" / "darker.png")
    got = report(root)
    assert got["layout"] == "splits" and got["split"]["given"] is True
    leaks = {(group["kind"], frozenset((entry["split"], os.path.basename(entry["path"])) for entry in group["files"]))
             for group in got["leaks"]}
    assert leaks == {("exact", frozenset({("test", "copied.png"), ("train", "train_circle_0000.png")})),
                     ("near", frozenset({("val", "darker.png"), ("train", "train_square_0001.png")}))}
    _, out, _ = check(root)
    assert "leaks: 2 duplicate groups across train/val/test" in out.splitlines()


def test_leaks_across_the_split_dl_train_would_make(tmp_path):
    root = grey_set(tmp_path / "set", per_class=20, classes=2)
    for i in range(6):  # six copies: the split cannot keep all of them in one part
        shutil.copy(root / "circle" / "circle_0000.png", root / "circle" / f"copy_{i}.png")
    got = report(root, "--val", "0.3", "--test", "0.3")
    assert got["split"] == {"given": False, "seed": 0, "val": 0.3, "test": 0.3, "made": ["train", "val", "test"]}
    assert len(got["leaks"]) == 1
    assert len({entry["split"] for entry in got["leaks"][0]["files"]}) > 1


def test_modes_sizes_colour_and_suggested_defaults(tmp_path):
    root = colour_set(tmp_path / "set", per_class=6, classes=2, size=(20, 30))
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 128
    Image.fromarray(rgba, "RGBA").save(root / "red" / "see_through.png")
    deep = (np.arange(600, dtype=np.uint16).reshape(20, 30) * 100)
    Image.fromarray(deep).save(root / "green" / "sixteen.png")
    got = report(root)
    assert got["modes"]["alpha"] == 1 and got["modes"]["16-bit"] == 1 and got["modes"]["grey"] == 1
    assert got["modes"]["colour"] >= 12
    assert got["sizes"]["min"] == [20, 30] and got["sizes"]["distinct"] == 1
    assert got["suggested"] == {"size": [20, 30], "channels": 3, "max_side": 64}


def test_exit_codes(tmp_path):
    assert check(grey_set(tmp_path / "two", per_class=2, classes=2))[0] == 0
    one = make_set(tmp_path / "one", {"only": 5})
    code, out, err = check(one)
    assert code == 2 and out.splitlines()[-1] == "result: cannot train: 1 class with training images, at least 2 needed"
    assert report(one)["can_train"] is False  # the JSON report is printed on exit 2 too
    (tmp_path / "none").mkdir()
    assert check(tmp_path / "none")[0] == 2
    code, out, err = check(tmp_path / "missing")
    assert (code, out) == (2, "") and err == f"error: {tmp_path / 'missing'}: no such folder\n"
    (tmp_path / "file.png").write_bytes(b"x")
    assert check(tmp_path / "file.png")[2] == f"error: {tmp_path / 'file.png'}: not a folder\n"
    code, _, err = check(one, "--val", "0.6", "--test", "0.6")
    assert code == 2 and err.startswith("error: --val 0.6 and --test 0.6:") and err.count("\n") == 1
    assert check(one, "--near", "65")[0] == 2
    assert check()[0] == 2


def test_odd_names_are_shown_escaped(tmp_path):
    root = grey_set(tmp_path / "set", per_class=3, classes=2)
    os.rename(root / "circle" / "circle_0000.png", root / "circle" / "x\x1b[2Jy.txt")  # a PNG, misnamed
    (root / "square" / "notes\r\u202eevil.txt").write_text("hello")
    code, out, _ = check(root)
    assert code == 0 and "\x1b" not in out and "\r" not in out and "\u202e" not in out
    assert "x\\x1b[2Jy.txt: a PNG file named .txt: read as PNG (suffix-mismatch)" in out
    assert "notes\\r\\u202eevil.txt: not an image (not-image)" in out


def test_check_imports_no_tensorflow(tmp_path):
    root = messy_set(tmp_path / "messy")["readme"].parent
    script = ("import sys\n"
              "from trainer.cli import app\n"
              f"try:\n    app(['check', {str(root)!r}, '--format', 'json'])\n"
              "except SystemExit as done:\n    code = done.code\n"
              "print('tensorflow' in sys.modules, 'tf2onnx' in sys.modules, code, file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            cwd=os.path.dirname(os.path.dirname(__file__)))
    assert result.stderr.strip().splitlines()[-1] == "False False 0", result.stderr
    assert json.loads(result.stdout)["images"] == 19


def test_classes_only_outside_train_do_not_count_for_training(tmp_path):
    root = tmp_path / "set"
    make_set(root / "train", {"a": 5})
    make_set(root / "test", {"a": 2, "b": 2}, seed=1)
    code, out, _ = check(root)
    assert code == 2
    assert out.splitlines()[-2:] == [
        f"  warning  {root}: class 'b' has no training images (only in test): it cannot be learnt (untrained-class)",
        "result: cannot train: 1 class with training images, at least 2 needed"]


def test_big_jpegs_are_measured_upright(tmp_path):
    from tui.runtime.preprocess import load_image

    root = colour_set(tmp_path / "set", per_class=3, classes=2)
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 600, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # taken with the camera on its side: shown turned a quarter
    path = root / "red" / "sideways.jpg"
    photo.save(path, quality=90, exif=exif)
    got = report(root)
    assert got["sizes"]["max"] == [600, 300]
    upright = load_image(path, colour=True)
    assert (upright.height, upright.width) == (600, 300)
    _, out, _ = check(root)
    assert "sizes: 16x16 to 600x300, median 16x16, 2 distinct (height x width)" in out.splitlines()


def test_the_report_is_the_same_read_in_processes(tmp_path):
    from trainer.folders.check import check_folder

    root = grey_set(tmp_path / "set", per_class=100, classes=3, size=(8, 8))  # 300 files: two chunks
    plant_duplicates(root)
    alone, pooled = check_folder(root, workers=1), check_folder(root, workers=2)
    alone.pop("seconds"), pooled.pop("seconds")
    assert alone == pooled and len(alone["duplicates"]) == 3
