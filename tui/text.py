"""Show untrusted text (file names, metadata) in a terminal literally and safely."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# C0 controls, DEL, C1 controls, and the bidi overrides that reorder what a line shows.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# os.fsdecode keeps bytes that are not UTF-8 as lone surrogates; printing one raises.
_SURROGATE = re.compile("[\udc80-\udcff]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def clean(text: object) -> str:
    """Replace ESC and every other C0/C1 control with a visible escape such as `\\x1b`."""
    text = _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", str(text))
    return _UNSAFE.sub(_visible, text)


def plain(text: object, style: str = "") -> Text:
    """Untrusted text (a file's name, a model's name or metadata) for Rich and Textual: cleaned,
    and shown exactly as written, never read as markup."""
    from rich.text import Text  # 13 ms: not for `dl-tui classify -f jsonl`

    return Text(clean(text), style=style)


def one_line(text: object, limit: int = 300) -> str:
    """The first line of a message, cleaned and shortened: for error rows and exits."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    line = clean(lines[0] if lines else "")
    return line if len(line) <= limit else line[: limit - 1] + "…"
