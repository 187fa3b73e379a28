"""Helpers for the app's tests: the fake trainer's command line, waiting for the app, sizes."""

from __future__ import annotations

import time

from fake_trainer import fake_command  # noqa: F401  (the app's tests use it from here)
from pilot_wait import wait_for  # noqa: F401  (likewise)

SIZE = (140, 45)


def screen_text(app) -> str:
    """What the terminal shows now, as plain text lines (every layer, toasts included)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def settled(pilot, quiet: float = 0.3, timeout: float = 10.0) -> None:
    """Let the app run until no worker is busy and the screen has not changed for `quiet` seconds:
    a snapshot taken then is what the user is left looking at, not a frame before a late update."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while True:
        text = screen_text(pilot.app)
        # DirectoryTree's `_loader` worker waits for folders to read for as long as the tree lives.
        busy = any(worker.is_running and worker.group != "_loader" for worker in pilot.app.workers)
        if text != last or busy:
            last, since = text, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the screen kept changing")
        await pilot.pause(0.05)
