"""Which picture protocol the terminal really draws (Sixel, Kitty graphics, or half-cell blocks),
and the shape of its cells, so that a square picture is square on screen.

Asked once, before the app starts: once Textual runs, it reads every answer from stdin itself.
The window size ioctl needs no answer from stdin, so the cell size is read again at every layout
(the font may change while the app runs).
"""

from __future__ import annotations

import os
import re
import struct
import sys
from typing import Literal

Graphics = Literal["auto", "kitty", "sixel", "halfcell"]
GRAPHICS_ENV = "DL_TUI_GRAPHICS"  # for terminals that say they draw what they do not
# textual-image places Kitty images with Unicode placeholders (U=1), which kitty draws from 0.28;
# older ones print the placeholder glyphs instead.
KITTY_PLACEHOLDERS = (0, 28)
# A cell's (width, height) in pixels when the terminal does not say: twice as tall as wide.
DEFAULT_CELL = (10, 20)
CELL_QUERY = "\x1b[16t"  # xterm's "report the character cell size": CSI 6 ; height ; width t

# Set by `detect` (run_app) only, so the app laid out headless (tests, snapshots) uses DEFAULT_CELL
# whatever terminal the tests were started from.
_terminal_fd: int | None = None
_reported_cell: tuple[int, int] | None = None


def ask(query: str, timeout: float = 0.5) -> str:
    """The terminal's answers to `query`, followed by a primary device attributes request.

    Every terminal answers DA1 (`CSI ?...c`), so reading up to its answer never waits out the
    timeout on a terminal that ignores `query`. Empty when stdin or stdout is not a terminal.
    """
    if not (sys.__stdin__ and sys.__stdout__ and sys.__stdin__.isatty() and sys.__stdout__.isatty()):
        return ""
    try:
        import termios
        import tty
    except ImportError:  # not a POSIX terminal
        return ""

    stdin = sys.__stdin__.fileno()
    answer = ""
    before = termios.tcgetattr(stdin)
    tty.setcbreak(stdin, termios.TCSANOW)  # the answers unechoed, readable before a newline
    try:
        sys.__stdout__.write(query + "\x1b[c")
        sys.__stdout__.flush()
        try:
            while not re.search(r"\x1b\[\?[\d;]*c$", answer):
                answer += _read(stdin, timeout)
        except (TimeoutError, OSError, UnicodeDecodeError):
            pass
    finally:
        termios.tcsetattr(stdin, termios.TCSANOW, before)
    return answer


def _read(fd: int, timeout: float) -> str:
    """What the terminal has sent; TimeoutError if nothing comes within TIMEOUT seconds."""
    import select

    if not select.select([fd], [], [], timeout)[0]:
        raise TimeoutError("the terminal did not answer")
    return os.read(fd, 1024).decode()


def parse(answer: str) -> tuple[str, tuple[int, ...], bool]:
    """(terminal name, version, Sixel?) from answers to XTVERSION and DA1."""
    name, version = "", ()
    if match := re.search(r"\x1bP>\|([^\s(]+)[\s(]*([\d.]+)?", answer):
        name = match.group(1).lower()
        version = tuple(int(part) for part in (match.group(2) or "").split(".") if part)
    attributes = re.search(r"\x1b\[\?([\d;]*)c", answer)
    sixel = bool(attributes) and "4" in attributes.group(1).split(";")
    return name, version, sixel


def parse_cell(answer: str) -> tuple[int, int] | None:
    """(width, height) in pixels from an answer to CELL_QUERY, if there is one."""
    if match := re.search(r"\x1b\[6;(\d+);(\d+)t", answer):
        height, width = int(match.group(1)), int(match.group(2))
        if width and height:
            return width, height
    return None


def window_cell(fd: int) -> tuple[int, int] | None:
    """(width, height) of a cell in pixels from TIOCGWINSZ's pixel fields (ws_xpixel, ws_ypixel),
    divided by the columns and rows; None where the terminal leaves them 0 (or there is none).

    xterm, kitty and tmux (3.3 and later, from the terminal outside) fill them in.
    """
    try:
        import fcntl
        import termios

        rows, columns, x_pixels, y_pixels = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(8)))
    except (ImportError, OSError, ValueError):
        return None
    if not (rows and columns and x_pixels >= columns and y_pixels >= rows):
        return None
    return round(x_pixels / columns), round(y_pixels / rows)


def cell_size() -> tuple[int, int]:
    """A cell's (width, height) in pixels on the app's terminal: from the window size ioctl (read
    now: the font may have changed), else the terminal's answer to CSI 16 t, else DEFAULT_CELL."""
    if _terminal_fd is not None and (size := window_cell(_terminal_fd)):
        return size
    return _reported_cell or DEFAULT_CELL


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
    """Ask the terminal (for `auto`) and prepare the chosen protocol, and learn its cell size;
    before `App.run()`."""
    global _terminal_fd, _reported_cell
    kitty_graphics = False
    answer = ""
    try:
        _terminal_fd = sys.__stdout__.fileno() if sys.__stdout__ and sys.__stdout__.isatty() else None
    except (OSError, ValueError):  # a closed stdout
        _terminal_fd = None
    # Ask for the cell size too where the window size ioctl does not tell it.
    cell_query = "" if _terminal_fd is not None and window_cell(_terminal_fd) else CELL_QUERY
    if choice == "auto":
        answer = ask("\x1b[>q" + cell_query)  # XTVERSION: kitty and xterm answer with name and version
        if not parse(answer)[2]:
            from textual_image.renderable import tgp

            kitty_graphics = tgp.query_terminal_support()
    elif cell_query:
        answer = ask(cell_query)
    _reported_cell = parse_cell(answer)
    graphics = resolve(choice, answer, kitty_graphics)
    if graphics != "halfcell":
        # textual-image asks for the cell size as it is imported (its Kitty widget uses it).
        import textual_image.widget  # noqa: F401
    return graphics

