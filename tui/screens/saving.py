"""Saving a picture as a PNG off the UI thread, then saying where it went: for the Latent and Draw screens."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from textual import on, work
from textual.message import Message
from textual.screen import Screen

from tui.text import markup_safe, one_line


class SavesPng(Screen):
    """A screen that writes pictures to PNG files; SAVED_TITLE names what was saved in the toast."""

    SAVED_TITLE = "saved"

    @dataclass
    class Saved(Message):
        """A picture was written to a PNG (or not, and why)."""

        path: Path
        error: str

    @work(thread=True, group="save-png", exit_on_error=False)
    def save_png(self, pixels: np.ndarray, path: Path) -> None:
        """Write the PNG off the UI thread."""
        try:
            PILImage.fromarray(pixels).save(path)
            self.post_message(self.Saved(path, ""))
        except Exception as error:  # a read-only folder, a full disk
            self.post_message(self.Saved(path, one_line(error)))

    @on(Saved)
    def _saved(self, event: Saved) -> None:
        """Say where the PNG went, or why it did not."""
        if event.error:
            self.notify(markup_safe(event.error), title="not saved", severity="error")
        else:
            self.notify(markup_safe(str(event.path)), title=self.SAVED_TITLE)
