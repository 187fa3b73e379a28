"""`dl-tui classify`: formats, exit codes, bad files and literal file names."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

import onnx_models
from click.testing import CliRunner

from tui.classify import app as classify_app
from tui.runtime import prepare

runner = CliRunner()


def run(command: str, *args: object) -> tuple[int, str, str]:
    """`dl-tui classify ARGS` through click's CliRunner: exit code, stdout, stderr."""
    assert command == "classify"
    result = runner.invoke(classify_app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def digits(tmp_path):
    """A folder of five real MNIST test digits, named by their truth, and a README."""
    folder = tmp_path / "digits"
    folder.mkdir()
    x, y = onnx_models.mnist_sample("test")
    for i in range(5):
        Image.fromarray(x[i]).save(folder / f"{i}-truth-{y[i]}.png")
    (folder / "README.md").write_text("not an image, and not picked from a folder")
    return folder


@pytest.fixture
def classify(tiny_models):
    def go(*args: str) -> tuple[int, str, str]:
        return run("classify", "--models", tiny_models, "--workers", "1", *args)

    return go


def jsonl(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_jsonl_is_the_default_when_piped(classify, digits):
    code, out, err = classify(digits)
    rows = jsonl(out)
    assert code == 0
    assert [r["path"] for r in rows] == sorted(str(p) for p in digits.glob("*.png"))
    first = rows[0]
    assert set(first) == {"path", "model", "label", "confidence", "probabilities", "error"}
    assert first["model"] == "cnn" and first["error"] is None
    assert list(first["probabilities"]) == [str(d) for d in range(10)]
    expected = onnx_models.reference("cnn", prepare(first["path"])[None])[0]
    assert first["label"] == str(expected.argmax())
    assert first["confidence"] == pytest.approx(expected.max(), abs=1e-5)
    assert "5 of 5 images classified" in err and "load+preprocess" in err and "inference" in err


def test_bad_files_get_error_rows_and_exit_1(classify, digits):
    (digits / "empty.png").write_bytes(b"")
    (digits / "text.jpg").write_text("hello")
    (digits / "x.png").mkdir()
    code, out, err = classify(digits)
    rows = {r["path"].rsplit("/", 1)[1]: r for r in jsonl(out)}
    assert code == 1
    assert len(rows) == 8
    for name, reason in {"empty.png": "empty", "text.jpg": "not an image", "x.png": "folder"}.items():
        row = rows[name]
        assert (row["label"], row["confidence"], row["probabilities"]) == (None, None, None)
        assert reason in row["error"]
    assert all(r["error"] is None for name, r in rows.items() if "truth" in name)
    assert "3 failed" in err


def test_a_file_given_by_name_is_always_tried(classify, digits):
    code, out, _ = classify(digits / "README.md")
    assert code == 1 and "not an image" in jsonl(out)[0]["error"]


def test_csv_has_one_column_per_label(classify, digits):
    (digits / "bad.png").write_text("x")
    code, out, _ = classify(digits, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 1
    assert list(rows[0]) == ["path", "model", "label", "confidence", "error", "ood_score", "ood_flagged",
                             *map(str, range(10))]
    good = [r for r in rows if not r["error"]]
    assert len(good) == 5
    assert sum(float(good[0][str(d)]) for d in range(10)) == pytest.approx(1.0, abs=1e-4)
    bad = next(r for r in rows if r["error"])
    assert bad["label"] == "" and bad["0"] == ""


def test_table_shows_prediction_confidence_and_bar(classify, digits, monkeypatch):
    (digits / "bad.png").write_text("x")
    monkeypatch.chdir(digits.parent)
    code, out, _ = classify("digits", "--format", "table")
    assert code == 1
    assert "digits/0-truth-" in out and "%" in out and "█" in out
    assert "error: not an image" in out
    assert "\x1b" not in out  # not a terminal: no colour codes


def test_all_models_side_by_side(classify, digits):
    code, out, _ = classify(digits, "--model", "all")
    rows = jsonl(out)
    assert code == 0
    assert [r["model"] for r in rows[:3]] == ["cnn", "cnn-invert", "vae-classifier"]
    assert len(rows) == 15
    _, table, _ = classify(digits, "--model", "all", "--format", "table")
    header = table.splitlines()[0]
    assert all(name in header for name in ("cnn", "cnn-invert", "vae-classifier"))


def test_top_k(classify, digits):
    _, out, _ = classify(digits, "--top", "3")
    probs = jsonl(out)[0]["probabilities"]
    assert len(probs) == 3 and list(probs.values()) == sorted(probs.values(), reverse=True)
    _, table, _ = classify(digits, "--top", "2", "--format", "table")
    assert len(table.splitlines()) == 1 + 2 * 5


def test_small_batches_and_worker_processes_keep_the_order(tiny_models, tmp_path):
    x, _ = onnx_models.mnist_sample("test")
    for i in range(150):  # more than one chunk, so the pool starts
        Image.fromarray(x[i]).save(tmp_path / f"{i:03d}.png")
    base = ("classify", tmp_path, "--models", tiny_models, "--batch-size", "7", "-q")
    one = run(*base, "--workers", "1")
    two = run(*base, "--workers", "2")
    assert one[0] == two[0] == 0
    assert one[1] == two[1]
    assert len(jsonl(one[1])) == 150


def test_worker_processes_run_the_models_with_the_same_rows(tiny_models, tmp_path):
    x, _ = onnx_models.mnist_sample("test")
    for i in range(140):  # past one chunk: the workers load and run the models
        Image.fromarray(x[i]).save(tmp_path / f"{i:03d}.png")
    (tmp_path / "050-empty.png").write_bytes(b"")
    (tmp_path / "100-text.png").write_text("not an image")
    base = ("classify", tmp_path, "--models", tiny_models, "--model", "all")
    one = run(*base, "--workers", "1", "-q")
    two = run(*base, "--workers", "2")
    assert one[0] == two[0] == 1
    assert one[1] == two[1]
    rows = jsonl(two[1])
    assert sum(r["error"] is not None for r in rows) == 2 * len({r["model"] for r in rows})
    # The summary keeps the split, the workers' times summed.
    assert "140 of 142 images classified, 2 failed" in two[2]
    assert "ms load+preprocess" in two[2] and "ms inference" in two[2]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_black_on_white_model_gets_its_input_inverted(tiny_models, tmp_path, workers):
    x, _ = onnx_models.mnist_sample("test")
    for i in range(70):  # past one chunk: with 2 workers they run the models too
        Image.fromarray(x[i]).save(tmp_path / f"{i:03d}.png")
    onnx_models.build_black_on_white(tiny_models)
    code, out, _ = run("classify", tmp_path, "--models", tiny_models, "-m", "cnn", "-m", "cnn-bow",
                       "--workers", workers, "-q")
    rows = jsonl(out)
    cnn = [r["probabilities"] for r in rows if r["model"] == "cnn"]
    bow = [r["probabilities"] for r in rows if r["model"] == "cnn-bow"]
    assert code == 0 and len(bow) == 70
    for ours, theirs in zip(cnn, bow, strict=False):
        assert theirs == pytest.approx(ours, abs=1e-5)


def test_recursive_walks_subfolders(classify, digits):
    sub = digits / "more"
    sub.mkdir()
    Image.fromarray(onnx_models.mnist_sample()[0][9]).save(sub / "deep.png")
    assert len(jsonl(classify(digits)[1])) == 5
    rows = jsonl(classify(digits, "--recursive")[1])
    assert len(rows) == 6 and rows[-1]["path"].endswith("more/deep.png")


def test_a_symlink_loop_is_walked_once(classify, digits):
    (digits / "loop").symlink_to(digits)
    code, out, _ = classify(digits, "--recursive", "--follow")
    assert code == 0 and len(jsonl(out)) == 5


def test_file_names_are_shown_literally(classify, tmp_path, monkeypatch):
    name = "[bold]x\x1b[31m\x9b.png"
    Image.fromarray(onnx_models.mnist_sample()[0][0]).save(tmp_path / name)
    monkeypatch.chdir(tmp_path)
    code, table, _ = classify(".", "--format", "table")
    assert code == 0
    assert "[bold]x\\x1b[31m\\x9b.png" in table
    assert "\x1b" not in table and "\x9b" not in table
    _, out, _ = classify(tmp_path, "--format", "csv")
    assert "[bold]x\\x1b[31m\\x9b.png" in out and "\x1b" not in out
    _, out, _ = classify(tmp_path)
    assert "\x1b" not in out and "\x9b" not in out
    assert jsonl(out)[0]["path"].endswith(name)  # JSON keeps the exact name, escaped


def test_labels_from_metadata_are_shown_literally(tiny_models, digits):
    onnx_models.build("cnn", tiny_models, labels=[f"[red]{d}\x1b" for d in range(10)])
    code, out, _ = run("classify", digits, "--models", tiny_models, "-f", "table")
    assert code == 0 and "[red]" in out and "\x1b" not in out


@pytest.mark.parametrize("fmt", ["table", "csv", "jsonl"])
def test_model_names_from_files_are_shown_literally(tiny_models, digits, fmt):
    onnx_models.build("cnn", tiny_models, filename="evil\x1b[2J")
    code, out, err = run("classify", digits, "--models", tiny_models, "--model", "all",
                         "-f", fmt)
    assert code == 0 and "\x1b" not in out + err


def test_decompression_bomb_is_an_error_row(classify, digits, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 700)  # the 28x28 digits are 784 pixels
    code, out, err = classify(digits)
    assert code == 1
    assert all("decompression-bomb" in r["error"] for r in jsonl(out))
    assert "Warning" not in err


@pytest.mark.parametrize("args, message", [
    (("nowhere",), "no such path"),
    (("{digits}", "--model", "resnet"), "unknown model 'resnet'"),
    (("{digits}", "--model", "iris"), "not an image classifier"),
    (("{digits}", "--bogus"), "No such option"),
    (("{digits}", "--top", "0"), "--top"),
    (("{digits}", "--workers", "0"), "--workers"),
])
def test_usage_errors_exit_2_with_one_line(classify, digits, args, message):
    code, out, err = classify(*(a.format(digits=digits) for a in args))
    assert code == 2
    assert out == ""
    assert message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_no_models_exits_2(digits, tmp_path):
    code, _, err = run("classify", digits, "--models", tmp_path / "nowhere")
    assert code == 2 and "no models folder" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run("classify", digits, "--models", tmp_path / "empty")
    assert code == 2 and "no models in" in err


def test_broken_model_exits_2(digits, tiny_models):
    (tiny_models / "cnn.onnx").write_bytes(b"garbage")
    code, _, err = run("classify", digits, "--models", tiny_models)
    assert code == 2 and "cannot load model" in err and len(err.splitlines()) == 1


def test_all_runs_the_models_that_load_and_names_the_others(digits, tiny_models):
    (tiny_models / "broken.onnx").write_bytes(b"garbage")
    (tiny_models / "evil\x1b[2J.onnx").write_bytes(b"")
    code, out, err = run("classify", digits, "--models", tiny_models, "--model", "all",
                         "-q")
    assert code == 0
    assert {r["model"] for r in jsonl(out)} == {"cnn", "cnn-invert", "vae-classifier"}
    assert len(jsonl(out)) == 15
    lines = err.splitlines()
    assert len(lines) == 2 and "\x1b" not in err
    assert lines[0].startswith("dl-tui classify: warning: skipped model broken: cannot load model")
    assert lines[1].startswith("dl-tui classify: warning: skipped model evil\\x1b[2J: ")


def test_nan_from_a_model_is_an_error_row(digits, tmp_path):
    models = tmp_path / "nan-models"
    onnx_models.build("cnn", models)
    onnx_models.build_nan(models)
    code, out, err = run("classify", digits, "--models", models, "--model", "all")
    rows = jsonl(out)
    assert code == 1
    nan = [(r["label"], r["confidence"], r["probabilities"], r["error"])
           for r in rows if r["model"] == "cnn-nan"]
    assert nan == [(None, None, None, "model produced NaN")] * 5
    assert all(r["error"] is None for r in rows if r["model"] == "cnn")
    assert "0 of 5 images classified, 5 failed" in err
    _, table, _ = run("classify", digits, "--models", models, "--model", "all",
                      "-f", "table")
    assert table.count("error: model produced NaN") == 5 and table.count("%") == 5


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="has CUDA")
def test_cuda_unavailable_exits_2(classify, digits):
    code, _, err = classify(digits, "--device", "cuda")
    assert code == 2 and "CUDA" in err and len(err.splitlines()) == 1


def test_models_folder_from_the_environment(digits, tiny_models, monkeypatch):
    monkeypatch.setenv("DL_TUI_MODELS", str(tiny_models))
    code, out, _ = run("classify", digits, "-q")
    assert code == 0 and len(jsonl(out)) == 5


def test_empty_folder_is_not_an_error(classify, tmp_path):
    (tmp_path / "empty").mkdir()
    code, out, err = classify(tmp_path / "empty")
    assert code == 0 and out == ""
    assert err == f"dl-tui classify: warning: no image files in {tmp_path / 'empty'}\n"


def test_a_folder_with_only_subfolders_suggests_r(classify, tmp_path):
    (tmp_path / "inbox" / "batch-1").mkdir(parents=True)
    code, out, err = classify(tmp_path / "inbox")
    assert code == 0 and out == ""
    assert err == (f"dl-tui classify: warning: no image files in {tmp_path / 'inbox'} "
                   "(use -r to look in subfolders)\n")
    code, _, err = classify(tmp_path / "inbox", "-r")
    assert code == 0 and "use -r" not in err and "no image files" in err


def test_several_models_run_each_in_the_order_given(classify, digits):
    code, out, _ = classify(digits, "-m", "cnn-invert", "-m", "cnn", "-m", "cnn-invert")
    rows = jsonl(out)
    assert code == 0 and len(rows) == 10
    assert [r["model"] for r in rows[:4]] == ["cnn-invert", "cnn"] * 2
    _, table, _ = classify(digits, "-m", "cnn", "--model", "vae-classifier", "-f", "table")
    assert "cnn" in table.splitlines()[0] and "vae-classifier" in table.splitlines()[0]
    _, out, _ = classify(digits, "-m", "cnn", "-m", "all")
    assert {r["model"] for r in jsonl(out)} == {"cnn", "cnn-invert", "vae-classifier"}


@pytest.mark.parametrize("model", ["resnet", "iris", "vae-encoder"])
def test_a_wrong_model_lists_only_image_classifiers(classify, digits, model):
    code, _, err = classify(digits, "-m", "cnn", "-m", model)
    assert code == 2 and len(err.splitlines()) == 1
    assert err.rstrip().endswith("image classifiers: cnn, cnn-invert, vae-classifier, or all")
    assert "iris," not in err and "vae-decoder" not in err and "vae-encoder," not in err


def test_top_k_in_csv_gives_label_and_probability_columns(classify, digits):
    (digits / "bad.png").write_text("x")
    code, out, _ = classify(digits, "--format", "csv", "--top", "3")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 1
    assert list(rows[0]) == ["path", "model", "label", "confidence", "error", "ood_score", "ood_flagged",
                             "label_1", "probability_1", "label_2", "probability_2",
                             "label_3", "probability_3"]
    good = next(r for r in rows if not r["error"])
    assert good["label_1"] == good["label"] and good["probability_1"] == good["confidence"]
    ranked = [float(good[f"probability_{k}"]) for k in (1, 2, 3)]
    assert ranked == sorted(ranked, reverse=True)
    bad = next(r for r in rows if r["error"])
    assert all(bad[f"label_{k}"] == bad[f"probability_{k}"] == "" for k in (1, 2, 3))
    _, out, _ = classify(digits, "--format", "csv", "--top", "20")  # more than there are labels
    assert "label_11" not in next(csv.DictReader(io.StringIO(out)))  # capped at the 10 labels


def test_bars_use_eighths():
    from tui.bar import bar

    assert bar(1.0, 4) == "████"
    assert bar(0.5, 4) == "██  "
    assert bar(0.0, 4) == "    "
    assert bar(1 / 32, 4) == "▏   "
    assert np.isclose(len(bar(0.37, 10)), 10)


def test_jsonl_lines_match_json_dumps_for_odd_values():
    from pathlib import Path

    from tui.classify.rows import classified, failed
    from tui.classify.writers import JsonlWriter, Lines

    rows = [
        classified(Path("a\x1b%s\udcff\u0085.png"), "m%d", ["%s", 'b"', "ü"],
                   np.array([0.1, 1e-9, 123456789.0], np.float32)),
        classified(Path("nan.png"), "m", ["a", "b"], np.array([np.nan, 0.2])),
        classified(Path("inf.png"), "m", ["a", "b"], np.array([np.inf, 0.2])),
        classified(Path("zero.png"), "m", ["a", "b"], np.array([-0.0, 1e308])),
        failed(Path("bad\n.png"), "m", "cannot decode: x"),
    ]

    def number(v):
        return None if v is None or not np.isfinite(v) else float(f"{v:.6g}")

    for top in (None, 1, 2):
        writer = JsonlWriter(Lines(io.StringIO()), top)
        for row in rows:
            line = writer._line(row)
            assert line.endswith("}\n") and "\x1b" not in line and "\x85" not in line
            got = json.loads(line)
            pairs = row.top(top) if top else list((row.probabilities or {}).items())
            assert got == {"path": str(row.path), "model": row.model, "label": row.label,
                           "confidence": number(row.confidence),
                           "probabilities": None if row.probabilities is None
                           else {k: number(v) for k, v in pairs},
                           "error": row.error}

