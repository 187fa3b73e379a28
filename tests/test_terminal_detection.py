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


def test_the_cell_size_comes_from_the_window_size_ioctl(monkeypatch):
    """TIOCGWINSZ's pixel fields over columns and rows (xterm, kitty and tmux fill them in)."""
    import fcntl
    import os
    import struct
    import termios

    from tui import terminal

    leader, follower = os.openpty()
    try:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 900, 450))  # 9x15 cells
        assert terminal.window_cell(follower) == (9, 15)
        monkeypatch.setattr(terminal, "_terminal_fd", follower)
        assert terminal.cell_size() == (9, 15)
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # a terminal that says nothing
        assert terminal.window_cell(follower) is None
        assert terminal.cell_size() == terminal.DEFAULT_CELL  # 1:2 when unknown
        monkeypatch.setattr(terminal, "_reported_cell", (8, 19))
        assert terminal.cell_size() == (8, 19)  # what the terminal answered to CSI 16 t
    finally:
        os.close(leader)
        os.close(follower)


def test_the_cell_size_answer_is_parsed():
    from tui.terminal import parse_cell

    assert parse_cell("\x1bP>|XTerm(379)\x1b\\\x1b[6;15;9t\x1b[?63;1;2;4c") == (9, 15)
    assert parse_cell(KITTY_026) is None
    assert parse_cell("\x1b[6;0;0t") is None


def test_headless_the_cell_is_twice_as_tall_as_wide():
    """Without `detect` (the app laid out in tests), whatever terminal pytest runs in."""
    from tui import terminal

    assert terminal._terminal_fd is None and terminal.cell_size() == (10, 20)


@pytest.mark.parametrize("cell", [(6, 13), (9, 15), (10, 20), (8, 19), (8, 29), (13, 30)])
@pytest.mark.parametrize(("max_width", "max_height"), [(12, 5), (21, 7), (28, 13), (22, 10), (94, 41), (200, 0)])
def test_fit_keeps_a_square_square_in_any_cell(cell, max_width, max_height):
    from tui.widgets.halfcell import fit

    width, height = cell
    columns, rows = fit(28, 28, max_width, max_height, height / width)
    assert 1 <= columns <= max_width and (not max_height or rows <= max_height)
    assert abs(columns * width / (rows * height) - 1) <= 0.08
