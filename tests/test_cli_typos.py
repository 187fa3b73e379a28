"""A typo in a command or a model name: one line that names the nearest one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tui.classify import app as classify_app

ROOT = Path(__file__).resolve().parents[1]


def dl_tui(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], check=False, capture_output=True,
                          text=True, cwd=cwd, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("args", "command"), [
    (["clasify", "images"], "classify"),
    (["classfy"], "classify"),
    (["model"], "models"),
    (["modles", "--models", "x"], "models"),
])
def test_a_mistyped_command_names_the_nearest(args, command):
    result = dl_tui(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"dl-tui: error: no such command or path: {args[0]} (did you mean `dl-tui {command}`?)"]


def test_an_existing_path_that_looks_like_a_command_is_still_a_path(tmp_path):
    (tmp_path / "clasify").mkdir()
    result = dl_tui("clasify", cwd=tmp_path)  # the app's own check: stdout is no terminal
    assert result.returncode == 2 and "did you mean" not in result.stderr


def test_a_path_like_no_command_is_no_such_path():
    result = dl_tui("no-such-folder")
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["dl-tui: error: no such path: no-such-folder"]


def test_a_mistyped_model_names_the_nearest(tiny_models):
    result = CliRunner().invoke(classify_app, ["--models", str(tiny_models), "-m", "cnn-invrt",
                                               str(ROOT / "images")])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "did you mean cnn-invert?" in lines[0]
    assert lines[0].startswith("dl-tui classify: error: unknown model 'cnn-invrt'")
