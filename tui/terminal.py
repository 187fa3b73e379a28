"""Which picture protocol the terminal really draws: Sixel, Kitty graphics, or half-cell blocks.

Asked once, before the app starts: once Textual runs, it reads every answer from stdin itself.
"""

from __future__ import annotations

import re
import sys
from typing import Literal

Graphics = Literal["auto", "kitty", "sixel", "halfcell"]
GRAPHICS_ENV = "DL_TUI_GRAPHICS"  # for terminals that say they draw what they do not
# textual-image places Kitty images with Unicode placeholders (U=1), which kitty draws from 0.28;
# older ones print the placeholder glyphs instead.
KITTY_PLACEHOLDERS = (0, 28)


def ask(query: str, timeout: float = 0.5) -> str:
    """The terminal's answers to `query`, followed by a primary device attributes request.

    Every terminal answers DA1 (`CSI ?...c`), so reading up to its answer never waits out the
    timeout on a terminal that ignores `query`. Empty when stdin or stdout is not a terminal.
    """
    if not (sys.__stdin__ and sys.__stdout__ and sys.__stdin__.isatty() and sys.__stdout__.isatty()):
        return ""
    # textual-image's raw-mode helpers (a dependency already) rather than termios code of our own.
    from textual_image._terminal import capture_mode, read

    answer = ""
    with capture_mode():
        sys.__stdout__.write(query + "\x1b[c")
        sys.__stdout__.flush()
        try:
            while not re.search(r"\x1b\[\?[\d;]*c$", answer):
                answer += read(sys.__stdin__.fileno(), 1024, timeout)
        except (TimeoutError, OSError, UnicodeDecodeError):
            pass
    return answer


def parse(answer: str) -> tuple[str, tuple[int, ...], bool]:
    """(terminal name, version, Sixel?) from answers to XTVERSION and DA1."""
    name, version = "", ()
    if match := re.search(r"\x1bP>\|([^\s(]+)[\s(]*([\d.]+)?", answer):
        name = match.group(1).lower()
        version = tuple(int(part) for part in (match.group(2) or "").split(".") if part)
    attributes = re.search(r"\x1b\[\?([\d;]*)c", answer)
    sixel = bool(attributes) and "4" in attributes.group(1).split(";")
    return name, version, sixel


def resolve(choice: str, answer: str, kitty_graphics: bool) -> Graphics:
    """The protocol to use for `choice`, given what the terminal said."""
    if choice in ("kitty", "sixel", "halfcell"):
        return choice  # type: ignore[return-value]  (the user knows their terminal)
    name, version, sixel = parse(answer)
    if sixel:
        return "sixel"
    if kitty_graphics and (name != "kitty" or version >= KITTY_PLACEHOLDERS):
        return "kitty"
    return "halfcell"


def detect(choice: str = "auto") -> Graphics:
    """Ask the terminal (for `auto`) and prepare the chosen protocol; before `App.run()`."""
    kitty_graphics = False
    answer = ""
    if choice == "auto":
        answer = ask("\x1b[>q")  # XTVERSION: kitty and xterm answer with name and version
        if not parse(answer)[2]:
            from textual_image.renderable import tgp

            kitty_graphics = tgp.query_terminal_support()
    graphics = resolve(choice, answer, kitty_graphics)
    if graphics != "halfcell":
        # Caches the cell size in pixels, which only the terminal can tell.
        import textual_image.widget  # noqa: F401
    return graphics

