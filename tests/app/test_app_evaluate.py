"""The Evaluate screen: a tiny labelled folder of real MNIST digits, the tiny cnn; real counts in the heat map
and the per-class table, a mistake opened in Classify, label errors listed, and how it looks at 80x24."""

from __future__ import annotations

from pathlib import Path

import json
import subprocess
import sys
import threading

import pytest
from app_helpers import screen_text, settled, wait_for
from PIL import Image
from textual.widgets import DataTable, TabbedContent

import onnx_models
import tui.screens.evaluate as evaluate_module
from tui.screens.classify import ClassifyScreen
from tui.screens.evaluate import MISTAKES_TAB, EvaluateScreen
from tui.screens.models import ModelsScreen
from tui.screens.pick_folder import PickFolderScreen
from tui.widgets.confusion import ConfusionMatrix, matrix_text
from tui.widgets.mistakes import MistakeGallery

SMALL, WIDE = (80, 24), (140, 45)


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    """Folders 0, 1, 4, 7 of real MNIST test digits (4 each), a copy of a 4 filed under 7 (a label
    error), a nested folder, a broken file, and a folder that is not a label."""
    root = tmp_path / "labelled"
    digits, labels = onnx_models.mnist_sample()
    taken: dict[int, int] = {}
    for digit, label in zip(digits, labels, strict=True):
        label = int(label)
        if label in (0, 1, 4, 7) and taken.get(label, 0) < 4:
            folder = root / str(label) / ("nested" if taken.get(label, 0) == 3 else "")
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(digit).save(folder / f"{label}-{taken.get(label, 0)}.png")
            taken[label] = taken.get(label, 0) + 1
    Image.open(root / "4" / "4-0.png").save(root / "7" / "mislabelled-four.png")  # a clear 4, filed as a 7
    (root / "1" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    (root / "cats").mkdir()
    Image.fromarray(digits[0]).save(root / "cats" / "cat.png")
    return root


def cli_report(models: Path, folder: Path) -> dict:
    """What `dl-tui evaluate DIR -m cnn --format json` says of the same folder (exit 1: a file failed)."""
    done = subprocess.run([sys.executable, "-m", "tui.cli", "evaluate", str(folder), "-m", "cnn", "--models", str(models),
                           "--format", "json", "--device", "cpu", "--quiet"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    return json.loads(done.stdout)


async def open_evaluate(pilot, folder: Path) -> EvaluateScreen:
    await pilot.press("6")
    screen = pilot.app.screen
    assert isinstance(screen, EvaluateScreen)
    await wait_for(pilot, lambda: screen.models)
    screen.action_select_model("cnn")
    screen.set_folder(folder)
    return screen


async def run_evaluation(pilot, folder: Path) -> EvaluateScreen:
    screen = await open_evaluate(pilot, folder)
    await pilot.press("e")
    await wait_for(pilot, lambda: screen.report is not None and not screen.running)
    return screen


def test_heat_map_text_fits_80_columns_for_ten_classes():
    labels = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    matrix = [[1000 if i == j else 3 for j in range(10)] for i in range(10)]
    text = matrix_text(labels, matrix)
    assert max(len(line) for line in text.plain.splitlines()) <= 78
    lines = text.plain.splitlines()
    assert len(lines) == 11 and lines[0].split()[1:] == [str(i) for i in range(10)]  # long labels: numbered
    assert lines[4].split() == ["3", "Dress", "3", "3", "3", "1000", *["3"] * 6]
    assert lines[1].startswith("0 T-shirt/t… ")  # cut, with an ellipsis
    assert matrix_text(["cat", "dog"], [[1, 0], [0, 1]]).plain.splitlines()[0].split() == ["true\\pred", "cat", "dog"]
    assert matrix_text(["[b]xyzzy", "y"], [[1, 0], [0, 1]]).plain.splitlines()[1].startswith("0 [b]xyzzy")  # as written


async def test_evaluate_shows_real_numbers(make_app, tiny_models, labelled):
    cli = cli_report(tiny_models, labelled)
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await run_evaluation(pilot, labelled)
        report = screen.report
        # The app's figures are dl-tui evaluate's, number for number.
        assert report["count"] == cli["count"] == 17
        for key in ("accuracy", "macro_f1", "per_class", "confusion", "mistakes", "label_issues"):
            assert report[key] == cli[key], key
        assert [e["path"] for e in report["errors"]] == [e["path"] for e in cli["errors"]] == [
            str(labelled / "1" / "broken.png")]
        assert any("cats" in note for note in report["notes"])
        # The heat map draws those counts, row by row.
        labels, matrix = cli["confusion"]["labels"], cli["confusion"]["matrix"]
        shown = screen.query_one(ConfusionMatrix)
        assert (shown.labels, shown.matrix) == (labels, matrix)
        seven = labels.index("7")
        cells = matrix_text(shown.labels, shown.matrix).plain.splitlines()
        assert cells[1 + seven].split() == ["7", *(str(n) for n in matrix[seven])]
        assert sum(matrix[seven]) == 5 and matrix[seven][labels.index("4")] >= 1  # the 4 filed under 7
        # The per-class table: precision, recall, F1 and support of class 7.
        table = screen.query_one("#evaluate-classes", DataTable)
        row = [str(cell) for cell in table.get_row_at(seven)]
        want = cli["per_class"][seven]
        assert row == ["7", f"{want['precision']:.3f}", f"{want['recall']:.3f}", f"{want['f1']:.3f}", "5"]
        text = screen_text(app)
        assert f"accuracy {cli['accuracy']:.1%}" in text and f"macro-F1 {cli['macro_f1']:.1%}" in text
        # The 4 filed under 7 is a mistake and a likely label error, listed in its tab.
        assert str(labelled / "7" / "mislabelled-four.png") in [m["path"] for m in report["mistakes"]]
        assert [(i["path"], i["given_label"], i["suggested_label"]) for i in report["label_issues"]] == [
            (str(labelled / "7" / "mislabelled-four.png"), "7", "4")]
        issues = screen.query_one("#evaluate-issues", DataTable)
        assert [str(cell) for cell in issues.get_row_at(0)][:3] == ["7/mislabelled-four.png", "7", "4"]


async def test_a_mistake_opens_in_classify(make_app, labelled):
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await run_evaluation(pilot, labelled)
        await pilot.press("right", "right")  # the tab row has the keys: to the Mistakes tab
        assert screen.query_one(TabbedContent).active == MISTAKES_TAB
        gallery = screen.query_one(MistakeGallery)
        await wait_for(pilot, lambda: gallery.cards)
        first = gallery.cards[0]
        assert str(first.path) == screen.report["mistakes"][0]["path"]
        assert first.query_one(".mistake--picture").image is not None  # its picture, decoded by the worker
        await pilot.press("tab", "right", "left")  # into the gallery, to the second card and back
        assert app.focused is first
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ClassifyScreen) and app.screen.current == first.path)
        classify = app.screen
        await wait_for(pilot, lambda: classify.models)
        assert classify.model == "cnn"


async def test_cancel_and_a_folder_from_the_browser(make_app, labelled, tmp_path, monkeypatch):
    many = onnx_models.digit_pngs(tmp_path / "many" / "0", 50, distinct=20)
    # Each picture is read for real, once the test lets the reading go on: the cancel comes mid-run.
    gate, real_load = threading.Event(), evaluate_module.load_image

    def load_image(*args, **kwargs):
        gate.wait(30)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "load_image", load_image)
    app = make_app(start=labelled)
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_evaluate(pilot, many.parent)
        await pilot.press("e")
        assert screen.running and "x Cancel" in screen_text(app)
        await pilot.press("x")
        gate.set()
        assert not screen.running
        await wait_for(pilot, lambda: not any(w.group == "evaluate" and w.is_running for w in app.workers))
        assert screen.report is None and "Cancelled" in screen_text(app)
        # f opens the browser on the folder; u takes the one under the cursor.
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, PickFolderScreen))
        picker = app.screen
        picker.choose(labelled)
        await pilot.press("u")
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.folder == labelled.resolve()


