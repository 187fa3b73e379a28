"""The `?` help: every key of the screen below, read from the bindings the app really uses."""

from __future__ import annotations

import re
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

Section = tuple[str, list[tuple[str, str]]]


def key_rows(node: DOMNode) -> list[tuple[str, str]]:
    """(keys, what they do) for a node's bindings; keys that share an action share a row."""
    # _bindings, not BINDINGS: it has the inherited bindings, the palette key and any user keymap.
    # Private (Screen.active_bindings, the public one, has only the focused chain): textual<9 is
    # pinned, and tests/test_private_apis.py fails, saying so, if Textual changes it.
    rows: dict[tuple[str, str], list[str]] = {}
    for bindings in node._bindings.key_to_bindings.values():
        for binding in bindings:
            if binding.description:
                what = binding.description
                if binding.tooltip and binding.tooltip != what:
                    what = f"{what}: {binding.tooltip}"
                rows.setdefault((binding.action, what), []).append(node.app.get_key_display(binding))
    return [(" ".join(dict.fromkeys(keys)), what) for (_, what), keys in rows.items()]


def widget_title(node: DOMNode) -> str:
    """A widget class's name in words: ImageTree -> "Image tree"."""
    words = re.findall(r"[A-Z][a-z]*|[a-z]+", type(node).__name__)
    return " ".join(words).capitalize()


def key_sections(screen: Screen, title: str) -> list[Section]:
    """Everywhere keys, the screen's own, then each kind of focusable widget on it."""
    sections: list[Section] = [("Everywhere", key_rows(screen.app)), (title, key_rows(screen))]
    seen: set[type] = set()
    for widget in screen.query("*"):
        if widget.can_focus and type(widget) not in seen:
            seen.add(type(widget))
            rows = key_rows(widget)
            if rows:
                sections.append((widget_title(widget), rows))
    return [(name, rows) for name, rows in sections if rows]


def key_table(sections: list[Section]) -> Table:
    """One table, a heading row per section; Text cells so nothing is read as markup."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for index, (name, rows) in enumerate(sections):
        if index:
            table.add_row("", "")
        table.add_row("", Text(name, style="bold underline"))
        for keys, description in rows:
            table.add_row(Text(keys), Text(description))
    return table


class HelpScreen(ModalScreen[None]):
    """Every key of the screen it was opened from; any of Escape, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    #help {
        width: 76;
        max-width: 100%;
        height: 90%;
        border: round $primary;
        border-title-color: $foreground;
        padding: 0 1;
        background: $surface;
    }
    """

    BINDINGS: ClassVar = [
        Binding("escape,q,question_mark", "dismiss", "Close", tooltip="Close the help"),
    ]

    def __init__(self, sections: list[Section], title: str) -> None:
        super().__init__()
        self.sections = sections
        self.title = title

    def compose(self) -> ComposeResult:
        """The key table in a scrolling box."""
        with VerticalScroll(id="help") as box:
            box.border_title = self.title
            box.border_subtitle = "esc closes"
            yield Static(key_table(self.sections), id="help-keys")

    def on_mount(self) -> None:
        """Arrows scroll the list straight away."""
        self.query_one("#help").focus()
