"""Waiting for a Textual app under Pilot: shared by the app's tests and the terminal rig's."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable


def _described(predicate: Callable[[], object]) -> str:
    """The predicate's source line, to say in a failure what never came true."""
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return repr(predicate)


async def wait_for(pilot, predicate: Callable[[], object], timeout: float = 30.0) -> None:
    """Let the app run until predicate() is true (workers and subprocesses report asynchronously).

    Waits on the event, checking it between rounds of the app's message loop; the timeout only
    stops a hang, and the failure names the condition that never came true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for: {_described(predicate)}")
        await pilot.pause(0.02)
