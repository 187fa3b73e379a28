"""stdout and stderr that are closed, or go away, or are written while signals arrive, for
`dl-tui` and `dl-train` alike: one line and exit 2 for a closed stream, 141 and quiet for
a reader that went away, and only whole lines, however the run stops."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import onnx_models
import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
FILES = 3000  # far more than a pipe holds (about 200 rows)

DL_TUI = [sys.executable, "-m", "tui.cli"]
DL_TRAIN = [sys.executable, "-m", "trainer.cli"]


def closed(fd: int, argv: list[str]) -> subprocess.CompletedProcess:
    """ARGV with file descriptor FD closed, as the shell's `N>&-` leaves it."""
    return subprocess.run(["sh", "-c", f'exec "$@" {fd}>&-', "sh", *argv], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, env=ENV, check=False)


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Long names: rows of about 1 KB, so a write of several rows is more than PIPE_BUF.
    return onnx_models.digit_pngs(tmp_path_factory.mktemp("many"), FILES, "{i:04d}-" + "x" * 200 + ".png", 50)


CLASSIFY = ["classify", "images", "-f", "jsonl"]
STDOUT_CLOSED = "{prog}: error: stdout is closed: give it somewhere to write (> FILE, > /dev/null)"
STDERR_CLOSED = "{prog}: error: stderr is closed: give it somewhere to write (2> FILE, 2> /dev/null)"


@pytest.mark.parametrize(("argv", "prog"), [
    (DL_TUI + CLASSIFY, "dl-tui"), ([*DL_TUI, "models"], "dl-tui"), (DL_TUI, "dl-tui"),
    ([*DL_TRAIN, "iris", "--epochs", "1", "--out", "{out}"], "dl-train"),
])
def test_a_closed_stdout_is_one_line_on_stderr_and_exit_2(argv, prog, tmp_path):
    result = closed(1, [arg.replace("{out}", str(tmp_path / "out")) for arg in argv])
    assert result.returncode == 2
    assert result.stderr.splitlines() == [STDOUT_CLOSED.format(prog=prog)]


@pytest.mark.parametrize(("argv", "prog"), [
    (DL_TUI + CLASSIFY, "dl-tui"), ([*DL_TUI, "models"], "dl-tui"),
    ([*DL_TRAIN, "iris", "--epochs", "1", "--out", "{out}"], "dl-train"),
])
def test_a_closed_stderr_is_one_line_on_stdout_and_exit_2(argv, prog, tmp_path):
    result = closed(2, [arg.replace("{out}", str(tmp_path / "out")) for arg in argv])
    assert result.returncode == 2
    assert result.stdout.splitlines() == [STDERR_CLOSED.format(prog=prog)]


def test_both_closed_is_exit_2():
    result = subprocess.run(["sh", "-c", 'exec "$@" >&- 2>&-', "sh", *DL_TUI, *CLASSIFY],
                            cwd=ROOT, timeout=120, check=False)
    assert result.returncode == 2


def test_dl_train_into_a_closed_pipe_stops_quietly_with_141(tmp_path):
    pytest.importorskip("tensorflow")
    run = subprocess.Popen([*DL_TRAIN, "iris", "--epochs", "500", "--out", str(tmp_path / "out"), "--progress", "jsonl"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, cwd=ROOT)
    assert json.loads(run.stdout.readline())["event"] == "start"  # as `| head -1` reads
    run.stdout.close()
    err = run.stderr.read().decode()
    assert run.wait(timeout=120) == 128 + signal.SIGPIPE
    assert "Traceback" not in err and "error" not in err.lower(), err


def blocked_on_the_pipe(pid: int) -> bool:
    try:
        return "pipe_write" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_signals_in_the_middle_of_a_write_leave_only_whole_lines(tiny_models, many, fmt):
    """The reader is slow, so the run blocks writing; then SIGTERM, again and again."""
    for attempt in range(3):
        run = subprocess.Popen(
            [*DL_TUI, "classify", str(many), "--models", str(tiny_models), "--workers", "2", "-q", "-f", fmt, "--batch-size", "64"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, start_new_session=True)
        deadline = time.monotonic() + 60
        while not blocked_on_the_pipe(run.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert blocked_on_the_pipe(run.pid), "the run never blocked on the pipe"
        out = bytearray()
        for _ in range(20):
            run.send_signal(signal.SIGTERM)
            out += os.read(run.stdout.fileno(), 3000 + 997 * attempt)
        out += run.stdout.read()
        err = run.stderr.read()
        assert run.wait(timeout=60) == 128 + signal.SIGTERM, err
        assert err == b""
        text = out.decode()
        assert text.endswith("\n")
        lines = text.splitlines()
        assert len(lines) < FILES  # it stopped early
        if fmt == "jsonl":
            assert all(json.loads(line)["path"].startswith(str(many)) for line in lines)
        else:
            header, *rows = list(csv.reader(io.StringIO(text)))
            assert header[0] == "path"
            assert all(len(row) == len(header) and row[0].startswith(str(many)) for row in rows)
