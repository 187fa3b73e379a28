"""The confusion matrix as a heat map: rows the true class, columns the prediction, each cell's count
written on a colour that grows with its share of the row (green on the diagonal, red off it)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.widgets import Static

from tui.text import clean

ROW_LABEL = 12  # cells for a row's label at most: "index label", cut with an ellipsis
EMPTY = (40, 40, 46)  # a cell with nothing in it
RIGHT = (46, 160, 67)  # the diagonal at 100% of its row
WRONG = (214, 57, 48)  # an off-diagonal cell at 100% of its row


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _blend(share: float, full: tuple[int, int, int]) -> Color:
    share = min(max(share, 0.0), 1.0) ** 0.6  # small shares still show: 5% of a row is not nothing
    return Color.from_rgb(*(round(e + (f - e) * share) for e, f in zip(EMPTY, full, strict=True)))


SHORT_LABEL = 4  # labels up to this long head their column; longer ones are numbered


def _short(labels: Sequence[str]) -> bool:
    return all(len(clean(label)) <= SHORT_LABEL for label in labels)


def cell_width(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> int:
    """Cells per column: the widest count or column heading, with a space each side."""
    widest = max((len(str(value)) for row in matrix for value in row), default=1)
    heading = max(map(len, map(clean, labels)), default=1) if _short(labels) else len(str(len(labels) - 1))
    return max(widest, heading, 2) + 2


def matrix_text(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> Text:
    """The heat map as text: a heading row, then one row per true class (its label, then its counts).
    Short labels ("7", "cat") head their columns; longer ones are numbered, each row saying "3 Dress".
    Labels come from a model's metadata: cleaned, never markup."""
    width = cell_width(labels, matrix)
    short = _short(labels)
    headings = [clean(label) if short else str(index) for index, label in enumerate(labels)]
    names = [clean(label) if short else _cut(f"{index} {clean(label)}", ROW_LABEL) for index, label in enumerate(labels)]
    label_width = max([len(name) for name in names] + [len("true\\pred")])
    text = Text(no_wrap=True, overflow="crop")
    text.append("true\\pred".ljust(label_width) + " ", style="dim")
    for heading in headings:
        text.append(heading.rjust(width - 1) + " ", style="bold")
    for row_index, (name, row) in enumerate(zip(names, matrix, strict=False)):
        text.append("\n")
        text.append(name.ljust(label_width) + " ", style="bold")
        total = sum(row)
        for column, value in enumerate(row):
            share = value / total if total else 0.0
            background = _blend(share, RIGHT if column == row_index else WRONG)
            red, green, blue = background.get_truecolor()
            light = 0.299 * red + 0.587 * green + 0.114 * blue > 140
            style = Style(bgcolor=background, color="black" if light else "white", bold=column == row_index)
            text.append(str(value).rjust(width - 1) + " ", style=style)
    return text


class ConfusionMatrix(ScrollableContainer):
    """The heat map, scrolling both ways when it is bigger than its room (more than about 10 classes at 80x24)."""

    DEFAULT_CSS = """
    ConfusionMatrix { height: auto; max-height: 100%; width: 1fr; }
    ConfusionMatrix > .confusion--cells { width: auto; height: auto; }
    ConfusionMatrix > .confusion--legend { width: auto; height: 1; color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.labels: list[str] = []
        self.matrix: list[list[int]] = []

    def compose(self) -> ComposeResult:
        """The cells and a legend line under them."""
        yield Static("", classes="confusion--cells")
        yield Static("", classes="confusion--legend")

    def show(self, labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> None:
        """Draw LABELS × LABELS counts, rows being the true class."""
        self.labels, self.matrix = list(labels), [list(row) for row in matrix]
        self.query_one(".confusion--cells", Static).update(matrix_text(self.labels, self.matrix))
        legend = "rows: true class · columns: predicted · colour: share of the row"
        self.query_one(".confusion--legend", Static).update(Text(legend))
