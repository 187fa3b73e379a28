"""`dl-tui [PATH]`: what reaches the app (`--graphics`, `$DL_TUI_GRAPHICS`), and refusing to
start without a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import tui.app
import tui.cli
from tui.cli import NO_TERMINAL, app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture
def started(monkeypatch):
    """The arguments `run_app` was called with, in a make-believe terminal."""
    calls = []
    monkeypatch.setattr(tui.cli, "interactive", lambda: True)
    monkeypatch.setattr(tui.app, "run_app", lambda *args, **options: calls.append(args))
    monkeypatch.delenv("DL_TUI_GRAPHICS", raising=False)
    return calls


def test_path_models_device_graphics_and_precision_reach_the_app(started, tiny_models):
    images = ROOT / "images"
    result = runner.invoke(app, [str(images), "--models", str(tiny_models), "--device", "cpu",
                                 "--graphics", "sixel", "--precision", "float"])
    assert result.exit_code == 0, result.output
    assert started == [(images, tiny_models, "cpu", "sixel", "float")]


def test_without_models_the_app_reads_its_usual_folders(started):
    # None: the user's folder, then the shipped one (tui.paths.model_folders), not one folder.
    assert runner.invoke(app, []).exit_code == 0
    _, models, device, graphics, _ = started[0]
    assert (models, device, graphics) == (None, "auto", "auto")


@pytest.mark.parametrize(("env", "args", "expected"), [
    ("halfcell", [], "halfcell"),
    ("Kitty", [], "kitty"),
    ("kitty", ["--graphics", "halfcell"], "halfcell"),  # the option wins
    (None, ["--graphics", "SIXEL"], "sixel"),
])
def test_graphics_from_the_option_or_the_environment(started, env, args, expected):
    result = runner.invoke(app, args, env={"DL_TUI_GRAPHICS": env})
    assert result.exit_code == 0, result.output
    assert started[0][3] == expected


def test_a_bad_graphics_choice_is_one_line(started):
    result = runner.invoke(app, [], env={"DL_TUI_GRAPHICS": "ascii-art"})
    err = result.stderr
    assert result.exit_code == 2 and started == []
    assert len(err.splitlines()) == 1 and "DL_TUI_GRAPHICS" in err and "'ascii-art'" in err
    assert "auto" in err and "halfcell" in err


def test_missing_path_exits_2(started):
    result = runner.invoke(app, ["/no/such/place"])
    assert result.exit_code == 2 and "no such path" in result.stderr and started == []


def test_no_terminal_no_app(monkeypatch):
    monkeypatch.setattr(tui.app, "run_app", lambda *args: pytest.fail("the app started"))
    result = runner.invoke(app, [])  # CliRunner's stdin and stdout are not terminals
    assert result.exit_code == 2
    assert result.stderr == NO_TERMINAL + "\n"


def dl_tui(*args: object, **streams) -> tuple[int, str, float]:
    """Run `dl-tui ARGS` in a fresh interpreter: exit code, stderr, seconds."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "tui.cli", *map(str, args)], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True, timeout=60, **streams)
    return result.returncode, result.stderr, time.monotonic() - started


def test_stdout_a_pipe_refuses_at_once(tiny_models):
    code, err, seconds = dl_tui("--models", tiny_models, stdout=subprocess.PIPE)
    assert (code, err) == (2, NO_TERMINAL + "\n")
    assert seconds < 10  # before Textual is imported, let alone run


def test_stdin_not_a_terminal_refuses_too(tiny_models):
    leader, follower = pty.openpty()
    try:
        code, err, _ = dl_tui("--models", tiny_models, stdin=subprocess.DEVNULL, stdout=follower)
    finally:
        os.close(follower)
        os.close(leader)
    assert (code, err) == (2, NO_TERMINAL + "\n")