async def test_models_screen_evaluates_the_highlighted_classifier(make_app):
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("4")
        models = app.screen
        assert isinstance(models, ModelsScreen)
        await wait_for(pilot, lambda: models.rows)
        table = models.query_one(DataTable)
        cnn = next(i for i, row in enumerate(models.rows) if getattr(row, "name", "") == "cnn-invert")
        table.move_cursor(row=cnn)
        await pilot.pause()
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EvaluateScreen))
        evaluate = app.screen
        await wait_for(pilot, lambda: evaluate.models)
        assert evaluate.model == "cnn-invert"


async def test_fits_80x24(make_app, labelled):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await run_evaluation(pilot, labelled)
        await settled(pilot)
        lines = screen_text(app).splitlines()
        assert len(lines) == 24
        text = "\n".join(lines)
        assert "true\\pred" in text and "accuracy" in text
        row7 = next(line for line in lines if line.startswith("7 "))
        assert len(row7.rstrip()) <= 80


@pytest.mark.parametrize("size", [SMALL, WIDE])
def test_evaluate_snapshot(make_app, labelled, snap_compare, size):
    async def evaluate(pilot):
        await run_evaluation(pilot, labelled)
        pilot.app.screen.query_one("#evaluate-status").update(f"cnn on labelled: {pilot.app.screen.report['count']} images")
        pilot.app.screen.query_one("#evaluate-folder").update("folder labelled  (f)")
        await settled(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=evaluate)


