"""`dl-tui evaluate`: a labelled folder classified by classify's engine, and the figures of it.

metrics (scikit-learn's definitions), label_issues (confident learning), folder (which files,
with which labels), collect (classify's rows kept), report (JSON and tables), command (the CLI).
"""

from __future__ import annotations

from typing import Any

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    # Loaded only when asked for, as tui.classify's command is.
    if name == "app":
        from tui.evaluate.command import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
