"""Waiting for a Textual app under Pilot: shared by the app's tests and the terminal rig's."""

from __future__ import annotations

import time
from collections.abc import Callable


async def wait_for(pilot, predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Let the app run until predicate() is true (workers and subprocesses report asynchronously)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)
