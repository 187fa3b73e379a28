"""`dl-tui evaluate DIR -m NAME`: real folders of pictures, real tiny models, real numbers.

The colour model (tests/onnx_models.py, `build_stretch`) calls a picture by its strongest
channel, so a folder's accuracy, per-class figures and confusion matrix are known by hand:
pictures filed under the wrong colour are its mistakes, and its likely label errors.
"""

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
from tui.cli import main, mistyped_command
from tui.evaluate import app as evaluate_app
from tui.evaluate.label_issues import find, thresholds
from tui.evaluate.metrics import scores

SIZE = (12, 20)
RGB = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (20, 40, 230)}
# (folder, true colour of the picture): 4 blue, 5 green, 6 red filed right; 2 red pictures filed
# under blue and 1 blue under green: 15 of 18 right.
PLAN = ([("blue", "blue")] * 4 + [("green", "green")] * 5 + [("red", "red")] * 6
        + [("blue", "red")] * 2 + [("green", "blue")])


def picture(colour: str, seed: int, pure: bool = False) -> Image.Image:
    """A noisy picture of one colour, 29x17; `pure`: the colour at full strength, no noise
    (a planted label error the model is surer of than of any picture filed right)."""
    if pure:
        return Image.new("RGB", (29, 17), tuple(255 * (np.array(RGB[colour]) > 128)))
    rng = np.random.default_rng(seed)
    a = np.clip(np.array(RGB[colour]) + rng.normal(0, 25, (17, 29, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(a, "RGB")


@pytest.fixture
def models(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    onnx_models.build_stretch(folder, "colours", COLOURS, SIZE, 3)
    onnx_models.build("cnn", folder)
    return folder


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """PLAN as class folders (one picture in a nested folder), plus what is left out: a folder
    that is no label, a picture at the root and a README."""
    root = tmp_path / "data"
    for i, (folder, colour) in enumerate(PLAN):
        where = root / folder / ("nested" if i == 0 else "")
        where.mkdir(parents=True, exist_ok=True)
        picture(colour, i, pure=folder != colour).save(where / f"{i:02d}-{colour}.png")
    (root / "purple").mkdir()
    picture("red", 99).save(root / "purple" / "x.png")
    picture("red", 98).save(root / "loose.png")
    (root / "README.md").write_text("not a picture")
    return root


def evaluate(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(evaluate_app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_the_json_report_has_the_numbers_worked_out_by_hand(models: Path, data: Path) -> None:
    code, out, err = evaluate(data, "-m", "colours", "--models", models, "-q")
    assert code == 0, err
    report = json.loads(out)
    assert report["count"] == 18
    assert report["accuracy"] == pytest.approx(15 / 18)
    # blue: 4 of 6 right, predicted 5 times (4 + the blue filed under green): P 4/5, R 4/6.
    # green: 5 of 6 right, predicted 5: P 1, R 5/6. red: 6 of 6, predicted 8: P 6/8, R 1.
    per = {row["label"]: row for row in report["per_class"]}
    assert [row["label"] for row in report["per_class"]] == COLOURS
    assert (per["blue"]["precision"], per["blue"]["recall"], per["blue"]["support"]) == \
        (pytest.approx(4 / 5), pytest.approx(4 / 6), 6)
    assert (per["green"]["precision"], per["green"]["recall"]) == (1.0, pytest.approx(5 / 6))
    assert (per["red"]["precision"], per["red"]["recall"]) == (pytest.approx(6 / 8), 1.0)
    f1 = {k: 2 * p * r / (p + r) for k, (p, r) in {"blue": (4 / 5, 4 / 6), "green": (1, 5 / 6),
                                                    "red": (6 / 8, 1)}.items()}
    assert per["red"]["f1"] == pytest.approx(f1["red"])
    assert report["macro_f1"] == pytest.approx(sum(f1.values()) / 3)
    assert report["confusion"] == {"labels": COLOURS, "matrix": [[4, 0, 2], [1, 5, 0], [0, 0, 6]]}
    assert sorted(Path(m["path"]).name for m in report["mistakes"]) == ["15-red.png", "16-red.png", "17-blue.png"]
    confidences = [m["confidence"] for m in report["mistakes"]]
    assert confidences == sorted(confidences, reverse=True)
    assert {(m["true_label"], m["label"]) for m in report["mistakes"]} == {("blue", "red"), ("green", "blue")}
    assert report["errors"] == []
    assert report["split"] == "all" and report["model"] == "colours"


def test_planted_label_errors_are_found(models: Path, data: Path) -> None:
    _, out, _ = evaluate(data, "-m", "colours", "--models", models, "-q", "-f", "json")
    issues = json.loads(out)["label_issues"]
    found = {Path(issue["path"]).name: (issue["given_label"], issue["suggested_label"]) for issue in issues}
    assert found == {"15-red.png": ("blue", "red"), "16-red.png": ("blue", "red"), "17-blue.png": ("green", "blue")}
    given = [issue["given_probability"] for issue in issues]
    assert given == sorted(given)


def test_left_out_folders_and_root_files_are_one_line_each(models: Path, data: Path) -> None:
    code, out, err = evaluate(data, "-m", "colours", "--models", models, "-q")
    assert code == 0
    assert err.splitlines() == [
        "dl-tui evaluate: warning: left out 1 folder not named as one of the model's labels: purple",
        f"dl-tui evaluate: warning: left out 1 image file at the root of {data}, outside any class folder",
    ]
    assert "purple" not in out and "loose.png" not in out


def test_a_bad_file_is_exit_1_with_the_report_and_its_error(models: Path, data: Path) -> None:
    (data / "red" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code, out, _ = evaluate(data, "-m", "colours", "--models", models, "-q")
    assert code == 1
    report = json.loads(out)
    assert report["count"] == 18
    assert [Path(e["path"]).name for e in report["errors"]] == ["broken.png"]
    assert report["errors"][0]["error"]


def test_evaluate_agrees_exactly_with_classify(models: Path, data: Path) -> None:
    _, out, _ = evaluate(data, "-m", "colours", "--models", models, "-q", "--mistakes", "1000")
    report = json.loads(out)
    result = CliRunner().invoke(classify_app, [str(data / c) for c in COLOURS]
                                + ["-r", "-m", "colours", "--models", str(models), "-f", "jsonl", "-q"])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    truth = {row["path"]: Path(row["path"]).relative_to(data).parts[0] for row in rows}
    wrong = sorted((r["path"], truth[r["path"]], r["label"], r["confidence"]) for r in rows if r["label"] != truth[r["path"]])
    assert sorted((m["path"], m["true_label"], m["label"], m["confidence"]) for m in report["mistakes"]) == wrong
    assert report["accuracy"] == (len(rows) - len(wrong)) / len(rows)
    assert report["count"] == len(rows)


def test_split_test_reads_the_manifest_beside_the_model(models: Path, data: Path) -> None:
    test = [["red/09-red.png", 2], ["blue/15-red.png", 0], ["green/04-green.png", 1], ["../outside.png", 0]]
    manifest = {"version": 1, "root": str(data), "layout": "classes", "seed": 0, "val": 0.1, "test": 0.2,
                "classes": COLOURS, "files": {"train": [], "val": [], "test": test}}
    (models / "colours.split.json").write_text(json.dumps(manifest))
    code, out, err = evaluate(data, "-m", "colours", "--models", models, "-q", "--split", "test")
    assert code == 0, err
    report = json.loads(out)
    assert (report["count"], report["split"]) == (3, "test")
    assert report["accuracy"] == pytest.approx(2 / 3)
    assert "left out 1 manifest entry" in err


def test_split_test_without_a_manifest_is_a_usage_error(models: Path, data: Path) -> None:
    code, out, err = evaluate(data, "-m", "colours", "--models", models, "--split", "test")
    assert (code, out) == (2, "")
    assert err == (f"dl-tui evaluate: error: no split manifest colours.split.json beside the model in "
                   f"{models}: use --split all\n")


def test_usage_errors_are_one_line(models: Path, data: Path, tmp_path: Path) -> None:
    for args, words in [((tmp_path / "nowhere", "-m", "colours"), "no such folder"),
                        ((data, "-m", "all"), "evaluate takes one model"),
                        ((data, "-m", "nope"), "unknown model 'nope'"),
                        ((data / "purple", "-m", "colours"), "no folder in")]:
        code, out, err = evaluate(*args, "--models", models)
        assert (code, out) == (2, ""), err
        assert len(err.splitlines()) == 1 and words in err


def test_a_train_val_test_layout_is_pointed_at_its_test_folder(models: Path, tmp_path: Path) -> None:
    for part in ("train", "test"):
        (tmp_path / "splits" / part / "red").mkdir(parents=True)
        picture("red", 0).save(tmp_path / "splits" / part / "red" / "a.png")
    code, _, err = evaluate(tmp_path / "splits", "-m", "colours", "--models", models)
    assert code == 2
    assert err.rstrip().endswith(f"for a train/val/test layout give {tmp_path / 'splits' / 'test'}")
    code, out, _ = evaluate(tmp_path / "splits" / "test", "-m", "colours", "--models", models, "-q")
    assert (code, json.loads(out)["count"]) == (0, 1)


def test_the_table_shows_the_figures(models: Path, data: Path) -> None:
    code, out, _ = evaluate(data, "-m", "colours", "--models", models, "-q", "-f", "table")
    assert code == 0
    assert "colours: 18 images (all), accuracy 83.33%" in out
    assert "confusion (rows: true label)" in out
    assert "likely label errors (confident learning): 3" in out
    assert "17-blue.png" in out


def test_a_folder_of_mnist_digits_with_the_cnn(models: Path, tmp_path: Path) -> None:
    """An MNIST-steps model evaluates as classify runs it (auto polarity, centring)."""
    x, y = onnx_models.mnist_sample("test")
    for i in range(30):
        folder = tmp_path / "digits" / str(y[i])
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x[i]).save(folder / f"{i}.png")
    code, out, _ = evaluate(tmp_path / "digits", "-m", "cnn", "--models", models, "-q")
    report = json.loads(out)
    assert code == 0 and report["count"] == 30
    assert report["accuracy"] == (30 - len(report["mistakes"])) / 30


def test_dl_tui_reads_evaluate_as_a_command(models: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["evaluate", str(data), "-m", "colours", "--models", str(models), "-q", "-f", "json"])
    assert done.value.code == 0
    assert json.loads(capsys.readouterr().out)["count"] == 18
    assert mistyped_command(["evaluat"]) == "evaluate"


def test_scores_match_scikit_learns_definitions() -> None:
    true, predicted = [0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 0, 0]
    found = scores(true, predicted, ["a", "b", "c", "d"])
    assert found.labels == ["a", "b", "c"]  # d never occurs
    assert found.matrix == [[1, 1, 0], [1, 2, 0], [1, 0, 0]]
    assert [row["precision"] for row in found.per_class] == [pytest.approx(1 / 3), pytest.approx(2 / 3), 0.0]
    assert [row["recall"] for row in found.per_class] == [0.5, pytest.approx(2 / 3), 0.0]
    sklearn = pytest.importorskip("sklearn.metrics")
    assert found.macro_f1 == pytest.approx(sklearn.f1_score(true, predicted, average="macro"))
    assert found.matrix == sklearn.confusion_matrix(true, predicted).tolist()


def test_confident_learning_by_hand() -> None:
    p = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.6, 0.4], [0.1, 0.9]])
    given = np.array([0, 0, 1, 1, 1])
    # t_0 = mean(0.9, 0.7) = 0.8; t_1 = mean(0.8, 0.4, 0.9) = 0.7.
    np.testing.assert_allclose(thresholds(p, given), [0.8, 0.7])
    # File 3 (given 1): p_0 = 0.6 < 0.8, not confidently 0. File 1 (given 0): p_0 0.7 < 0.8 and
    # p_1 0.3 < 0.7: uncounted. Nothing yet; make file 3 confidently 0:
    assert find(p, given) == []
    p[3] = [0.85, 0.15]
    assert find(p, given) == [(3, 0, 0.15)]
