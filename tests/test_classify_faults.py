"""`dl-tui classify` when things go wrong around it: a closed pipe, a full disk, signals,
a worker killed under it. Each fault is made for real, on a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

import onnx_models
from tui.classify import app as classify_app
from tui.classify import pipeline
from tui.classify.pipeline import load_all
from tui.classify.plan import CHUNK, Prep, max_workers
from tui.classify.pool import DIED, RETRIES

ROOT = Path(__file__).resolve().parents[1]
FILES = 3000  # far more than the pipe holds (about 200 rows), so a run blocks on it


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FILES small PNGs: copies of 50 real MNIST digits."""
    return onnx_models.digit_pngs(tmp_path_factory.mktemp("many"), FILES, distinct=50)


def start(models: Path, folder: Path, *args: str, stdout=subprocess.PIPE) -> subprocess.Popen:
    """`dl-tui classify` on two workers, in a process group of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "classify", str(folder), "--models", str(models),
         "--workers", "2", *args],
        stdout=stdout, stderr=subprocess.PIPE, cwd=ROOT, start_new_session=True)


def processes(ppid: int | None = None, pgid: int | None = None) -> list[int]:
    """Live processes (not zombies) with that parent or in that process group."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            text = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        state, parent, group = text.rsplit(")", 1)[1].split()[:3]
        if state != "Z" and (int(parent) == ppid or int(group) == pgid):
            found.append(int(entry.name))
    return found


def left_behind(pgid: int) -> list[int]:
    """What still runs in the group after a short grace (a kernel kill is not instant)."""
    deadline = time.monotonic() + 5
    while (alive := processes(pgid=pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def rows(text: bytes) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_a_closed_pipe_stops_quietly_with_141(tiny_models, many):
    run = start(tiny_models, many)
    assert rows(run.stdout.readline())  # as `| head -1` reads
    run.stdout.close()
    err = run.stderr.read()
    assert run.wait(timeout=60) == 128 + signal.SIGPIPE
    assert err == b""
    assert left_behind(run.pid) == []


def test_a_full_disk_is_one_line_and_exit_2(tiny_models, many):
    with open("/dev/full", "wb") as full:
        run = start(tiny_models, many, stdout=full)
        _, err = run.communicate(timeout=60)
    assert run.returncode == 2
    assert err.decode() == ("dl-tui classify: error: cannot write output: "
                            "No space left on device\n")
    assert left_behind(run.pid) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_a_signal_stops_the_workers_too(tiny_models, many, signum):
    run = start(tiny_models, many, "-q")
    run.stdout.readline()  # the workers are running; soon the parent blocks on the pipe
    assert len(processes(ppid=run.pid)) == 2
    run.send_signal(signum)
    _, err = run.communicate(timeout=60)
    # SIGKILL cannot be caught: the kernel kills the workers with their parent.
    assert run.returncode == (-signum if signum == signal.SIGKILL else 128 + signum)
    assert b"Traceback" not in err
    assert left_behind(run.pid) == []


def test_a_killed_worker_is_replaced_and_every_file_gets_one_row(tiny_models, many):
    run = start(tiny_models, many, "-q")
    first = run.stdout.readline()
    os.kill(processes(ppid=run.pid)[0], signal.SIGKILL)  # as the OOM killer would
    out = first + run.stdout.read()  # not communicate(): it skips what readline buffered
    assert run.wait(timeout=60) == 0, run.stderr.read()
    got = rows(out)
    assert [row["path"] for row in got] == sorted(str(p) for p in many.iterdir())
    assert all(row["error"] is None for row in got)


@pytest.mark.parametrize("deaths, error", [(1, None), (99, DIED)])
def test_a_chunk_whose_worker_dies_runs_again_or_is_given_up(monkeypatch, tmp_path,
                                                             deaths, error):
    """A worker SIGKILLed in the middle of a chunk: the chunk runs again on a fresh worker;
    one that kills every worker it runs on becomes error rows, and the rest is unharmed."""
    def load_image(path: Path, *args: object, **kwargs: object) -> Image.Image:
        if path.name == "poison.png" and len(list(tmp_path.iterdir())) < deaths:
            (tmp_path / str(os.getpid())).touch()  # count the deaths across processes
            os.kill(os.getpid(), signal.SIGKILL)
        return Image.new("L", (28, 28))

    monkeypatch.setattr(pipeline, "load_image", load_image)  # the forked workers inherit it
    names = [f"{i:03d}.png" for i in range(5 * CHUNK)]
    names[2 * CHUNK + 5] = "poison.png"
    loaded = list(load_all([(Path(name), None) for name in names], Prep(), workers=2))
    assert [item.path.name for item in loaded] == names
    failed = [item.path.name for item in loaded if item.error is not None]
    assert failed == ([] if error is None else names[2 * CHUNK: 3 * CHUNK])
    assert all(item.error == error for item in loaded if item.error is not None)
    assert len(list(tmp_path.iterdir())) == min(deaths, RETRIES + 1)


def test_too_many_workers_are_capped_with_a_warning(tiny_models, many):
    result = CliRunner().invoke(classify_app, [str(many), "--models", str(tiny_models), "--workers", "100000", "-q"])
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == FILES
    assert result.stderr == (f"dl-tui classify: warning: --workers 100000 is more than this machine "
                   f"can use: using {max_workers()}\n")
