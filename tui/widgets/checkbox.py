"""A check box whose on and off states differ in glyph as well as colour, in any terminal."""

from __future__ import annotations

from typing import Any

from textual.widgets import Checkbox


class Check(Checkbox):
    """A Checkbox showing X on a green box when on, and an empty grey box when off.

    Textual's own draws an X in both states and tells them apart by its colour alone, which a
    16-colour terminal (or a theme) can make nearly the same."""

    ON, OFF = "X", " "

    DEFAULT_CSS = """
    Check > .toggle--button { color: $foreground 60%; background: $panel-lighten-1; }
    Check.-on > .toggle--button { color: $text; background: $success; text-style: bold; }
    """

    def __init__(self, label: str = "", value: bool = False, **options: Any) -> None:
        super().__init__(label, value, **options)
        self.BUTTON_INNER = self.ON if self.value else self.OFF

    def watch_value(self) -> None:
        """The glyph follows the value (the colour follows the `-on` class Checkbox sets)."""
        self.BUTTON_INNER = self.ON if self.value else self.OFF
        super().watch_value()
        self.refresh()
