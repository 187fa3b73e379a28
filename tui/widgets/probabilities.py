"""Probability bars: one row per class with its label, a bar and a percentage; the top class highlighted."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.text import clean

_EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float, width: int) -> str:
    """A bar of `width` cells filled to `fraction`, with eighth-cell resolution."""
    eighths = int(round(max(0.0, min(1.0, fraction)) * width * 8))
    full, rest = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[rest] if rest else "")).ljust(width)


class ProbabilityBars(Widget):
    """A model's class probabilities as bars, or the one-line error that replaced them."""

    COMPONENT_CLASSES = {"probability-bars--top", "probability-bars--bar", "probability-bars--error"}

    DEFAULT_CSS = """
    ProbabilityBars { height: auto; min-height: 3; }
    ProbabilityBars > .probability-bars--top { color: $accent; text-style: bold; }
    ProbabilityBars > .probability-bars--bar { color: $primary; }
    ProbabilityBars > .probability-bars--error { color: $error; }
    """

    labels: reactive[tuple[str, ...]] = reactive(tuple, layout=True)
    probabilities: reactive[tuple[float, ...]] = reactive(tuple)
    error: reactive[str] = reactive("", layout=True)

    def show(self, labels: Sequence[str], probabilities: Sequence[float] | np.ndarray) -> None:
        """Show one probability per label."""
        self.error = ""
        self.labels = tuple(clean(label) for label in labels)
        self.probabilities = tuple(float(p) for p in probabilities)

    def show_error(self, message: str) -> None:
        """Show a one-line error in place of the bars."""
        self.labels, self.probabilities = (), ()
        self.error = clean(message)

    def clear(self) -> None:
        """Show nothing (no image selected yet)."""
        self.labels, self.probabilities, self.error = (), (), ""

    @property
    def top(self) -> int | None:
        """Index of the most probable class, if any."""
        return int(np.argmax(self.probabilities)) if self.probabilities else None

    def get_content_height(self, container, viewport, width: int) -> int:
        """One row per class, or one for an error or an empty view."""
        return max(1, len(self.labels))

    def render(self) -> Text:
        """Draw the rows; the bar takes whatever width the labels and percentages leave."""
        if self.error:
            return Text(f"⚠ {self.error}", style=self.get_component_rich_style("probability-bars--error"))
        if not self.probabilities:
            return Text("no prediction yet", style="dim")
        label_width = max(len(label) for label in self.labels)
        width = max(4, self.size.width - label_width - 9)
        top = self.top
        bar_style = self.get_component_rich_style("probability-bars--bar")
        top_style = self.get_component_rich_style("probability-bars--top")
        text = Text(no_wrap=True, overflow="crop")
        for index, (label, p) in enumerate(zip(self.labels, self.probabilities)):
            style = top_style if index == top else None
            text.append(f"{label:>{label_width}} ", style=style or "")
            text.append(bar(p, width), style=top_style if index == top else bar_style)
            text.append(f" {p * 100:5.1f}%", style=style or "")
            if index < len(self.labels) - 1:
                text.append("\n")
        return text
