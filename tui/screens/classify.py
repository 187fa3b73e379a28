"""Classify: browse images, see each one beside the input the models get (at the size each model's
metadata asks for), and their probability bars."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image as PILImage
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Footer, Header, Select, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from tui.contract import DEFAULT_MODEL
from tui.paths import describe_folders
from tui.runtime import ImageError, ModelInfo, load_image
from tui.runtime.choices import POLARITIES
from tui.runtime.classifier import Size, catalogue, classify_inputs, input_for, mnist_input, model_inputs, needs_colour
from tui.runtime.display import decode, display_copy, thumbnail
from tui.runtime.preprocessing import BLACK_ON_WHITE, MNIST_SIZE, View
from tui.screens.base import AppScreen
from tui.text import clean, one_line, plain
from tui.widgets.bar_columns import BarColumns
from tui.widgets.file_browser import ImageTree, first_image
from tui.widgets.heat_map import HeatMap
from tui.widgets.iris_pane import IrisPane
from tui.widgets.picture import from_array, picture

COMPARE = "compare"
IMAGES_TAB, IRIS_TAB = "images-tab", "iris-tab"
BLANK_RGB = (24, 24, 24)


def input_title(size: Size) -> str:
    """The model input picture's title: its width × height in pixels."""
    height, width = size
    return f"model input {width}×{height}"


