"""Draw a digit: a 28x28 canvas, every digit model's bars updated as you draw (each model given the
drawing at the size its metadata asks for), and `s` to save it as a PNG."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from PIL import Image as PILImage
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, Header, Static
from textual.worker import get_current_worker

from tui.paths import describe_folders
from tui.runtime import ModelInfo
from tui.runtime.classifier import catalogue, classify_inputs, mnist_input, model_inputs
from tui.screens.base import AppScreen
from tui.screens.saving import SavesPng
from tui.text import plain
from tui.widgets.bar_columns import BarColumns
from tui.widgets.canvas import DrawingCanvas
from tui.widgets.heat_map import DEBOUNCE, HeatMap
from tui.widgets.picture import from_array, picture

# `dl-tui classify`'s defaults (no --polarity or --normalize given): the bars show what it will say of
# the saved PNG. The MNIST models get auto polarity and centring; a folder model (fit stretch) the
# drawing as it is, stretched to its size, grey in every channel for a colour model.
POLARITY, NORMALIZE = None, None
DRAWING = "drawing"  # the key of this screen's digit in DlTuiApp.latent_inputs


class DrawScreen(AppScreen, SavesPng):
    """A canvas, the 28x28 the models receive, and each digit model's probabilities, live."""

    DEFAULT_CSS = """
    #draw-side { width: 60; }
    #draw-head { height: auto; }
    /* Sized from the picture (tui/widgets/halfcell.py), within these limits: square on screen. */
    #draw-input {
        border-title-color: $foreground;
        width: auto;
        height: auto;
        max-width: 22;
        max-height: 11;
        border: round $secondary 50%;
    }
    #draw-info { width: 1fr; height: auto; padding: 1 1; }
    /* The explanation (e) takes the model input's place: it is drawn on that input. */
    #draw-head.-explaining #draw-input { display: none; }
    #draw-explain > .heat-map--picture { max-width: 22; max-height: 11; }
    #draw-warning { display: none; height: auto; color: $warning; border: round $warning; padding: 0 1; }
    #draw-bars { height: auto; }
    #draw-bars ProbabilityBars { width: 1fr; border-title-color: $foreground; border: round $accent 50%; padding: 0 1; }

    /* Narrow (under 120 columns), large (180 and more), short (under 36 lines): tui/app.py's breakpoints. */
    DrawScreen.-narrow #draw-side { width: 40; }
    DrawScreen.-narrow #draw-bars { layout: vertical; }
    DrawScreen.-large #draw-side { width: 40%; }
    DrawScreen.-short #draw-input { max-width: 16; max-height: 8; }
    DrawScreen.-short #draw-explain > .heat-map--picture { max-width: 18; max-height: 8; }  /* room for "cnn → 7 100%" */
    DrawScreen.-short #draw-info { padding: 0 1; }
    """

    BINDINGS: ClassVar = [
        Binding("u,ctrl+z", "undo", "Undo", tooltip="Take back the last stroke (or the clear)", id="draw.undo"),
        Binding("c", "clear", "Clear", tooltip="Rub the canvas out (u brings it back)", id="draw.clear"),
        Binding("s", "save", "Save PNG", tooltip="Save the drawing as drawing-N.png in the current folder",
                id="draw.save"),
        # Not in the footer (80 columns hold no more): in the help and the palette.
        Binding("e", "explain", "Explain", tooltip="Show which pixels make the first model decide, as you draw: a "
                "heat map over its input", show=False, id="draw.explain"),
        Binding("right_square_bracket", "explain_class(1)", "Next class", show=False, id="draw.explain_next",
                tooltip="Explain the next class of the model"),
        Binding("left_square_bracket", "explain_class(-1)", "Previous class", show=False,
                id="draw.explain_previous", tooltip="Explain the previous class of the model"),
    ]
    SAVED_TITLE = "drawing saved"

    @dataclass
    class ModelsFound(Message):
        """The digit classifiers found, and a line for each model left out (unusable, unreadable)."""

        models: list[ModelInfo]
        errors: list[str] = field(default_factory=list)

    @dataclass
    class Classified(Message):
        """The drawing's model input and each model's probabilities (or error line)."""

        pixels: np.ndarray
        model_input: np.ndarray  # the first model's
        results: dict[str, np.ndarray | str]
        warning: str
        mnist_input: np.ndarray | None = None  # the drawing at 28x28, for the latent map

    def __init__(self) -> None:
        super().__init__()
        self.models: list[ModelInfo] = []
        self.pixels = np.zeros((28, 28), np.uint8)
        self.classified: np.ndarray | None = None  # the pixels the bars are for
        self.saved: np.ndarray | None = None  # the pixels last written to a PNG
        self.explaining = False  # e: the heat map shown in the model input's place
        self.explain_class: int | None = None  # the class explained ([ and ]); None: the top class
        self._explained_input: np.ndarray | None = None  # the first model's input, last classified
        self._explain_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        """The canvas on the left; the model input, the verdict and the bars on the right."""
        yield Header()
        with Horizontal():
            yield DrawingCanvas(self.dl_app.graphics, id="canvas")
            with VerticalScroll(id="draw-side"):
                with Horizontal(id="draw-head"):
                    yield picture(self.dl_app.graphics, id="draw-input")
                    yield HeatMap(self.dl_app.graphics, id="draw-explain")
                    yield Static("", id="draw-info")
                yield Static("", id="draw-warning")
                notes = Static("", id="draw-notes")  # the models left out, and why; hidden while none
                notes.display = False
                yield notes
                yield BarColumns(id="draw-bars")
        yield Footer()

    def on_mount(self) -> None:
        """Keys to the canvas, so the arrows and space draw at once."""
        self.query_one("#canvas").border_title = "draw a digit: drag the mouse, or arrows and space"
        self.query_one("#draw-input").border_title = "model input"
        self._show_info(None, {})
        self.query_one(DrawingCanvas).focus()

    def models_changed(self) -> None:
        """Find the digit classifiers (first show, or after training)."""
        self.load_models()

    @work(thread=True, exclusive=True, group="draw-models", exit_on_error=False)
    def load_models(self) -> None:
        """Read the models' metadata off the UI thread."""
        found = catalogue(self.runtime)
        self.post_message(self.ModelsFound(found.models, found.skipped))

    @on(ModelsFound)
    async def _models_found(self, event: ModelsFound) -> None:
        """One bar column per model, stacked; then classify what is drawn."""
        self.models = event.models
        notes = self.query_one("#draw-notes", Static)
        notes.update(Text("\n").join(plain(f"⚠ {error}", "yellow") for error in event.errors))
        notes.display = bool(event.errors)
        await self.query_one(BarColumns).set_models(
            [info.name for info in self.models], f"no digit classifier in {describe_folders(self.runtime.folders)}")
        self.call_after_refresh(self.query_one(BarColumns).fit)
        self._classify_now()

    @on(DrawingCanvas.Changed)
    def _changed(self, event: DrawingCanvas.Changed) -> None:
        """Classify the drawing as it is now."""
        self.pixels = event.pixels
        self._classify_now()
        self.refresh_bindings()

    def _classify_now(self) -> None:
        if self.models:
            self.classify(self.pixels, list(self.models))

    @work(thread=True, exclusive=True, group="draw", exit_on_error=False)
    def classify(self, pixels: np.ndarray, models: list[ModelInfo]) -> None:
        """What `dl-tui classify` does with the saved PNG: preprocess (at each model's size), then
        every model (a worker: a drag sends many changes, and each new one cancels the one before)."""
        worker = get_current_worker()
        results: dict[str, np.ndarray | str] = {}
        flagged: list[str] = []
        folder_flagged = False
        # Shown: the first model's input (the blank canvas at that size while nothing is drawn).
        height, width = models[0].preprocessing.size
        model_input = np.zeros((height, width), np.float32)
        mnist: np.ndarray | None = None
        if pixels.any():
            inputs = model_inputs(PILImage.fromarray(pixels), models, POLARITY, NORMALIZE)
            found = classify_inputs(self.runtime, models, inputs)
            for info, result in zip(models, found, strict=True):  # a model that fails shows its error in its own column
                results[result.model] = result.error if result.probabilities is None else result.probabilities
                if result.ood is not None and result.ood.flagged:
                    flagged.append(f"{result.model} {result.ood.score:.2f} > {result.ood.threshold:.2f}")
                    folder_flagged |= info.preprocessing.stretch
            if found[0].model_input is not None:
                model_input = found[0].model_input
            # The latent map's encoder takes MNIST's steps at 28x28: never a 28x28 folder model's input.
            mnist = mnist_input(inputs)
        # A folder model was trained on the user's own pictures, not on digits.
        what = "like the models' training images" if folder_flagged else "like a digit"
        warning = f"this does not look {what} (OOD score: {', '.join(flagged)})" if flagged else ""
        if not worker.is_cancelled:
            self.post_message(self.Classified(pixels, model_input, results, warning, mnist))

    @on(Classified)
    def _classified(self, event: Classified) -> None:
        """Show the model input, the verdict and the bars, and hand the digit to the latent map."""
        if not np.array_equal(event.pixels, self.pixels):
            return  # a newer stroke is being classified
        self.classified = event.pixels
        self.query_one("#draw-input").image = from_array(event.model_input)
        warning = self.query_one("#draw-warning", Static)
        warning.update(plain(f"⚠ {event.warning}" if event.warning else ""))
        warning.display = bool(event.warning)
        bars = self.query_one(BarColumns)
        if event.results:
            bars.show({info.name: info.labels for info in self.models}, event.results)
            if event.mnist_input is not None:
                self.dl_app.latent_inputs[DRAWING] = ("your drawing", event.mnist_input)
            else:
                self.dl_app.latent_inputs.pop(DRAWING, None)
        else:
            for column in bars.columns().values():
                column.clear()
            self.dl_app.latent_inputs.pop(DRAWING, None)
        self._show_info(event.model_input, event.results)
        self._explained_input = event.model_input if event.results else None
        if self.explaining:
            self._explain_soon()

    def _show_info(self, model_input: np.ndarray | None, results: dict[str, np.ndarray | str]) -> None:
        lines = []
        for info in self.models:
            result = results.get(info.name)
            if isinstance(result, np.ndarray):
                top = int(np.argmax(result))
                label = info.labels[top] if top < len(info.labels) else str(top)
                lines.append(Text.assemble(plain(info.name), ": ", plain(label, "bold"), f" {result[top] * 100:.0f}%"))
        if not lines:
            lines = [Text("draw a digit"), Text("c clear · u undo · s save", style="dim")]
        self.query_one("#draw-info", Static).update(Text("\n").join(lines))

    # Explaining: the first model's heat map, made again a moment after each change --------------
    def action_explain(self) -> None:
        """Show or hide the explanation of the drawing."""
        self.explaining = not self.explaining
        self.query_one("#draw-head").set_class(self.explaining, "-explaining")
        self.query_one(HeatMap).set_class(self.explaining, "-shown")
        if self.explaining:
            self._explain_now()
        else:
            self._stop_explaining()
        self.refresh_bindings()

    def action_explain_class(self, delta: int) -> None:
        """Explain the next (or previous) class of the first model (kept while you draw)."""
        if not self.models or not self.models[0].labels:
            return
        self.explain_class = self.query_one(HeatMap).next_class(self.explain_class, delta, len(self.models[0].labels))
        self._explain_now()

    def _stop_explaining(self) -> None:
        if self._explain_timer is not None:
            self._explain_timer.stop()
            self._explain_timer = None
        self.query_one(HeatMap).stop()

    def _explain_soon(self) -> None:
        """Explain once the drawing has rested a moment: a drag classifies many times a second."""
        if self._explain_timer is not None:
            self._explain_timer.stop()
        self._explain_timer = self.set_timer(DEBOUNCE, self._explain_now)

    def _explain_now(self) -> None:
        self._explain_timer = None
        heat_map = self.query_one(HeatMap)
        x, pixels = self._explained_input, self.classified
        if not self.models or x is None or pixels is None or not pixels.any():
            self._stop_explaining()
            heat_map.clear("draw a digit to see why" if self.models else "no digit classifier")
            return
        info = self.models[0]
        if self.explain_class is not None and self.explain_class >= len(info.labels):
            self.explain_class = None
        heat_map.request(self.runtime, info, x, self.explain_class, (pixels.tobytes(), info.name, self.explain_class))

    def on_resize(self) -> None:
        """Fit the stacked bar columns again once laid out."""
        self.call_after_refresh(self.query_one(BarColumns).fit)

    def quit_question(self) -> str:
        """A drawing that is not in a PNG would be lost."""
        if self.query_one(DrawingCanvas).drawing.empty:
            return ""
        if self.saved is not None and np.array_equal(self.saved, self.pixels):
            return ""
        return "Your drawing is not saved (s on the Draw screen saves it)."

    @on(SavesPng.Saved)
    def _remember_saved(self, event: SavesPng.Saved) -> None:
        """Quitting no longer asks about pixels that are in a file."""
        if not event.error:
            self.saved = event.pixels

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Undo greyed with nothing to undo; clear and save greyed on an empty canvas."""
        canvas = self.query_one(DrawingCanvas)
        if action == "undo":
            return canvas.drawing.can_undo or None
        if action in ("clear", "save"):
            return not canvas.drawing.empty or None
        if action == "explain_class":
            return self.explaining or None
        return True

    def action_undo(self) -> None:
        """Take back the last stroke."""
        self.query_one(DrawingCanvas).undo()

    def action_clear(self) -> None:
        """Rub the canvas out."""
        self.query_one(DrawingCanvas).clear()

    def action_save(self) -> None:
        """Save the drawing as the first free drawing-N.png in the save folder."""
        self.save_png(self.pixels.copy(), self.dl_app.save_dir, "drawing")
