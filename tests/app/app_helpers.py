"""Helpers for the app's tests: the fake trainer's command line, waiting for the app, sizes."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from tui.training import TrainOptions, dl_train_command

FAKE_TRAINER = Path(__file__).with_name("fake_trainer.py")
SIZE = (140, 45)


def fake_command(options: TrainOptions, out: Path) -> list[str]:
    """The fake trainer's command line: dl-train's, with the script in place of dl-train."""
    argv = dl_train_command(options, out)
    return [sys.executable, str(FAKE_TRAINER), *argv[argv.index(options.model):]]


async def wait_for(pilot, predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Let the app run until predicate() is true (workers and subprocesses report asynchronously)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)


def screen_text(app) -> str:
    """What the terminal shows now, as plain text lines (every layer, toasts included)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())
