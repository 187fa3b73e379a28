"""One column of probability bars per digit model: side by side, or stacked showing the classes that fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from rich.text import Text
from textual.containers import Horizontal
from textual.widgets import Static

from tui.text import plain
from tui.widgets.probabilities import ProbabilityBars

OOD_WARNING = "this does not look like a digit"
# A folder model (fit stretch) was trained on the user's own pictures, not on digits.
FOLDER_OOD_WARNING = "this does not look like its training images"
# A column's border and padding, and the least a bar and its percentage take beside the labels.
COLUMN_FRAME, BAR_AND_PERCENT = 4, 13
# Narrower than this, the bars cannot even say that they are missing: a notification does.
NOTICE_WIDTH = 12


class BarColumns(Horizontal):
    """A ProbabilityBars per model, titled with its name; app.tcss stacks them on narrow terminals.
    Columns that do not fit are left out with a line that says so, never silently."""

    DEFAULT_CSS = """
    BarColumns > #bar-columns-notice { dock: top; display: none; height: auto; width: 1fr; color: $warning; }
    """

    def __init__(self, *, id: str | None = None, one_key: str = "") -> None:
        """`one_key`, if the screen has one, is the key that shows a single model's column."""
        super().__init__(id=id)
        self.names: list[str] = []
        self.one_key = one_key
        self._only: str | None = None  # show_only's model, None for every column
        self._warned = False  # the too-narrow notification was given for the current width

    def compose(self):
        """The notice line; the columns come with set_models."""
        yield Static(id="bar-columns-notice")

    def columns(self) -> dict[str, ProbabilityBars]:
        """Each model's column, by model name."""
        return dict(zip(self.names, self.query_children(ProbabilityBars), strict=False))

    async def set_models(self, names: Sequence[str], empty: str) -> None:
        """One column per model, or a single column saying `empty` when there are none."""
        self.names = list(names)
        await self.remove_children(ProbabilityBars)
        if not self.names:
            await self.mount(ProbabilityBars())
            self.query_one(ProbabilityBars).show_error(empty)
            return
        await self.mount_all(ProbabilityBars(id=f"{self.id}-{index}") for index in range(len(self.names)))
        for name, column in self.columns().items():
            column.border_title = plain(name)

    def show_only(self, name: str | None) -> None:
        """Show one model's column, or every column for None."""
        self._only = name
        for column_name, column in self.columns().items():
            column.display = name is None or column_name == name
        self.call_after_refresh(self.fit)

    def notice(self, hidden: int) -> str:
        """The line that says how many columns are left out, and what brings them back."""
        if not hidden:
            return ""
        fixes = "widen the terminal" + (f" or press {self.one_key} for one model" if self.one_key else "")
        return f"{hidden} more model{'s' if hidden > 1 else ''}: {fixes}"

    def show(self, labels: Mapping[str, Sequence[str]], results: Mapping[str, np.ndarray | str],
             flagged: Mapping[str, bool] | None = None, folder_models: frozenset[str] = frozenset()) -> None:
        """Each model's probabilities, or the error line that replaced them; a warning above the
        bars of each model whose OOD check flags the image (`flagged`, by model name), worded for
        a folder model among `folder_models`."""
        for name, column in self.columns().items():
            result = results.get(name)
            if isinstance(result, str):
                column.show_error(result)
            elif result is not None:
                column.show(labels[name], result)
                warning = FOLDER_OOD_WARNING if name in folder_models else OOD_WARNING
                column.warning = warning if (flagged or {}).get(name) else ""

    def on_show(self) -> None:
        """Shown again (an unreadable file hid the bars): fit now that the layout has placed us.

        Show and Resize arrive after the compositor's layout, so the regions fit reads are settled;
        a call_after_refresh from the screen could run before the layout under load."""
        self.fit()

    def on_resize(self) -> None:
        """A new width or layout: fit again."""
        self.fit()

    def fit(self) -> None:
        """Show the columns that fit, and say how many do not. Stacked columns that would not all fit
        in the scroll area show their most likely classes only, down to one row each."""
        if not self.display or self.parent is None:  # hidden: fitted when shown again
            return
        if self.content_region.width == 0:  # not laid out yet: fitted again on its first resize
            return
        columns = self.query_children(ProbabilityBars)
        wanted = [column for name, column in zip(self.names, columns, strict=False) if self._only in (None, name)]
        if not wanted:  # the "no models" line
            return
        stacked = self.styles.layout is not None and self.styles.layout.name == "vertical"
        room = self.parent.content_region.bottom - self.region.y
        width = self.content_region.width
        column_width = max((len(label) for column in wanted for label in column.labels), default=1) \
            + BAR_AND_PERCENT + COLUMN_FRAME
        line, fits = "", len(wanted)
        for _ in range(2):  # the notice's own rows can leave room for one column fewer
            rows = len(Text(line).wrap(self.app.console, max(1, width))) if line else 0
            fits = min(len(wanted), max(1, (room - rows) // 3 if stacked else width // column_width))
            line = self.notice(len(wanted) - fits)
        shown = wanted[:fits]
        for column in columns:
            column.display = column in shown
        notice = self.query_one("#bar-columns-notice", Static)
        notice.update(Text(line))
        notice.display = bool(line)
        self._warn_if_too_narrow(width, column_width)
        rows = len(Text(line).wrap(self.app.console, max(1, width))) if line else 0
        each = (room - rows) // len(shown) - 2  # less each column's border
        for column in shown:
            column.rows = max(1, each) if stacked else 0

    def _warn_if_too_narrow(self, width: int, column_width: int) -> None:
        """Too narrow for even the notice (a terminal of 40 columns): say so once, in a notification."""
        if width >= NOTICE_WIDTH:
            self._warned = False
        elif not self._warned:
            self._warned = True
            need = self.region.x + column_width + 2  # and the scroll bar
            self.notify(f"No room for the probability bars: widen the terminal to {need} columns or more.",
                        severity="warning", markup=False)
