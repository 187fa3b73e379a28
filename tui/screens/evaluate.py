"""Evaluate: classify a labelled folder (one subfolder per class) with one model, then show the confusion
matrix as a heat map, per-class precision, recall and F1, a gallery of the mistakes (each opens in
Classify) and the likely label errors."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import numpy as np
from PIL import Image as PILImage
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, ProgressBar, Select, Static, TabbedContent, TabPane, Tabs
from textual.worker import get_current_worker

from tui.runtime import ImageError, ModelInfo, load_image
from tui.runtime.classifier import catalogue, classify_image, input_for, model_inputs, needs_colour
from tui.runtime.display import display_copy, thumbnail
from tui.runtime.preprocess import IMAGE_SUFFIXES
from tui.screens.base import AppScreen
from tui.screens.pick_folder import PickFolderScreen
from tui.text import clean, one_line, plain
from tui.widgets.confusion import ConfusionMatrix
from tui.widgets.heat_map import Explained, explain_input
from tui.widgets.mistakes import MistakeCard, MistakeGallery

MATRIX_TAB, CLASSES_TAB, MISTAKES_TAB, ISSUES_TAB = "eval-matrix", "eval-classes", "eval-mistakes", "eval-issues"
SPLIT_SUFFIX = ".split.json"  # beside the model: `<NAME>.split.json` (docs/model-contract.md)
MAX_MANIFEST_BYTES = 256 << 20  # as dl-tui evaluate reads it
GALLERY = 50  # mistakes shown as pictures (the report's default cap)
THUMBNAIL = 96  # pixels a side of a gallery picture: plenty for a 16x8-cell card
PROGRESS_EVERY = 0.1  # seconds between progress messages


# The report ----------------------------------------------------------------------------------
# The shape of `dl-tui evaluate --format json`, with its figures (tui/evaluate/metrics.py and
# label_issues.py, pure numpy); the files are walked and classified here, on the one classify
# path the app's screens use (the app never imports tui.classify, the CLI's engine).

def labelled_files(folder: Path, labels: list[str]) -> tuple[list[tuple[Path, int]], list[str]]:
    """(image file, class index) for every image under FOLDER/<label>/ (nested folders walked, links
    not followed, dot files skipped), in the labels' order, and one line for what was left out."""
    files, notes = [], []
    try:
        entries = sorted(folder.iterdir())
    except OSError as error:
        return [], [one_line(error)]
    folders = {entry.name for entry in entries if entry.is_dir() and not entry.is_symlink()
               and not entry.name.startswith(".")}
    unknown = sorted(folders - set(labels))
    if unknown:
        shown = ", ".join(clean(name) for name in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        notes.append(f"left out {len(unknown)} folder{'s' * (len(unknown) != 1)} not named as one of the "
                     f"model's labels: {shown}")
    loose = [entry for entry in entries if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES]
    if loose:
        notes.append(f"left out {len(loose)} image file{'s' * (len(loose) != 1)} at the root, outside any class folder")
    for index, label in enumerate(labels):
        if label not in folders:
            continue
        for root, dirs, names in os.walk(folder / label):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not Path(root, d).is_symlink())
            for name in sorted(names):
                path = Path(root) / name
                if not name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES and not path.is_symlink():
                    files.append((path, index))
    return files, notes


def manifest_of(info: ModelInfo) -> Path | None:
    """The split manifest `dl-train folder` wrote beside the model (`<NAME>.split.json`), if there is one."""
    path = info.path.parent / f"{info.name}{SPLIT_SUFFIX}"
    return path if path.is_file() else None


def manifest_root(manifest: Path) -> Path | None:
    """The folder a split manifest was made from, if it still exists."""
    try:
        root = Path(str(json.loads(manifest.read_text(encoding="utf-8"))["root"]))
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    return root if root.is_dir() else None


