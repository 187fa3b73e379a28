"""Pick a folder with the file browser: the Evaluate screen's labelled folder, the Train screen's dataset."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static, Tree

from tui.text import plain
from tui.widgets.file_browser import ImageTree


class PickFolderScreen(ModalScreen[Path | None]):
    """The browser over a folder; the folder under the cursor (or the file's folder) is the one chosen."""

    DEFAULT_CSS = """
    PickFolderScreen { align: center middle; }
    PickFolderScreen > Vertical { width: 90%; max-width: 100; height: 90%; border: round $primary;
                                  background: $surface; padding: 0 1; }
    PickFolderScreen .pick--title { height: auto; }
    PickFolderScreen ImageTree { height: 1fr; border: round $panel; }
    PickFolderScreen .pick--chosen { height: auto; color: $text-muted; }
    PickFolderScreen Horizontal { height: auto; }
    PickFolderScreen Button { margin-right: 2; }
    """
    BINDINGS: ClassVar = [
        Binding("u", "use", "Use this folder", tooltip="Choose the folder under the cursor", id="pick.use"),
        Binding("escape", "cancel", "Cancel", tooltip="Close without choosing", id="pick.cancel"),
    ]

    def __init__(self, start: Path, title: str) -> None:
        super().__init__()
        self.start = start if start.is_dir() else start.parent
        self.title_text = title
        self.chosen = self.start.resolve()

    def compose(self) -> ComposeResult:
        """A title, the browser, the folder chosen so far and two buttons."""
        with Vertical():
            yield Static(Text.assemble((self.title_text, "bold"), "  arrows move, ",
                                       ("u", "bold"), " uses the folder under the cursor, ", ("esc", "bold"),
                                       " closes"), classes="pick--title")
            yield ImageTree(self.start, id="pick-tree")
            yield Static("", classes="pick--chosen")
            with Horizontal():
                yield Button("Use this folder", variant="primary", id="pick-use")
                yield Button("Cancel", id="pick-cancel")

    def on_mount(self) -> None:
        """The tree has the keys; the chosen folder starts as the tree's own."""
        self.query_one(ImageTree).focus()
        self._show()

    def _show(self) -> None:
        self.query_one(".pick--chosen", Static).update(Text.assemble("folder: ", plain(self.chosen)))

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted) -> None:
        """The folder under the cursor, or the folder of the file under it."""
        entry = event.node.data
        if entry is None:
            return
        path = Path(entry.path)
        self.chosen = (path if path.is_dir() else path.parent).resolve()
        self._show()

    def choose(self, path: Path) -> None:
        """Make PATH the folder chosen (as if the cursor were on it)."""
        self.chosen = path.resolve()
        self._show()

    @on(Button.Pressed, "#pick-use")
    def action_use(self) -> None:
        """Close, choosing the folder."""
        self.dismiss(self.chosen)

    @on(Button.Pressed, "#pick-cancel")
    def action_cancel(self) -> None:
        """Close without choosing."""
        self.dismiss(None)
