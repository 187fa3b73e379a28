"""Probability bars: one row per class with its label, a bar and a percentage; the top class highlighted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.bar import bar
from tui.text import clean

class ProbabilityBars(Widget):
    """A model's class probabilities as bars (all, or the `rows` most likely), or the error that replaced them."""

    COMPONENT_CLASSES: ClassVar = {"probability-bars--top", "probability-bars--bar", "probability-bars--error",
                         "probability-bars--warning"}

    DEFAULT_CSS = """
    ProbabilityBars { height: auto; min-height: 3; }
    ProbabilityBars > .probability-bars--top { color: $accent; text-style: bold; }
    ProbabilityBars > .probability-bars--bar { color: $primary; }
    ProbabilityBars > .probability-bars--error { color: $error; }
    ProbabilityBars > .probability-bars--warning { color: $warning; text-style: bold; }
    """

    labels: reactive[tuple[str, ...]] = reactive(tuple, layout=True)
    probabilities: reactive[tuple[float, ...]] = reactive(tuple)
    error: reactive[str] = reactive("", layout=True)
    # 0 shows every class; fewer rows show the most probable classes, most likely first.
    rows: reactive[int] = reactive(0, layout=True)
    # A line above the bars, e.g. the model's out-of-distribution warning; "" for none.
    warning: reactive[str] = reactive("", layout=True)

    def show(self, labels: Sequence[str], probabilities: Sequence[float] | np.ndarray) -> None:
        """Show one probability per label."""
        self.error = ""
        self.labels = tuple(clean(label) for label in labels)
        self.probabilities = tuple(float(p) for p in probabilities)

    def show_error(self, message: str) -> None:
        """Show a one-line error in place of the bars."""
        self.labels, self.probabilities, self.warning = (), (), ""
        self.error = clean(message)

    def clear(self) -> None:
        """Show nothing (no image selected yet)."""
        self.labels, self.probabilities, self.error, self.warning = (), (), "", ""

    @property
    def top(self) -> int | None:
        """Index of the most probable class, if any."""
        return int(np.argmax(self.probabilities)) if self.probabilities else None

    def shown(self) -> list[int]:
        """Indices of the classes drawn, in drawing order."""
        order = list(range(min(len(self.labels), len(self.probabilities))))
        if 0 < self.rows < len(order):
            order = sorted(order, key=lambda i: -self.probabilities[i])[: self.rows]
        return order

    def watch_rows(self) -> None:
        """Say when some classes are left out."""
        self.border_subtitle = f"top {self.rows}" if 0 < self.rows < len(self.labels) else ""

    def watch_labels(self) -> None:
        """The subtitle depends on the number of classes too."""
        self.watch_rows()

    def get_content_height(self, container, viewport, width: int) -> int:
        """One row per class shown, or the error's wrapped lines, or one for an empty view."""
        if self.error:
            return max(1, len(self._error_text().wrap(self.app.console, max(1, width))))
        warning = len(self._warning_text().wrap(self.app.console, max(1, width))) if self.warning else 0
        return max(1, len(self.shown()) + (warning if self.probabilities else 0))

    def _warning_text(self) -> Text:
        return Text(f"⚠ {self.warning}", style=self.get_component_rich_style("probability-bars--warning"))

    def _error_text(self) -> Text:
        return Text(f"⚠ {self.error}", style=self.get_component_rich_style("probability-bars--error"))

    def render(self) -> Text:
        """Draw the rows; the bar takes whatever width the labels and percentages leave."""
        if self.error:
            return self._error_text()
        if not self.probabilities:
            return Text("no prediction yet", style="dim")
        label_width = max(len(label) for label in self.labels)
        width = max(4, self.size.width - label_width - 9)
        top = self.top
        bar_style = self.get_component_rich_style("probability-bars--bar")
        top_style = self.get_component_rich_style("probability-bars--top")
        text = Text(no_wrap=True, overflow="crop")
        if self.warning:  # wrapped to the width, as get_content_height counts it
            for line in self._warning_text().wrap(self.app.console, max(1, self.size.width)):
                text.append_text(line)
                text.append("\n")
        for row, index in enumerate(self.shown()):
            label, p = self.labels[index], self.probabilities[index]
            style = top_style if index == top else None
            if row:
                text.append("\n")
            text.append(f"{label:>{label_width}} ", style=style or "")
            text.append(bar(p, width), style=top_style if index == top else bar_style)
            text.append(f" {p * 100:5.1f}%", style=style or "")
        return text
