"""Before quitting would lose something (a training run, an unsaved drawing): Quit or Stay."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmQuitScreen(ModalScreen[bool]):
    """Ask whether to quit; dismisses with True to quit. Stay has the focus: Enter alone never quits."""

    DEFAULT_CSS = """
    ConfirmQuitScreen { align: center middle; }
    #quit-dialog {
        width: 64; max-width: 100%; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    #quit-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    #quit-buttons Button { margin-left: 2; }
    """
    BINDINGS: ClassVar = [
        Binding("y,q", "answer(True)", "Quit", tooltip="Quit dl-tui"),
        Binding("n,escape", "answer(False)", "Stay", tooltip="Go back to the app"),
    ]

    def __init__(self, reasons: list[str], hint: str = "") -> None:
        super().__init__()
        self.reasons = reasons
        self.hint = hint

    def compose(self) -> ComposeResult:
        """The reasons to stay, the question and two buttons."""
        with Vertical(id="quit-dialog"):
            yield Static(Text("Quit dl-tui?", style="bold"))
            yield Static(Text("\n".join(self.reasons)), id="quit-reasons")
            keys = "y quits, n or Esc stays" + (f"; {self.hint}" if self.hint else "")
            yield Static(Text(keys, style="dim"), id="quit-keys")
            with Horizontal(id="quit-buttons"):
                yield Button("Quit", variant="error", id="quit-yes")
                yield Button("Stay", variant="primary", id="quit-no")

    def on_mount(self) -> None:
        """Stay has the focus."""
        self.query_one("#quit-no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        """Answer with the button's choice."""
        self.dismiss(event.button.id == "quit-yes")

    def action_answer(self, quit_: bool) -> None:
        """Answer from the keyboard."""
        self.dismiss(quit_)
