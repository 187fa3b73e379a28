"""One column of probability bars per digit model: side by side, or stacked showing the classes that fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from textual.containers import Horizontal

from tui.text import markup_safe
from tui.widgets.probabilities import ProbabilityBars

OOD_WARNING = "this does not look like a digit"


class BarColumns(Horizontal):
    """A ProbabilityBars per model, titled with its name; app.tcss stacks them on narrow terminals."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.names: list[str] = []

    def columns(self) -> dict[str, ProbabilityBars]:
        """Each model's column, by model name."""
        return dict(zip(self.names, self.query_children(ProbabilityBars)))

    async def set_models(self, names: Sequence[str], empty: str) -> None:
        """One column per model, or a single column saying `empty` when there are none."""
        self.names = list(names)
        await self.remove_children()
        if not self.names:
            await self.mount(ProbabilityBars())
            self.query_one(ProbabilityBars).show_error(empty)
            return
        await self.mount_all(ProbabilityBars(id=f"{self.id}-{index}") for index in range(len(self.names)))
        for name, column in self.columns().items():
            column.border_title = markup_safe(name)

    def show_only(self, name: str | None) -> None:
        """Show one model's column, or every column for None."""
        for column_name, column in self.columns().items():
            column.display = name is None or column_name == name
        self.call_after_refresh(self.fit)

    def show(self, labels: Mapping[str, Sequence[str]], results: Mapping[str, np.ndarray | str],
             flagged: Mapping[str, bool] | None = None) -> None:
        """Each model's probabilities, or the error line that replaced them; a warning above the
        bars of each model whose OOD check flags the image (`flagged`, by model name)."""
        for name, column in self.columns().items():
            result = results.get(name)
            if isinstance(result, str):
                column.show_error(result)
            elif result is not None:
                column.show(labels[name], result)
                column.warning = OOD_WARNING if (flagged or {}).get(name) else ""

    def on_show(self) -> None:
        """Shown again (an unreadable file hid the bars): fit now that the layout has placed us.

        Show and Resize arrive after the compositor's layout, so the regions fit reads are settled;
        a call_after_refresh from the screen could run before the layout under load."""
        self.fit()

    def on_resize(self) -> None:
        """A new width or layout: fit again."""
        self.fit()

    def fit(self) -> None:
        """Stacked columns that would not all fit in the scroll area show their most likely classes only."""
        shown = [column for column in self.query_children(ProbabilityBars) if column.display]
        if not shown or not self.display or self.parent is None:  # hidden: fitted when shown again
            return
        stacked = self.styles.layout is not None and self.styles.layout.name == "vertical"
        room = self.parent.content_region.bottom - self.region.y
        each = room // len(shown) - 2  # less each column's border
        for column in shown:
            column.rows = max(1, each) if stacked else 0