def test_files(folder: Path, manifest: Path, labels: list[str]) -> tuple[list[tuple[Path, int]], list[str]]:
    """The held-out test part of a split manifest, read relative to FOLDER, as `dl-tui evaluate --split test`
    reads it; ValueError (one line) if the manifest cannot be read."""
    try:
        if manifest.stat().st_size > MAX_MANIFEST_BYTES:
            raise ValueError(f"{clean(manifest.name)} is too large to be a split manifest")
        data = json.loads(manifest.read_text(encoding="utf-8"))
        classes = [str(name) for name in data["classes"]]
        rows = [(str(rel), int(k)) for rel, k in data["files"]["test"]]
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as error:
        raise ValueError(f"cannot read the split manifest {clean(manifest.name)}: {one_line(error)}") from None
    files, left_out = [], 0
    for rel, k in rows:
        parts = PurePosixPath(rel).parts
        if not parts or PurePosixPath(rel).is_absolute() or ".." in parts or not 0 <= k < len(classes) \
                or classes[k] not in labels:
            left_out += 1
            continue
        files.append((folder.joinpath(*parts), labels.index(classes[k])))
    notes = [f"left out {left_out} manifest entries outside the folder or of no label"] if left_out else []
    return files, notes


def evaluate_folder(runtime: Any, info: ModelInfo, folder: Path, max_bytes: int,
                    cancelled: Callable[[], bool], progress: Callable[[int, int], None],
                    limit: int = GALLERY, manifest: Path | None = None) -> dict[str, Any] | None:
    """The report of INFO on FOLDER (only MANIFEST's test part, if given), as `dl-tui evaluate --format
    json` gives it (None if cancelled): figures, mistakes (most confident first), errors (unreadable
    files, not counted), label issues. ValueError (one line) for a manifest that cannot be read."""
    from tui.evaluate.label_issues import label_issues
    from tui.evaluate.metrics import mistakes, scores

    labels = list(info.labels)
    colour = needs_colour([info])
    files, notes = test_files(folder, manifest, labels) if manifest else labelled_files(folder, labels)
    paths, truth, rows, errors = [], [], [], []
    for done, (path, given) in enumerate(files):
        if cancelled():
            return None
        progress(done, len(files))
        try:
            image = load_image(path, max_bytes, cancelled, colour=colour)
        except ImageError as error:
            errors.append({"path": str(path), "error": one_line(error)})
            continue
        # No --polarity or --normalize given: each model's own steps (MNIST's, or the picture stretched).
        result = classify_image(runtime, [info], image, None, None)[0]
        if result.probabilities is None:
            errors.append({"path": str(path), "error": result.error or "no result"})
            continue
        paths.append(str(path))
        truth.append(given)
        rows.append(result.probabilities)
    progress(len(files), len(files))
    probabilities = np.asarray(rows, np.float64).reshape(len(rows), len(labels))
    predicted = probabilities.argmax(axis=1).tolist() if rows else []
    return {"model": info.name, "split": "test" if manifest else "all", **scores(truth, predicted, labels).as_json(),
            "mistakes": mistakes(paths, truth, probabilities, labels, limit), "errors": errors,
            "label_issues": label_issues(paths, probabilities, truth, labels), "notes": notes}


def gallery_images(report: Mapping[str, Any], colour: bool, max_bytes: int,
                   cancelled: Callable[[], bool]) -> dict[str, PILImage.Image]:
    """Small copies of the mistakes' pictures, by path: in colour for a colour model (as the file is),
    else grey (as the model sees it)."""
    images = {}
    for mistake in list(report.get("mistakes", []))[:GALLERY]:
        path = str(mistake.get("path", ""))
        if cancelled():
            break
        try:
            grey = load_image(path, max_bytes, cancelled)
            image = display_copy(path, grey, max_bytes, cancelled) if colour else thumbnail(grey)
        except (ImageError, OSError):
            continue
        image.thumbnail((THUMBNAIL, THUMBNAIL))
        images[path] = image
    return images


def _percent(value: object) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) else "-"


