"""The iris tab: four measurements in, three species' probabilities out, as the numbers change."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from tui.paths import describe_folders
from tui.runtime import ModelInfo, Runtime
from tui.text import one_line, plain
from tui.widgets.iris_form import IrisForm, NumberField
from tui.widgets.probabilities import ProbabilityBars

IRIS = "iris"


class IrisPane(Vertical):
    """The iris model's form and bars; built once the model's metadata has been read."""

    DEFAULT_CSS = """
    IrisPane { padding: 1 2; }
    #iris-help { color: $text-muted; margin-bottom: 1; }
    #iris-bars {
        width: 70;
        max-width: 100%;
        border-title-color: $foreground;
        margin-top: 1;
        border: round $accent 50%;
        padding: 0 1;
    }
    """

    @dataclass
    class Loaded(Message):
        """The iris model's metadata, or why it is not available."""

        info: ModelInfo | None
        error: str

    @dataclass
    class Predicted(Message):
        """Probabilities for one set of measurements, or an error line."""

        features: tuple[float, ...]
        probabilities: np.ndarray | None
        error: str

    def __init__(self, runtime: Runtime, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.runtime = runtime
        self.info: ModelInfo | None = None

    def compose(self) -> ComposeResult:
        """A heading; the form arrives with the model's feature names."""
        yield Static("Iris: type, or ↑/↓ to change a measurement · esc leaves the field", id="iris-help")
        yield ProbabilityBars(id="iris-bars")

    def focus_first(self) -> None:
        """Put the cursor in the first measurement, if the form is there yet."""
        fields = self.query(NumberField)
        if fields:
            fields.first().focus()

    def models_changed(self) -> None:
        """Read the iris model's metadata again."""
        self.load()

    @work(thread=True, exclusive=True, group="iris-load", exit_on_error=False)
    def load(self) -> None:
        """Open the iris model off the UI thread."""
        runtime = self.runtime
        if IRIS not in runtime.available():
            self.post_message(self.Loaded(None, f"no {IRIS}.onnx in {describe_folders(runtime.folders)}"))
            return
        try:
            self.post_message(self.Loaded(runtime.info(IRIS), ""))
        except Exception as error:  # noqa: BLE001  shown in place of the bars
            self.post_message(self.Loaded(None, one_line(error)))

    @on(Loaded)
    async def _loaded(self, event: Loaded) -> None:
        """Build the form from the metadata's feature names and predict the defaults."""
        self.info = event.info
        await self.query(IrisForm).remove()
        bars = self.query_one("#iris-bars", ProbabilityBars)
        if event.info is None:
            bars.show_error(event.error)
            return
        prep = event.info.preprocessing
        names = prep.features or [f"feature {i + 1}" for i in range(4)]
        form = IrisForm(names, prep.units, id="iris-form")
        await self.mount(form, before=bars)
        bars.border_title = plain(event.info.description or IRIS)
        values = form.values()
        if values is not None:
            self.predict(values)

    @on(IrisForm.Changed)
    def _changed(self, event: IrisForm.Changed) -> None:
        """New numbers: predict again."""
        self.predict(event.features)

    @on(IrisForm.Invalid)
    def _invalid(self, event: IrisForm.Invalid) -> None:
        """No bars for measurements no flower has: the reason, with the range, in their place."""
        self.query_one("#iris-bars", ProbabilityBars).show_error(event.reason)

    @work(thread=True, exclusive=True, group="iris", exit_on_error=False)
    def predict(self, features: tuple[float, ...]) -> None:
        """Run the iris model on one row of measurements."""
        try:
            probabilities = self.runtime.predict(IRIS, np.array([features], dtype=np.float32))[0]
            self.post_message(self.Predicted(features, probabilities, ""))
        except Exception as error:  # noqa: BLE001  a wrong-shaped model, say: one line instead of bars
            self.post_message(self.Predicted(features, None, one_line(error)))

    @on(Predicted)
    def _predicted(self, event: Predicted) -> None:
        """Show the species' bars."""
        forms = self.query(IrisForm)
        if forms and forms.first().values() != event.features:
            return  # an older prediction finishing after a newer one
        bars = self.query_one("#iris-bars", ProbabilityBars)
        if event.probabilities is None or self.info is None:
            bars.show_error(event.error)
        else:
            bars.show(self.info.labels, event.probabilities)
