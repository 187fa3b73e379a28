"""Four measurement fields for the iris model; up and down arrows nudge a value."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Label

from tui.text import clean, plain

# A versicolor near the middle of the data set, so the first picture shows a real decision.
DEFAULTS = (5.9, 2.8, 4.3, 1.3)
# What a measurement may be, in the form's unit: above 0 and at most 30 (the largest flower in the
# iris data measures 7.9 cm). Outside it the model's numbers mean nothing, and huge ones overflow to NaN.
LOW, HIGH = 0.0, 30.0


def measurement(text: str) -> float | None:
    """TEXT as a measurement, or None when it is no number, not finite, or out of range."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and LOW < value <= HIGH else None


class InRange(Validator):
    """A field's value is a measurement in range (the field is drawn as invalid otherwise)."""

    def validate(self, value: str) -> ValidationResult:
        """Success for a measurement in range."""
        return self.success() if measurement(value) is not None else self.failure(f"between {LOW:g} and {HIGH:g}")


class NumberField(Input):
    """A number input that arrow keys step by 0.1 (shift: by 1)."""

    BINDINGS: ClassVar = [
        Binding("up", "step(0.1)", "+0.1", tooltip="Increase by 0.1 cm"),
        Binding("down", "step(-0.1)", "-0.1", tooltip="Decrease by 0.1 cm"),
        Binding("shift+up", "step(1)", "+1", show=False),
        Binding("shift+down", "step(-1)", "-1", show=False),
    ]

    def action_step(self, delta: float) -> None:
        """Add delta to the value, staying within the range (above 0, at most 30)."""
        try:
            value = float(self.value)
        except ValueError:
            value = 0.0
        value = value if math.isfinite(value) else 0.0
        self.value = f"{min(HIGH, max(0.1, round(value + delta, 1))):.1f}"
        self.cursor_position = len(self.value)


class IrisForm(Vertical):
    """Sepal and petal measurements in cm; posts Changed whenever all four are in range, else Invalid."""

    DEFAULT_CSS = """
    IrisForm { height: auto; width: 60; }
    .iris-row { height: 3; }
    .iris-label { width: 24; padding: 1 1 0 0; text-align: right; }
    .iris-field { width: 14; }
    """

    @dataclass
    class Changed(Message):
        """New measurements, in the model's feature order."""

        form: IrisForm
        features: tuple[float, ...]

        @property
        def control(self) -> IrisForm:
            """The form that sent it."""
            return self.form

    @dataclass
    class Invalid(Message):
        """A measurement is no number or out of range: why, in one line that gives the range."""

        form: IrisForm
        reason: str

    def __init__(self, names: Sequence[str], units: str = "cm", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.names = [clean(name) for name in names]
        self.units = clean(units)

    def compose(self) -> ComposeResult:
        """One labelled field per feature."""
        for index, name in enumerate(self.names):
            with Horizontal(classes="iris-row"):
                yield Label(plain(self.label(name)), classes="iris-label")
                default = DEFAULTS[index] if index < len(DEFAULTS) else 1.0
                field = NumberField(f"{default:.1f}", type="number", validators=[InRange()], id=f"feature-{index}",
                                    classes="iris-field")
                field.tooltip = f"between {LOW:g} and {HIGH:g} {self.units}".rstrip()
                yield field

    def label(self, name: str) -> str:
        """The feature's name with its unit, unless the name already gives it ("sepal length (cm)")."""
        unit = f"({self.units})"
        return name if not self.units or unit in name else f"{name} {unit}"

    def values(self) -> tuple[float, ...] | None:
        """The four numbers, or None while one is no number or out of range."""
        values = tuple(measurement(field.value) for field in self.query(NumberField))
        return None if None in values else values  # type: ignore[return-value]

    def problem(self) -> str:
        """What is wrong with the first field that is not a measurement in range ("" when none)."""
        unit = f" {self.units}" if self.units else ""
        for name, field in zip(self.names, self.query(NumberField), strict=False):
            if measurement(field.value) is None:
                shown = field.value.strip()[:20] or "nothing"
                return f"{name.removesuffix(f' ({self.units})')} must be between {LOW:g} and {HIGH:g}{unit} (above " \
                       f"{LOW:g}), not {shown}"
        return ""

    @on(Input.Changed, ".iris-field")
    def _changed(self, event: Input.Changed) -> None:
        """Re-announce the measurements when a field changes."""
        event.stop()
        values = self.values()
        if values is not None:
            self.post_message(self.Changed(self, values))
        else:
            self.post_message(self.Invalid(self, self.problem()))
