"""How quick the app's slow-to-go-wrong paths are, each beside a baseline measured in the same run.

The tests check that these things happen (waiting on the event, with a hang guard); how long they
take is measured here instead, since a timed assert fails on a busy machine and passes a slow
regression on a fast one (issue 19, section 7). Each row is the median of --repeat runs, ours and
the baseline's taken in turns, and the ratio is ours / baseline.

1. Image browser: filter, clear the filter and go up, in a folder of 20,000 files against 2,000
   (linear work reads about 10x; Textual's one-child-at-a-time removal was about 100x, 40 s).
2. Trainer cancel: cancel() to the process's exit (the slow fake trainer), against its start
   (spawn to the first event).
3. Process pool: kill() with both workers busy for two minutes, against kill() with them idle.
4. First paint of dl-tui in a fresh process (shipped models, images/), against a bare Textual app.
5. Quitting in tmux after 50 presses of + and - on the latent screen, against quitting with none
   (skipped without tmux).

    python bench/bench_app_timing.py [--repeat 3] [--only 1,2,3,4,5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def measured(ours: Callable[[], float], baseline: Callable[[], float], repeat: int) -> tuple[float, float]:
    """Medians of OURS and BASELINE (each returns seconds), run in turns."""
    a, b = [], []
    for _ in range(repeat):
        a.append(ours())
        b.append(baseline())
    return statistics.median(a), statistics.median(b)


def row(name: str, ours: float, baseline: float, what: str) -> None:
    print(f"| {name} | {ours:.3f} s | {baseline:.3f} s | {ours / baseline:.1f}x | {what} |", flush=True)


# 1. The image browser -----------------------------------------------------------------------

def browse(files: int) -> float:
    from textual.app import App, ComposeResult

    from tui.widgets.file_browser import ImageTree

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "many"
        folder.mkdir()
        for index in range(files):
            (folder / f"img-{index:05d}.png").touch()
        matches = sum("1234" in f"img-{index:05d}.png" for index in range(files))

        class Browser(App[None]):
            def compose(self) -> ComposeResult:
                yield ImageTree(folder)

        async def run() -> float:
            app = Browser()
            async with app.run_test(size=(80, 24)) as pilot:
                tree = app.query_one(ImageTree)

                async def until(predicate: Callable[[], bool]) -> None:
                    deadline = time.monotonic() + 300
                    while not predicate():  # the app runs meanwhile (a busy machine can take minutes)
                        if time.monotonic() > deadline:
                            raise RuntimeError("the tree never got there")
                        await asyncio.sleep(0.005)

                await until(lambda: len(tree.root.children) == files)
                started = time.perf_counter()
                await pilot.press("slash", "1", "2", "3", "4")
                await until(lambda: len(tree.root.children) == matches)
                await pilot.press("escape")
                await until(lambda: len(tree.root.children) == files)
                await pilot.press("backspace")
                await until(lambda: [node.data.path.name for node in tree.root.children] == ["many"])
                return time.perf_counter() - started

        return asyncio.run(run())


# 2. Cancelling the trainer ------------------------------------------------------------------

def trainer(cancel: bool) -> float:
    from fake_trainer import fake_command

    from tui.trainer_client import TrainerProcess, TrainOptions

    os.environ["FAKE_TRAINER_MODE"] = "slow"
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        process = TrainerProcess(fake_command(TrainOptions("cnn", 2), Path(tmp)))
        lines = process.lines()
        next(lines)  # the start event
        if not cancel:
            spawn = time.perf_counter() - started
            process.cancel()
            list(lines)
            process.wait()
            return spawn
        started = time.perf_counter()
        process.cancel()
        list(lines)
        process.wait()
        return time.perf_counter() - started


# 3. Killing the process pool ----------------------------------------------------------------

def _say_then_sleep(chunk: list, folder: str, seconds: float) -> int:
    (Path(folder) / str(os.getpid())).touch()
    time.sleep(seconds)
    return os.getpid()


def _nothing() -> None:
    pass


def pool_kill(busy: bool) -> float:
    from tui.classify.pool import _Pool

    with tempfile.TemporaryDirectory() as tmp:
        pool = _Pool(_say_then_sleep, (tmp, 120.0 if busy else 0.0), 2, (_nothing, ()), lambda chunk: 0)
        pool.submit([0])
        pool.submit([1])
        if busy:  # both workers inside their two-minute tasks
            while len(os.listdir(tmp)) < 2:
                time.sleep(0.005)
        else:  # both tasks done: the workers wait for more
            pool.next(), pool.next()
        started = time.perf_counter()
        pool.kill()
        return time.perf_counter() - started


# 4. First paint ------------------------------------------------------------------------------

FIRST_PAINT = """
import asyncio, sys, time
started = time.perf_counter()
from pathlib import Path
{imports}
async def main():
    app = {app}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        print(time.perf_counter() - started)
