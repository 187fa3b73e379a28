"""Saving a picture as a numbered PNG off the UI thread, then saying where it went: for the Latent and Draw screens."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from textual import on, work
from textual.message import Message
from textual.screen import Screen

from tui.text import clean, one_line

MAX_NUMBER = 100_000  # a folder with this many already is one error, not a long search


def create_numbered(folder: Path, stem: str, suffix: str = ".png") -> tuple[Path, int]:
    """Create the first free STEM-N.SUFFIX (N from 1) in FOLDER and return it with an open descriptor.

    The file is created exclusively, so two saves at once, or a file that appeared since, never
    share a name: nothing is ever overwritten.
    """
    for number in range(1, MAX_NUMBER + 1):
        path = folder / f"{stem}-{number}{suffix}"
        try:
            return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
    raise OSError(f"{folder} already has {MAX_NUMBER} files named {stem}-N{suffix}")


class SavesPng(Screen):
    """A screen that writes pictures to PNG files; SAVED_TITLE names what was saved in the toast."""

    SAVED_TITLE = "saved"

    @dataclass
    class Saved(Message):
        """A picture was written to a PNG (or not, and why)."""

        path: Path
        error: str
        pixels: np.ndarray | None = None

    @work(thread=True, group="save-png", exit_on_error=False)
    def save_png(self, pixels: np.ndarray, folder: Path, stem: str) -> None:
        """Write the PNG as the first free STEM-N.png in FOLDER, off the UI thread."""
        path = folder / f"{stem}-N.png"
        try:
            path, fd = create_numbered(folder, stem)
            try:
                with os.fdopen(fd, "wb") as file:
                    PILImage.fromarray(pixels).save(file, format="PNG")
            except BaseException:
                path.unlink(missing_ok=True)  # no half-written PNG left behind
                raise
            self.post_message(self.Saved(path, "", pixels))
        except Exception as error:  # noqa: BLE001  a read-only folder, a full disk
            self.post_message(self.Saved(path, one_line(error)))

    @on(Saved)
    def _saved(self, event: Saved) -> None:
        """Say where the PNG went, or why it did not."""
        if event.error:
            self.notify(clean(event.error), title="not saved", severity="error", markup=False)
        else:
            self.notify(clean(event.path), title=self.SAVED_TITLE, markup=False)
