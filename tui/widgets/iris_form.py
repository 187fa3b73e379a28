"""Four measurement fields for the iris model; up and down arrows nudge a value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label

from tui.text import clean

# A versicolor near the middle of the data set, so the first picture shows a real decision.
DEFAULTS = (5.9, 2.8, 4.3, 1.3)


class NumberField(Input):
    """A number input that arrow keys step by 0.1 (shift: by 1)."""

    BINDINGS = [
        Binding("up", "step(0.1)", "+0.1", tooltip="Increase by 0.1 cm"),
        Binding("down", "step(-0.1)", "-0.1", tooltip="Decrease by 0.1 cm"),
        Binding("shift+up", "step(1)", "+1", show=False),
        Binding("shift+down", "step(-1)", "-1", show=False),
    ]

    def action_step(self, delta: float) -> None:
        """Add delta to the value, never below zero."""
        try:
            value = float(self.value)
        except ValueError:
            value = 0.0
        self.value = f"{max(0.0, round(value + delta, 1)):.1f}"
        self.cursor_position = len(self.value)


class IrisForm(Vertical):
    """Sepal and petal measurements in cm; posts Changed whenever all four parse."""

    @dataclass
    class Changed(Message):
        """New measurements, in the model's feature order."""

        form: IrisForm
        features: tuple[float, ...]

        @property
        def control(self) -> IrisForm:
            """The form that sent it."""
            return self.form

    def __init__(self, names: Sequence[str], units: str = "cm", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.names = [clean(name) for name in names]
        self.units = clean(units)

    def compose(self) -> ComposeResult:
        """One labelled field per feature."""
        for index, name in enumerate(self.names):
            with Horizontal(classes="iris-row"):
                yield Label(self.label(name), classes="iris-label")
                default = DEFAULTS[index] if index < len(DEFAULTS) else 1.0
                yield NumberField(f"{default:.1f}", type="number", id=f"feature-{index}", classes="iris-field")

    def label(self, name: str) -> str:
        """The feature's name with its unit, unless the name already gives it ("sepal length (cm)")."""
        unit = f"({self.units})"
        return name if not self.units or unit in name else f"{name} {unit}"

    def values(self) -> tuple[float, ...] | None:
        """The four numbers, or None while one does not parse."""
        try:
            return tuple(float(field.value) for field in self.query(NumberField))
        except ValueError:
            return None

    @on(Input.Changed, ".iris-field")
    def _changed(self, event: Input.Changed) -> None:
        """Re-announce the measurements when a field changes."""
        event.stop()
        values = self.values()
        if values is not None:
            self.post_message(self.Changed(self, values))