asyncio.run(main())
"""


def first_paint(ours: bool) -> float:
    if ours:
        code = FIRST_PAINT.format(
            imports="from tui.app import DlTuiApp\nfrom tui.runtime import Runtime",
            app=f"DlTuiApp(Runtime(Path({str(ROOT / 'exported')!r}), interactive=True), "
                f"Path({str(ROOT / 'images')!r}), graphics='halfcell')")
    else:
        code = FIRST_PAINT.format(imports="from textual.app import App", app="App()")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=300, cwd=ROOT, check=True).stdout
    return float(out.strip().splitlines()[-1])


# 5. Quitting in tmux after many resizes -----------------------------------------------------

def quit_after(presses: int) -> float:
    socket = f"dl-tui-bench-{uuid.uuid4().hex[:8]}"

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=10).stdout

    def wait(text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in tmux("capture-pane", "-p", "-t", "app"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{text!r} never appeared")
            time.sleep(0.02)

    with tempfile.TemporaryDirectory() as tmp:
        marker = Path(tmp) / "exited"
        argv = [sys.executable, "-m", "tui.cli", str(ROOT / "images"), "--models", str(ROOT / "exported")]
        command = (f"cd {shlex.quote(str(ROOT))} && unset COLUMNS LINES && TERM=xterm-256color "
                   f"{shlex.join(argv)}; touch {shlex.quote(str(marker))}; sleep 60")
        tmux("new-session", "-d", "-s", "app", "-x", "140", "-y", "45", command)
        try:
            wait("CPUExecutionProvider")
            tmux("send-keys", "-t", "app", "2")
            wait(" grid")
            for key in (["+"] * 20 + ["-", "+"] * 15)[:presses]:
                tmux("send-keys", "-t", "app", key)
                time.sleep(0.05)  # a quick typist
            tmux("send-keys", "-t", "app", "C-q")
            started = time.perf_counter()
            while not marker.exists():
                if time.perf_counter() - started > 120:
                    raise RuntimeError("the app did not exit")
                time.sleep(0.01)
            return time.perf_counter() - started
        finally:
            tmux("kill-server")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="1,2,3,4,5")
    args = parser.parse_args()
    only = {int(part) for part in args.only.split(",")}
    print("| measurement | ours | baseline | ratio | baseline is |")
    print("|---|---|---|---|---|")
    if 1 in only:
        row("1. browser: filter, clear, up in 20,000 files", *measured(lambda: browse(20_000), lambda: browse(2_000),
                                                                         args.repeat), "2,000 files (linear: 10x)")
    if 2 in only:
        row("2. trainer: cancel() to exit", *measured(lambda: trainer(True), lambda: trainer(False), args.repeat),
            "spawn to its first event")
    if 3 in only:
        row("3. pool: kill() with busy workers", *measured(lambda: pool_kill(True), lambda: pool_kill(False),
                                                            args.repeat), "kill() with idle workers")
    if 4 in only:
        row("4. first paint of dl-tui, fresh process", *measured(lambda: first_paint(True),
                                                                  lambda: first_paint(False), args.repeat),
            "a bare Textual app")
    if 5 in only:
        if shutil.which("tmux") is None:
            print("| 5. quit after 50 resizes | skipped: tmux is not installed | | | |")
        else:
            row("5. quit after 50 latent resizes (tmux)", *measured(lambda: quit_after(50), lambda: quit_after(0),
                                                                    args.repeat), "quit with no resizes")


if __name__ == "__main__":
    main()
