"""The Evaluate screen: a tiny labelled folder of real MNIST digits, the tiny cnn; real counts in the heat map
and the per-class table, a mistake opened in Classify, label errors listed, and how it looks at 80x24."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_helpers import screen_text, settled, wait_for
from PIL import Image
from textual.widgets import DataTable

import onnx_models
from tui.runtime import Runtime, load_image
from tui.runtime.classifier import classify_image
from tui.screens.classify import ClassifyScreen
from tui.screens.evaluate import EvaluateScreen, label_issues, metrics
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


def expected(models: Path, folder: Path) -> tuple[list[list[int]], int]:
    """The confusion matrix and count the one classify path gives, file by file."""
    runtime = Runtime(models, device="cpu")
    info = runtime.info("cnn")
    matrix = np.zeros((10, 10), int)
    for label in ("0", "1", "4", "7"):
        for path in sorted((folder / label).rglob("*.png")):
            try:
                image = load_image(path)
            except Exception:  # noqa: BLE001  the broken file: not counted
                continue
            best = classify_image(runtime, [info], image)[0].best
            matrix[int(label), best] += 1
    return matrix.tolist(), int(matrix.sum())


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


def test_metrics_match_scikit_learn_definitions():
    report = metrics(["a", "b", "c"], [0, 0, 1, 1, 2], [0, 1, 1, 1, 0])
    assert report["confusion"]["matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert report["accuracy"] == pytest.approx(3 / 5)
    # precision a 1/2, recall 1/2 -> F1 0.5; b: 2/3 and 1 -> 0.8; c: 0
    assert [row["f1"] for row in report["per_class"]] == pytest.approx([0.5, 0.8, 0.0])
    assert report["macro_f1"] == pytest.approx(1.3 / 3)


def test_label_issues_flag_the_unlikely_label():
    rows = [("a1", 0, [0.9, 0.1]), ("a2", 0, [0.8, 0.2]), ("b1", 1, [0.2, 0.8]), ("odd", 1, [0.95, 0.05])]
    issues = label_issues(["a", "b"], rows)
    assert [(i["path"], i["given_label"], i["suggested_label"]) for i in issues] == [("odd", "b", "a")]


def test_heat_map_text_fits_80_columns_for_ten_classes():
    labels = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    matrix = [[1000 if i == j else 3 for j in range(10)] for i in range(10)]
    text = matrix_text(labels, matrix)
    assert max(len(line) for line in text.plain.splitlines()) <= 78
    assert len(text.plain.splitlines()) == 11
    assert matrix_text(["[b]x", "y"], [[1, 0], [0, 1]]).plain.splitlines()[1].startswith("0 [b]x")  # as written


async def test_evaluate_shows_real_numbers(make_app, tiny_models, labelled):
    matrix, count = expected(tiny_models, labelled)
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await run_evaluation(pilot, labelled)
        report = screen.report
        assert report["count"] == count == 17
        assert report["confusion"]["matrix"] == matrix
        assert report["accuracy"] == pytest.approx(sum(matrix[i][i] for i in range(10)) / count)
        assert [e["path"] for e in report["errors"]] == [str(labelled / "1" / "broken.png")]
        assert any("cats/" in note for note in report["notes"])
        # The heat map draws those counts, row by row.
        shown = screen.query_one(ConfusionMatrix)
        assert shown.matrix == matrix
        cells = matrix_text(shown.labels, shown.matrix).plain.splitlines()
        assert cells[1 + 7].split() == ["7", *(str(n) for n in matrix[7])]
        # The per-class table: support and recall of class 7 from the same matrix.
        table = screen.query_one("#evaluate-classes", DataTable)
        row7 = [str(cell) for cell in table.get_row_at(7)]
        assert row7[0] == "7" and row7[4] == str(sum(matrix[7]))
        assert float(row7[2]) == pytest.approx(matrix[7][7] / sum(matrix[7]), abs=5e-4)
        text = screen_text(app)
        assert f"accuracy {report['accuracy']:.1%}" in text
        # The 4 filed under 7 is among the mistakes and the likely label errors.
        mistakes = [m["path"] for m in report["mistakes"]]
        assert str(labelled / "7" / "mislabelled-four.png") in mistakes
        confidences = [m["confidence"] for m in report["mistakes"]]
        assert confidences == sorted(confidences, reverse=True)
        assert any(i["path"].endswith("mislabelled-four.png") and i["given_label"] == "7"
                   for i in report["label_issues"])


async def test_a_mistake_opens_in_classify(make_app, labelled):
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await run_evaluation(pilot, labelled)
        await pilot.press("right", "right")  # to the Mistakes tab
        gallery = screen.query_one(MistakeGallery)
        await wait_for(pilot, lambda: gallery.cards)
        first = gallery.cards[0]
        assert str(first.path) == screen.report["mistakes"][0]["path"]
        assert first.query_one(".mistake--picture").image is not None  # its picture, decoded by the worker
        first.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ClassifyScreen) and app.screen.current == first.path)
        classify = app.screen
        await wait_for(pilot, lambda: classify.models)
        assert classify.model == "cnn"


async def test_cancel_and_a_folder_from_the_browser(make_app, labelled, tmp_path):
    many = onnx_models.digit_pngs(tmp_path / "many" / "0", 2000, distinct=20)
    app = make_app(start=labelled)
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_evaluate(pilot, many.parent)
        await pilot.press("e", "x")  # 2,000 images: far from done one key later
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
