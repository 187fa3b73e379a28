"""Help and version: `-h` as `--help` in every command, flags shown as flags, `--version`."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest
from click.testing import CliRunner

from tui.classify import app as classify_app
from tui.cli import app, models_app

runner = CliRunner()
COMMANDS = {"dl-tui": app, "dl-tui classify": classify_app, "dl-tui models": models_app}


def help_text(command, flag: str = "--help") -> str:
    """The help as shown in a wide terminal, without colour (CI may force it)."""
    result = runner.invoke(command, [flag], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return re.sub(r"\x1b\[[0-9;]*m", "", result.output)


def flat(text: str) -> str:
    """The help with its line wrapping undone, to look for a phrase."""
    return " ".join(text.split())


@pytest.mark.parametrize("name", COMMANDS)
def test_h_is_help(name):
    assert help_text(COMMANDS[name], "-h") == help_text(COMMANDS[name])


@pytest.mark.parametrize("name", COMMANDS)
def test_flags_take_no_value_in_help(name):
    text = help_text(COMMANDS[name])
    assert "BOOLEAN" not in text and "<bool>" not in text
    assert re.search(r"-h, --help\s+Show this message", text)


def test_classify_help_shows_flags_and_the_workers_default():
    text = help_text(classify_app)
    assert re.search(r"-r, --recursive\s+Go into folders", text)
    assert re.search(r"-q, --quiet\s+No progress bar", text)
    assert "[default: (on the CPU one per core, at most 8; beside a GPU a third" in flat(text)
    assert "label_1, probability_1" in flat(text)  # --top with CSV


def test_app_help_names_every_command_and_graphics():
    text = help_text(app)
    assert "dl-tui classify PATH..." in text and "dl-tui models" in text
    assert "[auto|kitty|sixel|halfcell]" in text and "env var: DL_TUI_GRAPHICS" in flat(text)


def test_version():
    result = runner.invoke(app, ["--version"])
    assert (result.exit_code, result.output) == (0, f"dl-tui {version('dl-tui')}\n")