class EvaluateScreen(AppScreen):
    """A model and a labelled folder above; the results in tabs below."""

    BINDINGS: ClassVar = [
        Binding("f", "pick_folder", "Folder", tooltip="Choose the labelled folder (one subfolder per class)",
                id="evaluate.folder"),
        Binding("e", "evaluate", "Evaluate", tooltip="Classify the folder with the model and show the results",
                id="evaluate.run"),
        Binding("t", "test_part", "Test part", tooltip="Only the held-out test part of the folder the model was "
                "trained on (its split manifest), or every file again", id="evaluate.test_part"),
        Binding("x", "cancel", "Cancel", tooltip="Stop the evaluation", id="evaluate.cancel"),
    ]
    DEFAULT_CSS = """
    EvaluateScreen #evaluate-top { height: auto; padding: 0 1; }
    EvaluateScreen #evaluate-model { width: 30; }
    EvaluateScreen #evaluate-folder { width: 1fr; height: 3; content-align: left middle; padding: 0 1; }
    EvaluateScreen #evaluate-status { height: auto; max-height: 4; padding: 0 1; }
    EvaluateScreen #evaluate-progress { padding: 0 1; height: 1; }
    EvaluateScreen #evaluate-summary { height: auto; padding: 0 1; }
    EvaluateScreen #evaluate-tabs { height: 1fr; }
    EvaluateScreen #evaluate-tabs ContentSwitcher { height: 1fr; }
    EvaluateScreen TabPane > Vertical { height: 1fr; }
    EvaluateScreen DataTable { height: 1fr; }
    EvaluateScreen TabPane { padding: 0 0; }
    """

    @dataclass
    class ModelsFound(Message):
        """The image classifiers the folder can be evaluated with."""

        models: list[ModelInfo]

    @dataclass
    class Progressed(Message):
        """Images classified so far, of the total."""

        done: int
        total: int

    @dataclass
    class Evaluated(Message):
        """The report, and the mistakes' pictures by path."""

        model: str
        folder: Path
        report: dict[str, Any]
        images: dict[str, PILImage.Image]

    def __init__(self) -> None:
        super().__init__()
        self.models: list[ModelInfo] = []
        self.model = ""
        self.folder: Path | None = None  # the app's start folder, once mounted
        self.report: dict[str, Any] | None = None
        self.running = False
        self.test_part = False  # only the held-out test part, from the model's split manifest
        self._chosen = ""  # the model whose folder and part were last set

    def compose(self) -> ComposeResult:
        """Model and folder, status and progress, then the tabs of results."""
        yield Header()
        with Horizontal(id="evaluate-top"):
            yield Select([], prompt="Model", allow_blank=True, id="evaluate-model")
            yield Static("", id="evaluate-folder")
        yield Static("", id="evaluate-status")
        bar = ProgressBar(total=1, show_eta=False, id="evaluate-progress")
        bar.display = False
        yield bar
        with TabbedContent(initial=MATRIX_TAB, id="evaluate-tabs"):
            with TabPane("Matrix", id=MATRIX_TAB), Vertical():
                yield Static("", id="evaluate-summary")
                yield ConfusionMatrix(id="confusion")
            with TabPane("Per class", id=CLASSES_TAB):
                yield DataTable(id="evaluate-classes", cursor_type="row", zebra_stripes=True)
            with TabPane("Mistakes", id=MISTAKES_TAB):
                yield MistakeGallery(self.dl_app.graphics, id="mistakes")
            with TabPane("Label errors", id=ISSUES_TAB):
                yield DataTable(id="evaluate-issues", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        """Start from the folder the app was opened on."""
        start = self.dl_app.start_path
        self.folder = start if start.is_dir() else start.parent
        self.query_one("#evaluate-classes", DataTable).add_columns("class", "precision", "recall", "F1", "support")
        self.query_one("#evaluate-issues", DataTable).add_columns("file", "given", "likely", "p(given)")
        self._show_folder()
        self._status(Text.assemble("Choose a classifier and a labelled folder (", ("f", "bold"), "), then ",
                                   ("e", "bold"), " evaluates."))
        self._focus_tabs()

    def _focus_tabs(self) -> None:
        """The tab row has the keys: left and right go through the results, Tab into them."""
        self.query_one("#evaluate-tabs", TabbedContent).query_one(Tabs).focus()

    def _status(self, text: Text) -> None:
        self.query_one("#evaluate-status", Static).update(text)

    def _show_folder(self) -> None:
        part = ("test part", "bold") if self.test_part else ("all files", "dim")
        self.query_one("#evaluate-folder", Static).update(
            Text.assemble(("folder ", "dim"), plain(self.folder or "none"), ("  (f) · ", "dim"), part,
                          (" (t)" if self._manifest() else "", "dim")))

    def _manifest(self) -> Path | None:
        info = self._info()
        return manifest_of(info) if info is not None else None

    # Models ------------------------------------------------------------------------------------
    def models_changed(self) -> None:
        """Find the image classifiers again."""
        self.load_models()

    @work(thread=True, exclusive=True, group="evaluate-models", exit_on_error=False)
    def load_models(self) -> None:
        """Read the models' metadata off the UI thread."""
        self.post_message(self.ModelsFound(catalogue(self.runtime).models))

    @on(ModelsFound)
    def _models_found(self, event: ModelsFound) -> None:
        """Offer the classifiers; keep the chosen one if it is still there."""
        self.models = event.models
        names = [info.name for info in self.models]
        chosen = self._chosen
        if self.model not in names:
            self.model = names[0] if names else ""
        select = self.query_one("#evaluate-model", Select)
        with select.prevent(Select.Changed):
            select.set_options([(plain(name), name) for name in names])
            if self.model:
                select.value = self.model
        if self.model != chosen:  # a reload keeps the folder and part the user chose
            self._model_chosen()
        self.refresh_bindings()

    @on(Select.Changed, "#evaluate-model")
    def _model_selected(self, event: Select.Changed) -> None:
        """Evaluate with another model from now on."""
        if event.value is not Select.BLANK:
            self.model = str(event.value)
            self._model_chosen()

    def _model_chosen(self) -> None:
        """A model trained on a folder is evaluated on its held-out test part, in the folder it was trained on
        (while that folder still exists); any other on all files."""
        self._chosen = self.model
        manifest = self._manifest()
        root = manifest_root(manifest) if manifest is not None else None
        self.test_part = root is not None
        if root is not None:
            self.folder = root
        self._show_folder()
        self.refresh_bindings()

    def action_select_model(self, name: str) -> None:
        """Choose the model NAME (the Models screen's way in)."""
        if name in [info.name for info in self.models]:
            self.model = name
            select = self.query_one("#evaluate-model", Select)
            with select.prevent(Select.Changed):
                select.value = name
            self._model_chosen()
        else:
            self.model = name  # the catalogue may still be loading: kept if it turns out to be there
        self.refresh_bindings()

    # Folder ------------------------------------------------------------------------------------
    def action_pick_folder(self) -> None:
        """Choose the labelled folder with the browser."""
        start = self.folder or self.dl_app.start_path
        self.app.push_screen(PickFolderScreen(start, "Evaluate on which labelled folder?"), self._picked)

    def _picked(self, folder: Path | None) -> None:
        if folder is not None:
            self.set_folder(folder)

    def set_folder(self, folder: Path) -> None:
        """Evaluate on FOLDER from now on."""
        self.folder = Path(folder)
        self._show_folder()
        self.refresh_bindings()

    # Running -----------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Evaluate needs a model and a folder and no run under way; Cancel needs a run."""
        if action == "evaluate":
            return True if not self.running and self.folder is not None and self._info() is not None else None
        if action == "cancel":  # in the footer only while it means something: 80 columns are short
            return self.running
        if action == "pick_folder":
            return None if self.running else True
        if action == "test_part":  # only for a model with a split manifest: hidden for the others
            return (None if self.running else True) if self._manifest() is not None else False
        return True

    def action_test_part(self) -> None:
        """Toggle between the held-out test part (the model's split manifest) and every file."""
        if self._manifest() is not None and not self.running:
            self.test_part = not self.test_part
            self._show_folder()

    def _info(self) -> ModelInfo | None:
        return next((info for info in self.models if info.name == self.model), None)

    def action_evaluate(self) -> None:
        """Classify the folder with the model, in a worker."""
        info = self._info()
        if self.running or info is None or self.folder is None:
            return
        self.running = True
        bar = self.query_one("#evaluate-progress", ProgressBar)
        bar.update(total=1, progress=0)
        bar.display = True
        self._status(Text.assemble("Evaluating ", plain(info.name, "bold"), " on ", plain(self.folder), "…"))
        self.refresh_bindings()
        self.evaluate(info, self.folder, self._manifest() if self.test_part else None)

    @work(thread=True, exclusive=True, group="evaluate", exit_on_error=False)
    def evaluate(self, info: ModelInfo, folder: Path, manifest: Path | None) -> None:
        """Classify every image of the folder's class subfolders; progress and the report come back as messages."""
        worker = get_current_worker()
        limit = self.dl_app.max_file_size
        last = 0.0

        def cancelled() -> bool:
            return worker.is_cancelled

        def progress(done: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY or done == total:
                last = now
                self.post_message(self.Progressed(done, total))

        try:
            report = evaluate_folder(self.runtime, info, folder, limit, cancelled, progress, manifest=manifest)
            if report is None:
                return
            images = gallery_images(report, needs_colour([info]), limit, cancelled)
        except Exception as error:  # noqa: BLE001  a model that fails to run, a bad manifest: one line, the app stays
            report = {"failed": one_line(error) or type(error).__name__}
            images = {}
        if not worker.is_cancelled:
            self.post_message(self.Evaluated(info.name, folder, report, images))

    @on(Progressed)
    def _progressed(self, event: Progressed) -> None:
        """Move the bar."""
        if self.running:
            self.query_one("#evaluate-progress", ProgressBar).update(total=max(event.total, 1), progress=event.done)

    def action_cancel(self) -> None:
        """Stop the evaluation; what was shown before stays."""
        if not self.running:
            return
        self.workers.cancel_group(self, "evaluate")
        self._done()
        self._status(Text("Cancelled: the results shown are from before."))

    def _done(self) -> None:
        self.running = False
        self.query_one("#evaluate-progress", ProgressBar).display = False
        self.refresh_bindings()

    @on(Evaluated)
    async def _evaluated(self, event: Evaluated) -> None:
        """Fill every tab from the report."""
        if not self.running:
            return
        self._done()
        report = event.report
        if "failed" in report:
            self._status(Text.assemble(("⚠ ", "yellow"), plain(report["failed"])))
            return
        await self.show_report(event.model, event.folder, report, event.images)

    async def show_report(self, model: str, folder: Path, report: dict[str, Any],
                          images: Mapping[str, PILImage.Image]) -> None:
        """Show a report shaped as `dl-tui evaluate --format json`'s."""
        self.report = report
        errors, notes = report.get("errors", []), report.get("notes", [])
        part = " (test part)" if report.get("split") == "test" else ""
        status = Text.assemble(plain(model, "bold"), " on ", plain(folder), part, ": ",
                               (f"{report.get('count', 0)} images", "bold"))
        if errors:
            status.append_text(Text(f", {len(errors)} unreadable (left out)", style="yellow"))
        for note in notes:
            status.append_text(Text.assemble("\n", ("⚠ ", "yellow"), plain(note)))
        if not report.get("count"):
            status.append_text(Text("\nNo image in a subfolder named after one of the model's labels.",
                                    style="yellow"))
        self._status(status)
        self.query_one("#evaluate-summary", Static).update(Text.assemble(
            "accuracy ", (_percent(report.get("accuracy")), "bold"), "   macro-F1 ",
            (_percent(report.get("macro_f1")), "bold"), f"   mistakes {sum(1 for _ in report.get('mistakes', []))}"
            f"   likely label errors {len(report.get('label_issues', []))}"))
        confusion = report.get("confusion") or {"labels": [], "matrix": []}
        self.query_one(ConfusionMatrix).show(confusion["labels"], confusion["matrix"])
        table = self.query_one("#evaluate-classes", DataTable)
        table.clear()
        for row in report.get("per_class", []):
            table.add_row(plain(row.get("label", "")), *(Text(f"{row.get(key, 0):.3f}", justify="right")
                                                         for key in ("precision", "recall", "f1")),
                          Text(str(row.get("support", 0)), justify="right"))
        issues = self.query_one("#evaluate-issues", DataTable)
        issues.clear()
        for issue in report.get("label_issues", []):
            path = Path(str(issue.get("path", "")))
            shown = path.relative_to(folder) if path.is_relative_to(folder) else path
            issues.add_row(plain(shown), plain(issue.get("given_label", "")), plain(issue.get("suggested_label", "")),
                           Text(f"{issue.get('given_probability', 0):.3f}", justify="right"))
        await self.query_one(MistakeGallery).show(list(report.get("mistakes", []))[:GALLERY], images)
        if not isinstance(self.focused, (Tabs, MistakeCard, DataTable)):
            self._focus_tabs()

    # Why a mistake (w on a card) ------------------------------------------------------------------
    @dataclass
    class MistakeExplained(Message):
        """A mistake's heat map, for the card that asked."""

        card: MistakeCard
        explained: Explained

    @on(MistakeCard.ExplainAsked)
    def _explain_mistake(self, event: MistakeCard.ExplainAsked) -> None:
        """Explain the mistake's predicted label with the evaluated model, in a worker."""
        name = str((self.report or {}).get("model", ""))
        info = next((info for info in self.models if info.name == name), None)
        if info is None:  # the models were reloaded without it
            event.card.show_explanation(Explained((), name, error=f"model {name} is no longer here"))
        else:
            self.explain_mistake(event.card, event.path, event.label, info)

    @work(thread=True, group="evaluate-explain", exit_on_error=False)
    def explain_mistake(self, card: MistakeCard, path: Path, label: str, info: ModelInfo) -> None:
        """Read the file as the evaluation did (the model's own steps) and explain LABEL."""
        worker = get_current_worker()
        try:
            image = load_image(path, self.dl_app.max_file_size, lambda: worker.is_cancelled, colour=needs_colour([info]))
        except ImageError as error:
            self.post_message(self.MistakeExplained(card, Explained((), info.name, error=one_line(error))))
            return
        x = input_for(model_inputs(image, [info], None, None), info)
        index = info.labels.index(label) if label in info.labels else None
        if x is not None and not worker.is_cancelled:
            self.post_message(self.MistakeExplained(card, explain_input(self.runtime, info, x, index, (str(path),))))

    @on(MistakeExplained)
    def _mistake_explained(self, event: MistakeExplained) -> None:
        """Show the heat map on its card (if it is still shown)."""
        if event.card.is_attached:
            event.card.show_explanation(event.explained)

    # To Classify -------------------------------------------------------------------------------
    @on(MistakeCard.Opened)
    async def _open_mistake(self, event: MistakeCard.Opened) -> None:
        """Show the image on the Classify screen, with this model's bars."""
        from tui.screens.classify import ClassifyScreen

        screen = await self.dl_app.goto("classify")
        if isinstance(screen, ClassifyScreen):
            if any(info.name == self.model for info in screen.models):
                screen.select_model(self.model)
            elif not screen.models:  # still loading: it keeps this choice when its models come
                screen.model = self.model
            screen.open(event.path)