async def test_a_colour_model_shows_its_mistakes_in_colour(make_app, tiny_models, tmp_path):
    """A colour folder model (stretch, 3 channels): red and blue squares filed under the wrong colour are
    mistakes, and their pictures are shown in colour, as the files are."""
    onnx_models.build_stretch(tiny_models, "colours", ["blue", "red"])
    root = tmp_path / "colours"
    for label, colour in (("red", (0, 0, 230)), ("blue", (230, 0, 0))):  # each folder holds the other colour
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (20, 12), colour).save(root / label / f"{i}.png")
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_evaluate(pilot, root)
        screen.action_select_model("colours")
        await pilot.press("e")
        await wait_for(pilot, lambda: screen.report is not None and not screen.running)
        gallery = screen.query_one(MistakeGallery)
        await wait_for(pilot, lambda: gallery.cards)
        shown = {str(card.path): card.query_one(".mistake--picture").image.getpixel((5, 5)) for card in gallery.cards}
        assert screen.report["count"] == 6 and len(gallery.cards) == len(screen.report["mistakes"]) >= 1
        for mistake in screen.report["mistakes"]:
            red, _, blue = shown[mistake["path"]]
            assert (red > 200 and blue < 30) if Path(mistake["path"]).parent.name == "blue" else (blue > 200 and red < 30)


async def test_a_folder_model_is_evaluated_on_its_test_part(make_app, tiny_models, labelled, tmp_path):
    """A model with a split manifest beside it (as dl-train folder writes) opens on the folder it was
    trained on, its held-out test part only, as `dl-tui evaluate --split test`; t goes to every file."""
    test = [["0/0-1.png", 0], ["4/nested/4-3.png", 2], ["7/mislabelled-four.png", 3], ["../outside.png", 0]]
    manifest = {"version": 1, "root": str(labelled), "layout": "classes", "seed": 0, "val": 0.1, "test": 0.1,
                "classes": ["0", "1", "4", "7"], "files": {"train": [], "val": [], "test": test}}
    (tiny_models / "cnn.split.json").write_text(json.dumps(manifest))
    app = make_app(start=tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("6")
        screen = app.screen
        await wait_for(pilot, lambda: screen.models)
        screen.action_select_model("cnn")
        assert screen.folder == labelled and screen.test_part
        await pilot.press("e")
        await wait_for(pilot, lambda: screen.report is not None and not screen.running)
        report = screen.report
        assert report["split"] == "test" and report["count"] == 3
        assert any("left out 1 manifest entr" in note for note in report["notes"])
        cli = json.loads(subprocess.run(
            [sys.executable, "-m", "tui.cli", "evaluate", str(labelled), "-m", "cnn", "--models", str(tiny_models),
             "--split", "test", "--format", "json", "--device", "cpu", "--quiet"],
            capture_output=True, text=True, timeout=120).stdout)
        for key in ("count", "accuracy", "confusion", "mistakes"):
            assert report[key] == cli[key], key
        await pilot.press("t", "e")  # every file again
        await wait_for(pilot, lambda: screen.report["split"] == "all" and not screen.running)
        assert screen.report["count"] == 17


async def test_many_classes_scroll_and_names_stay_literal(make_app, tmp_path):
    """30 classes do not fit 80x24: the heat map scrolls; labels and file names with markup in them are
    shown as written."""
    labels = [f"[b]class-{i:02d}" for i in range(30)]
    matrix = [[5 if i == j else (1 if j == (i + 1) % 30 else 0) for j in range(30)] for i in range(30)]
    report = {"count": 180, "accuracy": 5 / 6, "macro_f1": 0.83, "confusion": {"labels": labels, "matrix": matrix},
              "per_class": [{"label": label, "precision": 0.8, "recall": 0.8, "f1": 0.8, "support": 6} for label in labels],
              "mistakes": [{"path": str(tmp_path / "[red]odd.png"), "true_label": labels[0], "label": labels[1],
                            "confidence": 0.9}],
              "errors": [], "label_issues": []}
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("6")
        screen = app.screen
        await screen.show_report("cnn", tmp_path, report, {})
        await pilot.pause()
        heat = screen.query_one(ConfusionMatrix)
        assert heat.max_scroll_x > 0 and heat.max_scroll_y > 0  # both ways
        heat.scroll_to(y=heat.max_scroll_y, animate=False)
        # the last row, its label cut to fit, then its counts (drawn once the scroll is painted)
        await wait_for(pilot, lambda: "29 [b]class…   1" in screen_text(app))
        screen.query_one(TabbedContent).active = MISTAKES_TAB
        await wait_for(pilot, lambda: "[red]odd.png" in screen_text(app))
        card = screen_text(app)
        assert "[red]odd.png" in card and "→ [b]class-01 9…" in card  # the card's caption, as written, cut to fit
