"""The explanation picture: a model's input with the heat map of what made it decide laid over it
(tui/runtime/explain.py's overlay), titled with the model, the class explained and its confidence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image as PILImage
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from tui.runtime import ModelInfo
from tui.terminal import Graphics
from tui.text import plain
from tui.widgets.picture import picture

DEBOUNCE = 0.15  # seconds the Draw screen waits after a change before explaining it again


@dataclass(frozen=True)
class Explained:
    """An explanation made off the UI thread, with its picture (or the one line why it failed)."""

    key: tuple[Any, ...]  # what it was asked for: a newer request makes it stale
    model: str = ""
    label: str = ""
    label_index: int = 0
    confidence: float = 0.0
    top: bool = True  # the model's top class
    image: PILImage.Image | None = None
    error: str = ""

    @property
    def title(self) -> Text:
        """`cnn → 7 97%` (names from the model: never markup)."""
        return Text.assemble(plain(self.model, "bold"), " → ", plain(self.label, "bold"),
                             f" {self.confidence:.0%}", ("" if self.top else " (picked)", "dim"))


def explain_input(runtime: Any, info: ModelInfo, x: np.ndarray, label_index: int | None,
                  key: tuple[Any, ...]) -> Explained:
    """Explain one model input (as `classifier.model_inputs` gives it) for LABEL_INDEX (None: the top
    class) and draw the overlay; a model or input the method cannot take gives its one-line reason."""
    from tui.runtime.explain import explain, overlay
    from tui.text import one_line

    try:
        found = explain(runtime, info, x, label_index)
        shown = x[..., 0] if x.ndim == 3 and x.shape[-1] == 1 else x  # a grey folder model's [H, W, 1]
        image = overlay(shown, found.heat)
    except Exception as error:  # noqa: BLE001 - onnxruntime's own types too: one line in place of the map
        return Explained(key, info.name, error=one_line(error) or type(error).__name__)
    return Explained(key, found.model, found.label, found.label_index, found.confidence,
                     label_index is None, image)


class HeatMap(Vertical):
    """The overlay as a picture (Sixel, Kitty or half-cells), with a line under it while it is made."""

    DEFAULT_CSS = """
    HeatMap { width: auto; height: auto; display: none; }
    HeatMap.-shown { display: block; }
    HeatMap > .heat-map--picture {
        width: auto;
        height: auto;
        max-width: 30;
        max-height: 15;
        border: round $warning 60%;
        border-title-color: $foreground;
    }
    HeatMap > .heat-map--note { width: auto; max-width: 30; height: auto; color: $text-muted; padding: 0 1; }
    HeatMap > .heat-map--note.-error { color: $error; }
    """

    def __init__(self, graphics: Graphics, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.graphics = graphics
        self.explained: Explained | None = None  # what the picture shows now
        self.asked: tuple[Any, ...] = ()  # the explanation asked for last: only it is shown

    def compose(self) -> ComposeResult:
        """The picture, and the note under it."""
        yield picture(self.graphics, classes="heat-map--picture")
        yield Static("", classes="heat-map--note")

    @property
    def picture(self) -> Any:
        """The picture widget (its `image` is the overlay shown)."""
        return self.query_one(".heat-map--picture")

    def note(self, line: str | Text, error: bool = False) -> None:
        """A line under the picture ("" for none)."""
        note = self.query_one(".heat-map--note", Static)
        note.update(line if isinstance(line, Text) else plain(line))
        note.set_class(error, "-error")
        note.display = bool(line)

    def request(self, runtime: Any, info: ModelInfo, x: np.ndarray, label_index: int | None,
                key: tuple[Any, ...]) -> None:
        """Explain X for LABEL_INDEX (None: the top class) in a worker; a newer request cancels this
        one, and a result that comes anyway for an older KEY is not shown."""
        self.asked = key
        self.waiting()
        self._explain(runtime, info, x, label_index, key)

    def cancel(self) -> None:
        """Stop the explanation being made (the one asked for is still awaited)."""
        self.workers.cancel_node(self)

    def stop(self) -> None:
        """Stop the explanation being made, and show none that comes late."""
        self.cancel()
        self.asked = ()

    def next_class(self, current: int | None, delta: int, classes: int) -> int:
        """The class DELTA after CURRENT (None: after the one shown, else after the first) of CLASSES."""
        shown = self.explained
        start = current if current is not None else (
            shown.label_index if shown is not None and not shown.error else 0)
        return (start + delta) % classes

    @work(thread=True, exclusive=True, group="explain", exit_on_error=False)
    def _explain(self, runtime: Any, info: ModelInfo, x: np.ndarray, label_index: int | None,
                 key: tuple[Any, ...]) -> None:
        explained = explain_input(runtime, info, x, label_index, key)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Ready(explained))

    @dataclass
    class Ready(Message):
        """An explanation made by the worker."""

        explained: Explained

    @on(Ready)
    def _ready(self, event: HeatMap.Ready) -> None:
        if event.explained.key == self.asked:
            self.show(event.explained)

    def waiting(self, line: str = "explaining…") -> None:
        """Made anew: the last picture stays (no flicker while drawing), the note says so."""
        self.note(line)

    def clear(self, line: str = "") -> None:
        """Nothing to explain: no picture, and why in the note."""
        self.explained = None
        self.picture.image = None
        self.picture.border_title = None
        self.note(line)

    def show(self, explained: Explained) -> None:
        """Show an explanation's overlay under its title, or the line why there is none."""
        self.explained = explained
        if explained.error:
            self.picture.image = None
            self.note(Text.assemble(plain(f"⚠ {explained.model}: ", "bold"), plain(explained.error)), error=True)
            return
        self.picture.image = explained.image
        self.picture.border_title = explained.title
        self.note("")
