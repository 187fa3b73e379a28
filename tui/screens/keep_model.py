"""After a run: the new models' test metrics beside the current ones, and Keep new or Keep old."""

from __future__ import annotations

from typing import ClassVar

from rich import box
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.model_text import metrics
from tui.staging import Comparison
from tui.text import clean


# The number that says which model is better, for each kind of model: higher is better for both.
HEADLINE = (("test_accuracy", "test accuracy"), ("test_elbo", "ELBO"))


def _pair(new: float, old: float, percent: bool) -> tuple[str, str]:
    """NEW and OLD to as few decimals as tell them apart (at most four)."""
    scale, unit = (100, "%") if percent else (1, "")
    for digits in range(1, 5):
        shown = f"{new * scale:.{digits}f}{unit}", f"{old * scale:.{digits}f}{unit}"
        if shown[0] != shown[1]:
            break
    return shown


def worse(rows: list[Comparison]) -> list[str]:
    """A sentence for each new model that tests worse than the one it would replace."""
    lines = []
    for row in rows:
        for key, name in HEADLINE:
            new, old = row.new.get(key), (row.old or {}).get(key)
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (new, old)):
                continue
            if new < old:
                a, b = _pair(new, old, "accuracy" in key)
                shown = f"{a} vs {b} {name}" if "accuracy" in key else f"{name} {a} vs {b}"
                lines.append(f"The new {clean(row.name)} is worse than the one it replaces ({shown}).")
            break
    return lines


def comparison_table(rows: list[Comparison]) -> Table:
    """One row per model: what the app uses now, and what the run made."""
    table = Table(box=box.SIMPLE_HEAD, expand=True)
    for column in ("model", "now", "new"):
        table.add_column(column)
    for row in rows:
        now = f"{metrics(row.old) or 'no metrics'} ({row.old_source})" if row.old is not None else "none yet"
        table.add_row(Text(clean(row.name)), Text(now), Text(metrics(row.new) or "no metrics"))
    return table


class KeepModelScreen(ModalScreen[bool]):
    """Ask before a run's models replace the ones in use; dismisses with True to keep the new ones."""

    DEFAULT_CSS = """
    KeepModelScreen { align: center middle; }
    #keep-dialog {
        width: 90; max-width: 100%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    #keep-verdict { display: none; color: $text-warning; text-style: bold; margin-bottom: 1; }
    #keep-verdict.-shown { display: block; }
    #keep-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    #keep-buttons Button { margin-left: 2; }
    """
    BINDINGS: ClassVar = [
        Binding("n", "keep(True)", "Keep new", tooltip="Use the new models; the old ones stay restorable"),
        Binding("o,escape", "keep(False)", "Keep old", tooltip="Drop the new models"),
    ]

    def __init__(self, rows: list[Comparison]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        """The question, the side-by-side metrics and two buttons."""
        with Vertical(id="keep-dialog"):
            yield Static("[b]Training finished.[/b] Replace the models in use with the new ones?")
            yield Static(comparison_table(self.rows), id="keep-table")
            verdict = worse(self.rows)
            yield Static(Text("\n".join(verdict)), id="keep-verdict", classes="-shown" if verdict else "")
            yield Static("[dim]Keep new: the models in use now stay restorable (Models screen, Restore "
                         "previous). Keep old: the new ones are dropped.[/dim]")
            with Horizontal(id="keep-buttons"):
                yield Button("Keep new", variant="success", id="keep-new")
                yield Button("Keep old", variant="primary", id="keep-old")

    def on_mount(self) -> None:
        """Keep old has the focus: Enter alone never replaces a model."""
        self.query_one("#keep-old", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        """Answer with the button's choice."""
        self.dismiss(event.button.id == "keep-new")

    def action_keep(self, new: bool) -> None:
        """Answer from the keyboard."""
        self.dismiss(new)
