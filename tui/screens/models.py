"""Models: every model the app reads, where it comes from, its test metrics; details and restore below."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from tui.model_text import details, metrics, signature, size
from tui.paths import model_source
from tui.runtime import ModelInfo
from tui.runtime.errors import UnusableModel
from tui.screens.base import AppScreen
from tui.staging import can_restore, restore
from tui.text import clean, one_line, plain

# What fits in 120 columns; outputs, parity and the provider are in the details.
COLUMNS = ("model", "source", "task", "inputs", "size", "test metrics", "trained")
DESCRIPTION_LIMIT = 500  # characters of a description shown; the contract allows a megabyte
# A model that could not be shown: its name, why, and "unreadable" (it did not load) or
# "unusable" (it loaded, but breaks the contract: docs/model-contract.md).
Broken = tuple[str, str, str]


class ModelsScreen(AppScreen):
    """A table of the models in the folders; the highlighted one's details below."""

    DEFAULT_CSS = """
    #models-table { height: auto; max-height: 60%; }
    #model-details { height: 1fr; padding: 1 1; border-top: solid $primary 50%; }
    """

    BINDINGS: ClassVar = [
        Binding("r", "reload", "Reload", tooltip="Look for models in the folders again", id="models.reload"),
        Binding("p", "restore", "Restore previous", tooltip="Go back to the model this one replaced",
                id="models.restore"),
        # Not in the footer (80 columns hold r, p and the screen keys); in the help and the palette.
        Binding("e", "evaluate", "Evaluate", tooltip="Evaluate the highlighted classifier on a labelled folder",
                id="models.evaluate", show=False),
    ]

    @dataclass
    class Loaded(Message):
        """Every model's info (or why it cannot be used), and which can be restored."""

        rows: list[ModelInfo | Broken]
        provider: str
        restorable: set[str]

    @dataclass
    class Restored(Message):
        """A model was swapped with the one it replaced (or why not)."""

        name: str
        files: list[str]
        error: str

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[ModelInfo | Broken] = []
        self.provider = ""
        self.restorable: set[str] = set()

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
        """Read the folders again."""
        self.load()

    @work(thread=True, exclusive=True, group="models", exit_on_error=False)
    def load(self) -> None:
        """Open every model off the UI thread; a broken file becomes a row with its error."""
        rows: list[ModelInfo | Broken] = []
        names = self.runtime.available()
        for name in names:
            try:
                rows.append(self.runtime.info(name))
            except UnusableModel as error:
                rows.append((name, one_line(error.reason), "unusable"))
            except Exception as error:  # noqa: BLE001 (shown in the table, the rest still load)
                rows.append((name, one_line(error) or type(error).__name__, "unreadable"))
        restorable = {name for name in names if can_restore(name, self.runtime.folders)}
        self.post_message(self.Loaded(rows, self.runtime.provider, restorable))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        """Fill the table."""
        self.rows, self.provider, self.restorable = event.rows, event.provider, event.restorable
        table = self.query_one(DataTable)
        table.clear()
        for index, row in enumerate(event.rows):
            if isinstance(row, tuple):
                # The reason itself is in the details: a long one would push the columns off screen.
                cells = [plain(row[0]), Text(""), Text(row[2], style="red")] + [Text("")] * 4
            else:
                cells = [plain(row.name + (" · int8" if row.precision == "int8" else "")),
                         plain(model_source(row.path, self.runtime.folders)), plain(row.task),
                         plain(signature(row.inputs)), Text(size(row.size_bytes), justify="right"),
                         plain(metrics(row.metrics)), plain(row.created[:16].replace("T", " "))]
            table.add_row(*cells, key=str(index))
        if not event.rows:
            folders = " or ".join(str(folder) for folder in self.runtime.folders)
            self.query_one("#model-details", Static).update(Text.assemble("No .onnx files in ", plain(folders)))
        self.refresh_bindings()

    def highlighted(self) -> ModelInfo | Broken | None:
        """The row under the cursor."""
        table = self.query_one(DataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row]

    @on(DataTable.RowHighlighted)
    def _details(self, event: DataTable.RowHighlighted) -> None:
        """Describe the highlighted model, one `key: value` line each."""
        row = self.rows[int(event.row_key.value)]
        panel = self.query_one("#model-details", Static)
        self.refresh_bindings()
        if isinstance(row, tuple):
            name, reason, kind = row
            # An unreadable file's error says so itself ("cannot load model ..."); an unusable one's reason needs the word.
            why = Text("unusable: ", style="red") if kind == "unusable" else Text("")
            panel.update(Text.assemble(plain(name, "bold"), "\n", why, plain(reason)))
            return
        description = row.description
        if len(description) > DESCRIPTION_LIMIT:
            description = description[: DESCRIPTION_LIMIT - 1] + "…"
        text = Text.assemble(plain(row.name, "bold"), ": ", plain(description))
        for key, value in details(row, model_source(row.path, self.runtime.folders), self.provider):
            text.append_text(Text.assemble("\n", (f"{key}:", "dim"), " ", plain(value)))
        if row.name in self.restorable:
            text.append_text(Text.assemble("\n", ("previous:", "dim"), " the model this one replaced is kept: ",
                                           ("p", "bold"), " restores it"))
        panel.update(text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Grey out Restore where there is nothing to go back to."""
        if action == "restore":
            row = self.highlighted()
            return True if isinstance(row, ModelInfo) and row.name in self.restorable else None
        if action == "evaluate":
            row = self.highlighted()
            return True if isinstance(row, ModelInfo) and row.is_image_classifier else None
        return True

    def action_reload(self) -> None:
        """Rescan the folders, for every screen."""
        self.dl_app.models_changed()

    async def action_evaluate(self) -> None:
        """Open the Evaluate screen with the highlighted classifier chosen."""
        row = self.highlighted()
        if isinstance(row, ModelInfo) and row.is_image_classifier:
            from tui.screens.evaluate import EvaluateScreen

            screen = await self.dl_app.goto("evaluate")
            if isinstance(screen, EvaluateScreen):
                screen.action_select_model(row.name)

    def action_restore(self) -> None:
        """Swap the highlighted model with the one it replaced."""
        row = self.highlighted()
        if isinstance(row, ModelInfo) and row.name in self.restorable:
            self.restore(row.name)

    @work(thread=True, exclusive=True, group="models-restore", exit_on_error=False)
    def restore(self, name: str) -> None:
        """Rename files off the UI thread."""
        try:
            self.post_message(self.Restored(name, restore(name, self.runtime.folders), ""))
        except OSError as error:
            self.post_message(self.Restored(name, [], one_line(error)))

    @on(Restored)
    def _restored(self, event: Restored) -> None:
        """Say what happened and let every screen read the models again."""
        if event.error:
            self.notify(f"Could not restore {clean(event.name)}: {clean(event.error)}", severity="error",
                        markup=False)
            return
        self.notify(f"Restored the previous {', '.join(clean(f) for f in event.files)}", markup=False)
        self.dl_app.models_changed()
