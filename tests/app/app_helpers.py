"""Helpers for the app's tests: the fake trainer's command line, waiting for the app, what it shows, sizes."""

from __future__ import annotations

import asyncio
import time

from fake_trainer import fake_command  # noqa: F401  (the app's tests use it from here)
from pilot_wait import wait_for  # noqa: F401  (likewise)

SIZE = (140, 45)

COMPOSITOR = ("Textual's Screen._compositor.render_strips() (the rows on screen, every layer) is gone "
              "or changed: port screen_strips in tests/app/app_helpers.py, the one place the tests read it")


def screen_strips(app) -> list:
    """What the terminal shows now, one Strip of (text, style) segments a row, every layer (toasts too).

    Textual has no public way to read the screen as text; this is the tests' one private read."""
    compositor = getattr(app.screen, "_compositor", None)
    assert compositor is not None and hasattr(compositor, "render_strips"), COMPOSITOR
    return list(compositor.render_strips())


def screen_lines(app) -> list[str]:
    """What the terminal shows now, as plain text, one string a row."""
    return [strip.text for strip in screen_strips(app)]


def screen_text(app) -> str:
    """What the terminal shows now, as plain text lines (every layer, toasts included)."""
    return "\n".join(screen_lines(app))


def toasts(app) -> list[str]:
    """The notifications on screen now, each as one line of the words its box shows (run the app
    with `run_test(notifications=True)`: Textual's tests leave them out by default)."""
    strips = screen_strips(app)
    shown = []
    for toast in app.screen.query("Toast"):
        box = toast.region
        rows = [strips[y].crop(box.x, box.right).text for y in range(box.y, min(box.bottom, len(strips)))]
        shown.append(" ".join(" ".join(rows).replace("▌", " ").split()))
    return shown


def _busy(app) -> list:
    # DirectoryTree's `_loader` worker waits for folders to read for as long as the tree lives.
    return [worker for worker in app.workers if not worker.is_finished and worker.group != "_loader"]


async def settled(pilot, timeout: float = 60.0) -> None:
    """Let the app finish what it was set doing: every worker done, every message handled, every
    animation over, and a round of that changing nothing on screen. A snapshot taken then is what
    the user is left looking at, not a frame before a late update. Waits on those events, never
    on the clock; the timeout only stops a hang, naming what was still going."""
    app, deadline = pilot.app, time.monotonic() + timeout
    before = None
    while True:
        busy = _busy(app)
        if busy:
            try:
                await asyncio.wait_for(app.workers.wait_for_complete(busy), deadline - time.monotonic())
            except (TimeoutError, asyncio.TimeoutError):
                names = ", ".join(sorted({worker.name or worker.group for worker in _busy(app)}))
                raise AssertionError(f"workers still running after {timeout:.0f} s: {names}") from None
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        now = screen_text(app)
        if now == before and not _busy(app):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the screen kept changing for {timeout:.0f} s")
        before = now


def whole_png(path) -> bool:
    """PATH is a complete PNG: the app creates the file first (claiming the name), then writes it."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
    except (OSError, SyntaxError, ValueError):
        return False
    return True
