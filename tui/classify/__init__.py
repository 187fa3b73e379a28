"""`dl-tui classify`: classify image files and folders headless, streamed, for scripts and SSH."""

from tui.classify.command import app

__all__ = ["app"]
