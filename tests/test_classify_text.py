"""Untrusted text (file names, metadata) made safe and literal for a terminal."""

from __future__ import annotations

import pytest

from tui.text import clean, one_line


@pytest.mark.parametrize("raw, shown", [
    ("plain.png", "plain.png"),
    ("a\x1b[2Jb.png", "a\\x1b[2Jb.png"),
    ("bell\x07", "bell\\x07"),
    ("tab\tnew\nline\r", "tab\\tnew\\nline\\r"),
    ("del\x7f", "del\\x7f"),
    ("csi\x9b31m", "csi\\x9b31m"),
    ("bidi\u202egnp.exe", "bidi\\u202egnp.exe"),
    ("bytes\udcff.png", "bytes\\xff.png"),  # os.fsdecode of a name that is not UTF-8
    ("ünïcødé 数字.png", "ünïcødé 数字.png"),
])
def test_clean_replaces_controls_with_visible_escapes(raw, shown):
    assert clean(raw) == shown
    clean(raw).encode("utf-8")  # printable: no lone surrogates left


def test_one_line_takes_the_first_line_and_shortens():
    assert one_line("\n  first  \nsecond") == "first"
    assert len(one_line("x" * 1000, limit=50)) == 50
