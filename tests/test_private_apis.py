"""The private APIs we still rely on, each checked so that an upgrade fails here, loudly,
naming what to change, rather than somewhere odd (issue 19, section 5).

- Textual's `DOMNode._bindings` (tui/screens/help.py): the help lists every node's keys with
  the user's keymap; the public `Screen.active_bindings` has only the focused chain. Pinned
  `textual<9` in pyproject.toml.
- `ProcessPoolExecutor._processes` (tui/classify/pool.py), before Python 3.14's public
  `kill_workers()`.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding

from tui.classify.pool import _Pool, ordered
from tui.screens.help import key_rows

PRIVATE_BINDINGS = ("Textual's DOMNode._bindings.key_to_bindings (a dict of key -> [Binding]) "
                    "changed in textual {}: tui/screens/help.py's key_rows reads it; port it "
                    "(or a public API, if there is one now), then move the textual<9 pin")


def test_textual_is_within_the_pin():
    major = int(version("textual").split(".")[0])
    assert major == 8, f"textual {version('textual')} is outside pyproject.toml's >=8.0,<9"


class Keys(App):
    BINDINGS: ClassVar = [Binding("x,y", "bell", "Ring", tooltip="Ring the bell")]


async def test_textual_bindings_map_is_what_the_help_reads():
    app = Keys()
    async with app.run_test():
        bindings = getattr(app, "_bindings", None)
        mapping = getattr(bindings, "key_to_bindings", None)
        assert isinstance(mapping, dict), PRIVATE_BINDINGS.format(version("textual"))
        assert all(isinstance(key, str) and isinstance(value, list)
                   and all(isinstance(b, Binding) for b in value)
                   for key, value in mapping.items()), PRIVATE_BINDINGS.format(version("textual"))
        assert ("x y", "Ring: Ring the bell") in key_rows(app)  # one row for two keys of an action


def test_the_process_pool_has_a_handle_on_its_workers():
    if hasattr(ProcessPoolExecutor, "kill_workers"):
        return  # Python 3.14 and later: pool.kill uses the public method
    with ProcessPoolExecutor(1) as executor:
        executor.submit(os.getpid).result()
        processes = getattr(executor, "_processes", None)
        assert isinstance(processes, dict) and all(hasattr(p, "kill") for p in processes.values()), (
            "ProcessPoolExecutor._processes (pid -> Process) changed in this Python: "
            "tui/classify/pool.py's _Pool.kill reads it to kill the workers")


def _sleep(chunk: list, seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_a_pool_stopped_early_kills_its_busy_workers():
    results = ordered(_sleep, iter([[i] for i in range(8)]), (0.0,), 2,
                      (_nothing, ()), lambda chunk: 0)
    workers = {next(results), next(results)}  # the pool is running
    results.close()  # stopped early: pool.kill()
    assert workers - {os.getpid()}
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers), "a worker outlived the pool"


def _say_then_sleep(chunk: list, folder: str, seconds: float) -> int:
    (Path(folder) / str(os.getpid())).touch()  # busy now
    time.sleep(seconds)
    return os.getpid()


def test_kill_stops_busy_workers_rather_than_waiting_for_them(tmp_path):
    pool = _Pool(_say_then_sleep, (str(tmp_path), 120.0), 2, (_nothing, ()), lambda chunk: 0)
    pool.submit([0])
    pool.submit([1])
    deadline = time.monotonic() + 60  # a hang guard, not a timing
    while len(list(tmp_path.iterdir())) < 2:
        assert time.monotonic() < deadline, "the workers never started their tasks"
        time.sleep(0.02)
    workers = {int(path.name) for path in tmp_path.iterdir()}
    # shutdown(wait=True) alone would wait the two minutes out: a minute without kill() returning fails.
    killer = threading.Thread(target=pool.kill, daemon=True)
    killer.start()
    killer.join(60)
    assert not killer.is_alive(), "kill waited for the busy workers"
    assert not any(_alive(pid) for pid in workers), "a busy worker outlived kill()"


def _nothing() -> None:
    pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child stays a zombie until reaped; the executor reaps it on shutdown.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