class ClassifyScreen(AppScreen):
    """A file browser, the picture and its model input, and what each digit model thinks."""

    DEFAULT_CSS = """
    #browser { width: 34; border: round $primary 50%; }
    #browser:focus { border: round $primary; }
    #pictures { width: 34; height: 1fr; }
    /* The picture boxes are sized from the picture (tui/widgets/halfcell.py), within these limits: square on screen. */
    #original { border-title-color: $foreground; width: auto; height: auto; max-height: 50%; border: round $secondary 50%; }
    #model-input {
        border-title-color: $foreground;
        width: auto;
        height: auto;
        max-width: 30;
        max-height: 15;
        border: round $secondary 50%;
    }
    #preprocess-info { height: auto; padding: 0 1; color: $text-muted; }
    /* The explanation (e) takes the model input's place: it is drawn on that input. */
    #pictures.-explaining #model-input { display: none; }
    #predictions { width: 1fr; height: 1fr; }
    #model-select { width: 40; margin-bottom: 1; }
    #bars { height: auto; }
    /* An unreadable file: its reason, once, in place of every model's bars. */
    #file-error {
        display: none;
        height: auto;
        color: $error;
        border: round $error 50%;
        border-title-color: $foreground;
        padding: 0 1;
    }
    #predictions.-failed #file-error { display: block; }
    #predictions.-failed #bars { display: none; }
    #bars ProbabilityBars { width: 1fr; border-title-color: $foreground; border: round $accent 50%; padding: 0 1; }

    /* Narrow (under 120 columns), large (180 and more), short (under 36 lines, down to 80x24): tui/app.py's breakpoints. */
    ClassifyScreen.-narrow #browser { width: 24; }
    ClassifyScreen.-narrow #pictures { width: 26; }
    ClassifyScreen.-narrow #model-input { max-width: 24; max-height: 12; }
    ClassifyScreen.-narrow #model-select { width: 100%; }
    ClassifyScreen.-narrow #bars { layout: vertical; }
    ClassifyScreen.-large #browser { width: 18%; }
    ClassifyScreen.-large #pictures { width: 30%; }
    ClassifyScreen.-large #model-input { max-width: 100%; max-height: 50%; }
    ClassifyScreen.-short #original { max-height: 9; }
    ClassifyScreen.-short #model-input { max-width: 23; max-height: 9; }
    ClassifyScreen.-narrow #explain > .heat-map--picture { max-width: 24; max-height: 12; }
    ClassifyScreen.-large #explain > .heat-map--picture { max-width: 100%; max-height: 50%; }
    ClassifyScreen.-short #explain > .heat-map--picture { max-width: 23; max-height: 9; }
    ClassifyScreen.-short #model-select { margin-bottom: 0; }
    /* The iris form's fields by id too: an Input's own rules (.-invalid:focus) would outrank a class. */
    ClassifyScreen.-short #iris { padding: 0 1; }
    ClassifyScreen.-short #iris-help { margin-bottom: 0; }
    ClassifyScreen.-short #iris .iris-row { height: 1; margin-bottom: 1; }
    ClassifyScreen.-short #iris .iris-label { padding: 0 1 0 0; }
    ClassifyScreen.-short #iris .iris-field { height: 1; border: none; padding: 0 1; background: $boost; }
    ClassifyScreen.-short #iris .iris-field:focus { background: $primary 40%; }
    ClassifyScreen.-short #iris-bars { margin-top: 0; }
    """

    BINDINGS: ClassVar = [
        Binding("c", "compare", "Compare", tooltip="Show every digit model side by side", id="classify.compare"),
        Binding("p", "polarity", "Polarity", tooltip="Cycle polarity: auto, keep, invert", id="classify.polarity"),
        Binding("n", "normalize", "Normalise", tooltip="Toggle MNIST-style cropping and centring",
                id="classify.normalize"),
        # One key, two bindings: check_action keeps the one for the tab not shown.
        Binding("i", f"tab('{IRIS_TAB}')", "Iris", tooltip="Show the iris form", id="classify.iris"),
        Binding("i", f"tab('{IMAGES_TAB}')", "Images", tooltip="Back to the images", id="classify.images"),
        # Not in the footer (80 columns hold no more): in the help and the palette.
        Binding("e", "explain", "Explain", tooltip="Show which pixels made the model decide: a heat map over its "
                "input, for its top class", show=False, id="classify.explain"),
        Binding("right_square_bracket", "explain_class(1)", "Next class", show=False, id="classify.explain_next",
                tooltip="Explain the next class of the model"),
        Binding("left_square_bracket", "explain_class(-1)", "Previous class", show=False,
                id="classify.explain_previous", tooltip="Explain the previous class of the model"),
    ]
    # Keys that only mean something beside the pictures.
    IMAGE_ACTIONS: ClassVar = {"compare", "polarity", "normalize", "explain", "explain_class"}

    @dataclass
    class ModelsFound(Message):
        """The digit classifiers in the models folder, and lines for those that failed to load."""

        models: list[ModelInfo]
        errors: list[str]

    @dataclass
    class Classified(Message):
        """An image, its input at each model's size, and every selected model's probabilities
        (or error line) for it."""

        path: Path
        shown: PILImage.Image
        inputs: dict[View, np.ndarray]  # one input per distinct view the models take
        results: dict[str, np.ndarray | str]
        flagged: dict[str, bool] = field(default_factory=dict)  # models whose OOD check flags it

    @dataclass
    class Failed(Message):
        """An image that could not be read, and why in one line."""

        path: Path
        error: str

    def __init__(self) -> None:
        super().__init__()
        self.models: list[ModelInfo] = []
        self.model = COMPARE
        self.polarity = "auto"
        self.normalize = True
        # Until p or n is pressed, each model gets its own default: a folder model (fit stretch)
        # its picture as it is, not MNIST's auto polarity and centring (tui/runtime/preprocessing.py).
        self.polarity_given = self.normalize_given = False
        self.current: Path | None = None
        self._inputs: dict[View, np.ndarray] = {}  # the current image as each kind of model takes it
        self._first: Path | None = None
        self._last_size = (28, 28)
        self.explaining = False  # e: the heat map shown in the model input's place
        self.explain_class: int | None = None  # the class explained ([ and ]); None: the top class

    def compose(self) -> ComposeResult:
        """Tabs for images and iris; the image tab is browser, pictures and bars."""
        start = self.dl_app.start_path
        # The picture shown first is also where the tree's cursor starts.
        self._first = start if start.is_file() else first_image(start)
        yield Header()
        with TabbedContent(initial=IMAGES_TAB):
            with TabPane("Images", id=IMAGES_TAB), Horizontal():
                yield ImageTree(start if start.is_dir() else start.parent, select=self._first, id="browser")
                with Vertical(id="pictures"):
                    yield picture(self.dl_app.graphics, id="original")
                    yield picture(self.dl_app.graphics, id="model-input")
                    yield HeatMap(self.dl_app.graphics, id="explain")
                    yield Static("", id="preprocess-info")
                with VerticalScroll(id="predictions"):
                    yield Select([], prompt="Model", allow_blank=True, id="model-select")
                    notes = Static("", id="model-notes")  # the models left out, and why; hidden while none
                    notes.display = False
                    yield notes
                    yield Static("", id="file-error")
                    yield BarColumns(id="bars", one_key="c")
            with TabPane("Iris", id=IRIS_TAB):
                yield IrisPane(self.runtime, id="iris")
        yield Footer()

    def on_mount(self) -> None:
        """Name the pictures and open the start file, or the folder's first image."""
        self.query_one("#original").border_title = "image"
        self.query_one("#model-input").border_title = input_title(MNIST_SIZE)
        self._show_settings()
        if self._first is not None:
            self.open(self._first)
        self.query_one(ImageTree).focus()

    def models_changed(self) -> None:
        """Find the digit classifiers again (first show, or after training)."""
        self.load_models()
        self.query_one(IrisPane).models_changed()

    @work(thread=True, exclusive=True, group="classify-models", exit_on_error=False)
    def load_models(self) -> None:
        """Read every model's metadata off the UI thread (the first read opens its session)."""
        found = catalogue(self.runtime)  # models off the contract are left out, and the notes say why
        self.post_message(self.ModelsFound(found.models, found.skipped))

    @on(ModelsFound)
    async def _models_found(self, event: ModelsFound) -> None:
        """Offer the models, one bar column each, and classify the current image again."""
        self.models = event.models
        notes = self.query_one("#model-notes", Static)
        notes.update(Text("\n").join(plain(f"⚠ {error}", "yellow") for error in event.errors))
        notes.display = bool(event.errors)
        select = self.query_one("#model-select", Select)
        options = [(plain(info.name), info.name) for info in self.models]
        if len(self.models) > 1:
            options.append(("all side by side", COMPARE))
        names = [value for _, value in options]
        if self.model not in names:
            self.model = DEFAULT_MODEL if DEFAULT_MODEL in names else (names[0] if names else COMPARE)
        with select.prevent(Select.Changed):
            select.set_options(options)
            if names:
                select.value = self.model
        await self.query_one(BarColumns).set_models([info.name for info in self.models],
                                                    f"no digit classifier in {describe_folders(self.runtime.folders)}")
        self.refresh_bindings()
        if not self.models:
            return
        self._show_columns()
        if self.current is not None:
            self.open(self.current)

    def _show_columns(self) -> None:
        self.query_one(BarColumns).show_only(None if self.model == COMPARE else self.model)

    def on_resize(self) -> None:
        """The terminal's size changed: fit the bar columns again once laid out."""
        self.call_after_refresh(self.query_one(BarColumns).fit)

    @on(ImageTree.ImageHighlighted)
    def _highlighted(self, event: ImageTree.ImageHighlighted) -> None:
        """Classify the image under the tree's cursor (unless it is already shown)."""
        if event.path != self.current:
            self.open(event.path)

    def open(self, path: Path) -> None:
        """Show and classify one image file."""
        self.current = path
        self.query_one("#original").border_title = plain(path.name)
        self.explain_class = None  # a new picture: its top class first
        self.query_one(HeatMap).cancel()
        if self.models:
            self.classify(path, list(self.models), self.polarity if self.polarity_given else None,
                          self.normalize if self.normalize_given else None)

    @work(thread=True, exclusive=True, group="classify", exit_on_error=False)
    def classify(self, path: Path, models: list[ModelInfo], polarity: str | None, normalize: bool | None) -> None:
        """Read, preprocess (at each model's size) and run every digit model; the result comes
        back as a message. One picture is decoded at a time; moving on gives up this one's
        decoding, or its wait."""
        worker = get_current_worker()
        limit = self.dl_app.max_file_size

        def cancelled() -> bool:
            return worker.is_cancelled

        def pictures() -> tuple[dict[View, np.ndarray], PILImage.Image]:
            if needs_colour(models):
                # One decode, in colour, as `dl-tui classify` reads it: grey models' inputs are
                # made from it (View.make), and it is the picture shown.
                picture = load_image(path, limit, cancelled, colour=True)
                return model_inputs(picture, models, polarity, normalize), thumbnail(picture)
            grey = load_image(path, limit, cancelled)
            inputs = model_inputs(grey, models, polarity, normalize)
            return inputs, display_copy(path, grey, limit, cancelled)

        try:
            decoded = decode(pictures, cancelled)
        except ImageError as error:
            if not worker.is_cancelled:
                self.post_message(self.Failed(path, one_line(error)))
            return
        if decoded is None or worker.is_cancelled:
            return
        inputs, shown = decoded
        results: dict[str, np.ndarray | str] = {}
        flagged: dict[str, bool] = {}
        for result in classify_inputs(self.runtime, models, inputs):  # a failing model: its error in its column
            results[result.model] = result.error if result.probabilities is None else result.probabilities
            if result.ood is not None:
                flagged[result.model] = result.ood.flagged
        # A newer image was chosen while this one ran: its result would flash the wrong picture.
        if not worker.is_cancelled:
            self.post_message(self.Classified(path, shown, inputs, results, flagged))

    @on(Classified)
    def _classified(self, event: Classified) -> None:
        """Show the picture, its model input and each model's bars."""
        if event.path != self.current:
            return
        original = self.query_one("#original")
        original.styles.min_width = None  # a bad file's box kept the last width (_failed); a picture sizes it again
        original.image = event.shown
        self._last_size = event.shown.size
        self.query_one("#predictions").remove_class("-failed")  # BarColumns fits itself when shown
        self._inputs = event.inputs
        # Marked on the latent map, whose encoder takes MNIST's 28x28 (never a folder model's input).
        if (mnist := mnist_input(event.inputs)) is not None:
            self.dl_app.latent_inputs["classify"] = (event.path.name, mnist)
        else:
            self.dl_app.latent_inputs.pop("classify", None)
        self._show_input()
        self.query_one(BarColumns).show({info.name: info.labels for info in self.models}, event.results,
                                        event.flagged,
                                        frozenset(info.name for info in self.models if info.preprocessing.stretch))

    @on(Failed)
    def _failed(self, event: Failed) -> None:
        """Say once why the file cannot be read, where the bars were, and blank the pictures."""
        if event.path != self.current:
            return
        # A blank of the last picture's size: an empty frame keeps the layout still while browsing.
        # The box is as wide as its title needs (the file's name), so it keeps its last width too.
        original = self.query_one("#original")
        if original.outer_size.width:
            original.styles.min_width = original.outer_size.width
        original.image = PILImage.new("RGB", self._last_size, BLANK_RGB)
        self.query_one("#model-input").image = None
        self._inputs = {}
        self.query_one(HeatMap).clear()
        self.query_one("#file-error", Static).update(Content(f"⚠ {clean(event.path.name)}: {event.error}"))
        self.query_one("#predictions").add_class("-failed")

    @property
    def model_input(self) -> np.ndarray | None:
        """The current image as the selected model gets it, before its own polarity and
        binarising: [H, W] at its size (all side by side: at the first model's size)."""
        info = next((info for info in self.models if info.name == self.model), None)
        if info is None:
            return next(iter(self._inputs.values()), None)
        return input_for(self._inputs, info)

    def _show_input(self) -> None:
        """The input the selected model receives, at its size: binarised for the VAE models,
        inverted for a black-on-white one (all side by side: what the first model starts from)."""
        model_input = self.model_input
        if model_input is None:
            return
        if model_input.ndim == 3 and model_input.shape[-1] == 1:  # a grey folder model's [H, W, 1]
            model_input = model_input[..., 0]
        prep = next((info.preprocessing for info in self.models if info.name == self.model), None)
        picture = self.query_one("#model-input")
        picture.image = from_array(model_input if prep is None else prep.model_view(model_input))
        notes = [] if prep is None else [note for note, shown in (
            ("inverted", prep.polarity == BLACK_ON_WHITE and not prep.stretch),
            ("binarised", prep.binarize is not None)) if shown]
        picture.border_title = " ".join([input_title(model_input.shape[:2]), *notes])
        if self.explaining:
            self._explain_now()

    # Explaining ---------------------------------------------------------------------------------
    @property
    def explained_model(self) -> ModelInfo | None:
        """The model the heat map explains: the selected one (all side by side: the first, whose
        input the model input box shows)."""
        return next((info for info in self.models if info.name == self.model), self.models[0] if self.models else None)

    def action_explain(self) -> None:
        """Show or hide the explanation of the current picture."""
        self.explaining = not self.explaining
        self.query_one("#pictures").set_class(self.explaining, "-explaining")
        self.query_one(HeatMap).set_class(self.explaining, "-shown")
        if self.explaining:
            self._explain_now()
        else:
            self.query_one(HeatMap).stop()
        self.refresh_bindings()

    def action_explain_class(self, delta: int) -> None:
        """Explain the next (or previous) class of the model."""
        info = self.explained_model
        if info is None or not info.labels:
            return
        self.explain_class = self.query_one(HeatMap).next_class(self.explain_class, delta, len(info.labels))
        self._explain_now()

    def _explain_now(self) -> None:
        """Explain the current picture for the model and class chosen, in a worker (the last one
        asked for is the one shown)."""
        heat_map = self.query_one(HeatMap)
        info = self.explained_model
        x = None if info is None else input_for(self._inputs, info)
        if info is None or x is None:
            heat_map.stop()
            heat_map.clear("no picture to explain" if self.models else "no digit classifier")
            return
        if self.explain_class is not None and self.explain_class >= len(info.labels):
            self.explain_class = None
        heat_map.request(self.runtime, info, x, self.explain_class, (self.current, info.name, self.explain_class, id(x)))

    def _show_settings(self) -> None:
        norm = "on" if self.normalize else "off"
        self.query_one("#preprocess-info", Static).update(
            f"polarity [b]{self.polarity}[/b] (p) · MNIST centring [b]{norm}[/b] (n)")

    @on(Select.Changed, "#model-select")
    def _model_selected(self, event: Select.Changed) -> None:
        """Show the chosen model's bars, or every model's."""
        if event.value is not Select.BLANK:
            self.select_model(str(event.value))

    def action_select_model(self, name: str) -> None:
        """Show the images with one model's bars (or COMPARE for all): the command palette's "Classify with"."""
        if self.query_one(TabbedContent).active != IMAGES_TAB:
            self.action_tab(IMAGES_TAB)
        self.select_model(name)

    def select_model(self, name: str) -> None:
        """Use one model (or COMPARE for all)."""
        offered = [info.name for info in self.models] + ([COMPARE] if len(self.models) > 1 else [])
        if name not in offered:
            self.notify(f"{clean(name)} is not a digit classifier here", severity="warning", markup=False)
            return
        if name != self.model:
            self.explain_class = None  # another model's classes
        self.model = name
        select = self.query_one("#model-select", Select)
        if select.value != name:
            with select.prevent(Select.Changed):
                select.value = name
        self._show_columns()
        self._show_input()

    def action_compare(self) -> None:
        """Toggle between one model and all side by side."""
        if self.model == COMPARE and self.models:
            self.select_model(DEFAULT_MODEL if any(m.name == DEFAULT_MODEL for m in self.models)
                              else self.models[0].name)
        elif len(self.models) > 1:
            self.select_model(COMPARE)

    def action_polarity(self) -> None:
        """Cycle how the image's polarity is handled, then classify again."""
        self.polarity = POLARITIES[(POLARITIES.index(self.polarity) + 1) % len(POLARITIES)]
        self.polarity_given = True
        self._show_settings()
        if self.current is not None:
            self.open(self.current)

    def action_normalize(self) -> None:
        """Toggle MNIST-style centring (off: the notebook's plain squeeze to 28x28)."""
        self.normalize = not self.normalize
        self.normalize_given = True
        self._show_settings()
        if self.current is not None:
            self.open(self.current)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Image keys only beside the images; Compare greyed with one model; `i` names the other tab."""
        active = self.query_one(TabbedContent).active
        if action in self.IMAGE_ACTIONS and active != IMAGES_TAB:
            return False
        if action == "compare":
            return len(self.models) > 1 or None
        if action == "explain_class":
            return self.explaining or None
        if action == "tab":
            return parameters[0] != active
        return True

    def action_tab(self, pane: str) -> None:
        """Show a tab."""
        # Hidden with focus inside, the tree would hand focus to a visible neighbour in its own
        # pane, and focusing a pane's widget makes TabbedContent show that pane again.
        self.set_focus(None)
        self.query_one(TabbedContent).active = pane

    @on(TabbedContent.TabActivated)
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        """Keys go to the pane now shown: the tree, or the first iris field."""
        if event.pane.id == IMAGES_TAB:
            self.query_one(ImageTree).focus()
        else:
            self.query_one(IrisPane).focus_first()
        self.refresh_bindings()
