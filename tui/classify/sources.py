"""Which files to classify: the paths given, and the images inside folders, streamed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from PIL import Image


def image_suffixes() -> frozenset[str]:
    """File name endings Pillow can open (`.png`, `.jpg`, ...), lower case."""
    Image.preinit()  # keeps the common formats first in the order Pillow probes them
    return frozenset(Image.registered_extensions())


Source = tuple[Path, "str | None"]  # a file to classify, or a folder and why it cannot be read


def iter_files(paths: list[Path], recursive: bool = False) -> Iterator[Source]:
    """Every file to classify, in order: each path given, folders sorted by name.

    A file given by name is always tried. Inside a folder only names with an image
    ending are taken; a subfolder with such a name (`x.png/`) is yielded too, so it
    gets an error row rather than vanishing. With `recursive`, subfolders are walked.
    """
    suffixes = image_suffixes()
    seen: set[tuple[int, int]] = set()
    for path in paths:
        if path.is_dir():
            yield from _walk(path, suffixes, recursive, seen)
        else:
            yield path, None


def _walk(
    folder: Path, suffixes: frozenset[str], recursive: bool, seen: set[tuple[int, int]]
) -> Iterator[Source]:
    try:
        stat = folder.stat()
        # A symlink back up the tree would otherwise be walked for ever.
        if (stat.st_dev, stat.st_ino) in seen:
            return
        seen.add((stat.st_dev, stat.st_ino))
        with os.scandir(folder) as scan:
            # Names only, sorted: 100,000 files cost a few MB, not their DirEntry objects.
            names, folders = [], set()
            for entry in scan:
                names.append(entry.name)
                if recursive and _is_dir(entry):
                    folders.add(entry.name)
    except OSError as error:
        yield folder, f"cannot read folder: {error.strerror or error}"
        return
    names.sort()
    for name in names:
        if name in folders:
            yield from _walk(folder / name, suffixes, recursive, seen)
        elif os.path.splitext(name)[1].lower() in suffixes:
            yield folder / name, None


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def count_files(paths: list[Path], recursive: bool = False) -> int:
    """How many files `iter_files` yields (a second pass over the names, for progress)."""
    return sum(1 for _ in iter_files(paths, recursive))
