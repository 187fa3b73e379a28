"""Models: every ONNX file found, with its signature, size, test metrics, date, parity and provider."""

from __future__ import annotations

import json
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from tui.runtime import ModelInfo
from tui.screens.base import AppScreen
from tui.text import clean, markup_safe, one_line

COLUMNS = ("file", "task", "inputs", "outputs", "size", "test metrics", "trained", "parity", "provider")


def signature(items: list[tuple[str, list, str]]) -> str:
    """`image [N,28,28,1]` for each input or output, dynamic axes as their names."""
    return ", ".join(f"{name} [{','.join(str(d) for d in shape)}]" for name, shape, _ in items)


def size(n: int) -> str:
    """Bytes for people."""
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


SHORT = {"test_accuracy": "acc", "test_accuracy_original": "orig", "test_accuracy_inverted": "inv",
         "test_elbo": "ELBO"}


def metrics(values: dict) -> str:
    """Accuracies as percentages, an ELBO as is, in few columns."""
    parts = []
    for key, value in values.items():
        short = SHORT.get(key, key.removeprefix("test_"))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{short} {value * 100:.2f}%" if "accuracy" in key else f"{short} {value:.1f}")
    return " ".join(parts)


class ModelsScreen(AppScreen):
    """A table of the models in the folder; the highlighted one's details below."""

    BINDINGS = [
        Binding("r", "reload", "Reload", tooltip="Look for models in the folder again", id="models.reload"),
    ]

    @dataclass
    class Loaded(Message):
        """Every model's info, or the error that stopped it loading."""

        rows: list[ModelInfo | tuple[str, str]]
        provider: str

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[ModelInfo | tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        """The table and a details panel."""
        yield Header()
        with Vertical():
            yield DataTable(id="models-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="model-details")
        yield Footer()

    def on_mount(self) -> None:
        """Set up the columns."""
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.query_one(DataTable).focus()

    def models_changed(self) -> None:
        """Read the folder again."""
        self.load()

    @work(thread=True, exclusive=True, group="models", exit_on_error=False)
    def load(self) -> None:
        """Open every model off the UI thread; a broken file becomes a row with its error."""
        rows: list[ModelInfo | tuple[str, str]] = []
        for name in self.runtime.available():
            try:
                rows.append(self.runtime.info(name))
            except Exception as error:  # shown in the table, the rest still load
                rows.append((name, one_line(error) or type(error).__name__))
        self.post_message(self.Loaded(rows, self.runtime.provider))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        """Fill the table."""
        self.rows = event.rows
        table = self.query_one(DataTable)
        table.clear()
        for index, row in enumerate(event.rows):
            if isinstance(row, tuple):
                name, error = row
                cells = [Text(clean(f"{name}.onnx")), Text(clean(error), style="red")] + [""] * 7
            else:
                cells = [Text(clean(row.path.name)), row.task, signature(row.inputs), signature(row.outputs),
                         Text(size(row.size_bytes), justify="right"), metrics(row.metrics),
                         clean(row.created[:16].replace("T", " ")),
                         "" if row.parity is None else f"{row.parity:.1e}", clean(event.provider)]
            table.add_row(*[c if isinstance(c, Text) else Text(clean(c)) for c in cells], key=str(index))
        if not event.rows:
            self.query_one("#model-details", Static).update(
                f"No .onnx files in {markup_safe(self.runtime.models_dir)}")

    @on(DataTable.RowHighlighted)
    def _details(self, event: DataTable.RowHighlighted) -> None:
        """Describe the highlighted model: description, data, configuration, versions."""
        row = self.rows[int(event.row_key.value)]
        details = self.query_one("#model-details", Static)
        if isinstance(row, tuple):
            details.update(f"[b]{markup_safe(row[0])}[/b]\n{markup_safe(row[1])}")
            return
        lines = [f"[b]{markup_safe(row.name)}[/b]: {markup_safe(row.description)}",
                 f"file: {markup_safe(row.path)}"]
        for label, value in (("labels", row.labels), ("preprocessing", row.preprocessing),
                             ("dataset", row.dataset), ("config", row.config), ("versions", row.versions)):
            if value:
                lines.append(f"{label}: {markup_safe(json.dumps(value, ensure_ascii=False))}")
        if row.history:
            lines.append(f"history: {len(row.history)} epochs recorded")
        details.update("\n".join(lines))

    def action_reload(self) -> None:
        """Rescan the folder, for every screen."""
        self.dl_app.models_changed()
