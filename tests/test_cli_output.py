"""`dl-tui classify` output that a spreadsheet or a narrow terminal receives: CSV cells that
would run as formulas, --top beyond the labels, a table wider than the terminal."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import onnx_models
import pytest
from click.testing import CliRunner
from PIL import Image

from tui.classify import app as classify_app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def classify(models: Path, *args: object, env: dict | None = None) -> tuple[int, str, str]:
    result = runner.invoke(classify_app, ["--models", str(models), "--workers", "1",
                                          *map(str, args)], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def digits(tmp_path: Path) -> Path:
    folder = tmp_path / "digits"
    folder.mkdir()
    x, _ = onnx_models.mnist_sample("test")
    for i in range(3):
        Image.fromarray(x[i]).save(folder / f"{i}.png")
    return folder


def live_formulas(text: str) -> list[str]:
    """The cells a spreadsheet would read as a formula."""
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row
            if cell[:1] in DANGEROUS and not _number(cell)]


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_file_names_and_labels_that_start_a_formula_are_neutralised(tiny_models, digits,
                                                                    monkeypatch):
    digit = Image.fromarray(onnx_models.mnist_sample()[0][0])
    for name in ('=HYPERLINK("http:evil","x").png', "+1.png", "-2.png", "@SUM(A1).png",
                 "\tx.png", "\rx.png"):
        digit.save(digits / name)
    (digits / "=bad.png").write_bytes(b"not an image")  # an error row: its path cell too
    labels = ["=1+1", "+2", "-3", "@4", "\t5", "\r6", "7", "8", "9", "0"]
    onnx_models.build("cnn", tiny_models, labels=labels)
    monkeypatch.chdir(digits)
    for extra in ((), ("--top", "3")):
        code, out, err = classify(tiny_models, "-f", "csv", *extra, "--",
                                  *sorted(p.name for p in digits.iterdir()))
        assert code == 1, err
        assert live_formulas(out) == []
        rows = list(csv.DictReader(io.StringIO(out)))
        assert "'=HYPERLINK(\"http:evil\",\"x\").png" in [row["path"] for row in rows]
        assert "'@SUM(A1).png" in [row["path"] for row in rows]
    header = out.splitlines()[0]
    code, out, _ = classify(tiny_models, "0.png", "-f", "csv")
    assert "'=1+1" in out.splitlines()[0] and "'-3" in out.splitlines()[0]
    assert "label_1" in header


def test_numbers_are_left_as_numbers(digits):
    """The shipped cnn's OOD score is an energy, negative: a number, not text, so no quote."""
    code, out, _ = classify(ROOT / "exported", digits, "-f", "csv", "-m", "cnn")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    scores = [row["ood_score"] for row in rows if row["ood_score"]]
    assert scores and all(_number(score) and score.startswith("-") for score in scores)
    assert all(_number(row["confidence"]) for row in rows)


def test_help_says_cells_are_neutralised():
    text = " ".join(runner.invoke(classify_app, ["--help"]).stdout.split())
    assert "formula" in text and "'" in text


def test_top_is_capped_at_the_number_of_labels(tiny_models, digits):
    code, out, err = classify(tiny_models, digits, "-f", "csv", "--top", "50")
    assert code == 0
    header = out.splitlines()[0].split(",")
    assert header[-2:] == ["label_10", "probability_10"]
    assert all(all(row[7:]) for row in csv.reader(io.StringIO(out)))  # no empty column
    assert err.splitlines()[0] == ("dl-tui classify: warning: --top 50 is more than "
                                   "cnn's 10 labels: showing 10")
    code, out, _ = classify(tiny_models, digits, "-f", "table", "--top", "50")
    assert code == 0 and len(out.splitlines()) == 1 + 10 * 3
    code, out, _ = classify(tiny_models, digits, "-f", "jsonl", "--top", "50")
    assert all(len(json.loads(line)["probabilities"]) == 10 for line in out.splitlines())


def test_a_narrow_table_says_which_models_it_leaves_out(tiny_models, digits):
    code, out, err = classify(tiny_models, digits, "-f", "table", "-m", "all",
                              env={"COLUMNS": "40"})
    assert code == 0
    assert all(len(line) <= 40 for line in out.splitlines())
    header = out.splitlines()[0].split()
    assert header[0] == "file" and "vae-classifier" not in header
    assert ("dl-tui classify: warning: the table is 40 columns wide: left out cnn-invert, "
            "vae-classifier (widen the terminal, or use -m, or -f jsonl)") in err.splitlines()
    shown = header[1:]
    assert shown == ["cnn"]
    # Each shown model's cell is whole: its bar is there.
    assert all(line.count("%") == len(shown) for line in out.splitlines()[1:])


def test_a_wide_table_leaves_nothing_out(tiny_models, digits):
    code, out, err = classify(tiny_models, digits, "-f", "table", "-m", "all",
                              env={"COLUMNS": "100"})
    assert code == 0 and "left out" not in err
    assert out.splitlines()[0].split()[1:] == ["cnn", "cnn-invert", "vae-classifier"]
