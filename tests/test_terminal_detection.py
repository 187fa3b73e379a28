"""Choosing the picture protocol from what the terminal answered (XTVERSION and DA1)."""

from __future__ import annotations

import pytest

from tui.terminal import parse, resolve

XTERM = "\x1bP>|XTerm(379)\x1b\\\x1b[?63;1;2;4;6;9;15;16;22;28c"
KITTY_026 = "\x1bP>|kitty(0.26.5)\x1b\\\x1b[?62;c"
KITTY_035 = "\x1bP>|kitty(0.35.2)\x1b\\\x1b[?62;c"
WEZTERM = "\x1bP>|WezTerm 20240203-110809-5046fc22\x1b\\\x1b[?65;4;6;18;22c"
PLAIN = "\x1b[?62;22c"  # a terminal that ignores XTVERSION and draws no pictures


def test_answers_are_parsed_into_name_version_and_sixel():
    assert parse(XTERM) == ("xterm", (379,), True)
    assert parse(KITTY_026) == ("kitty", (0, 26, 5), False)
    assert parse(PLAIN) == ("", (), False)


@pytest.mark.parametrize(("answer", "kitty_graphics", "expected"), [
    (XTERM, False, "sixel"),
    (WEZTERM, True, "sixel"),
    (KITTY_026, True, "halfcell"),  # placeholders need kitty 0.28: glyphs, not pictures, before
    (KITTY_035, True, "kitty"),
    (PLAIN, False, "halfcell"),
    ("", False, "halfcell"),  # not a terminal, or no answer in time
])
def test_auto_uses_what_the_terminal_really_draws(answer, kitty_graphics, expected):
    assert resolve("auto", answer, kitty_graphics) == expected


@pytest.mark.parametrize("choice", ["kitty", "sixel", "halfcell"])
def test_a_forced_choice_wins_over_what_the_terminal_says(choice):
    assert resolve(choice, KITTY_026, True) == choice
