"""`dl-tui classify`: classify image files and folders headless, streamed, for scripts and SSH."""

from __future__ import annotations

from typing import Any

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    # The command (click, the pipeline, the writers) loads only when asked for: `dl-tui`'s
    # dispatcher imports this package and must not pay for the rest (75 ms of its start).
    if name == "app":
        from tui.classify.command import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
