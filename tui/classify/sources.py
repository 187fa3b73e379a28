"""Which files to classify: the paths given, and the images inside folders, streamed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from tui.runtime.preprocess import IMAGE_SUFFIXES

Source = tuple[Path, "str | None"]  # a file to classify, or a folder and why it cannot be read


def iter_files(paths: list[Path], recursive: bool = False, follow: bool = False) -> Iterator[Source]:
    """Every file to classify, in order: each path given, folders sorted by name.

    A file given by name is always tried, and so is a folder (a link to one too). Inside
    a folder only names with an image ending are taken, linked files too; a subfolder
    with such a name (`x.png/`) is yielded as well, so it gets an error row rather than
    vanishing. With `recursive`, subfolders are walked depth first; a link to a folder
    only with `follow` (as ripgrep and fd: a link to / or /proc would walk the machine),
    and then each folder once however many links lead to it.
    """
    suffixes = IMAGE_SUFFIXES
    seen: set[tuple[int, int]] = set()
    walk = Walk(suffixes, recursive, follow, seen)
    for path in paths:
        if path.is_dir():
            yield from _walk(path, walk)
        else:
            yield path, None


class Walk:
    """What every listing of one walk shares: the endings, -r, --follow, the folders seen."""

    def __init__(self, suffixes: frozenset[str], recursive: bool, follow: bool,
                 seen: set[tuple[int, int]]) -> None:
        self.suffixes, self.recursive, self.follow, self.seen = suffixes, recursive, follow, seen


def _walk(top: Path, walk: Walk) -> Iterator[Source]:
    # A stack of open listings, not recursion: a tree 1,000 folders deep is still walked.
    stack = [_listing(top, walk)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, Path):  # a subfolder: walk it before the names after it
                stack.append(_listing(item, walk))
                break
            yield item
        else:
            stack.pop()


def _listing(folder: Path, walk: Walk) -> Iterator[Source | Path]:
    """One folder's images as sources and its subfolders as paths, sorted by name."""
    try:
        stat = folder.stat()
        # A symlink back up the tree would otherwise be walked for ever.
        if (stat.st_dev, stat.st_ino) in walk.seen:
            return
        walk.seen.add((stat.st_dev, stat.st_ino))
        with os.scandir(folder) as scan:
            # Names only, sorted: 100,000 files cost a few MB, not their DirEntry objects.
            names, folders = [], set()
            for entry in scan:
                names.append(entry.name)
                if walk.recursive and is_folder(entry, walk.follow):
                    folders.add(entry.name)
    except OSError as error:
        yield folder, f"cannot read folder: {error.strerror or error}"
        return
    names.sort()
    for name in names:
        if name in folders:
            yield folder / name
        elif os.path.splitext(name)[1].lower() in walk.suffixes:
            yield folder / name, None


def is_folder(entry: os.DirEntry, follow: bool = False) -> bool:
    """Is the entry a folder to walk into? A link to a folder only with `follow`: the one
    rule for every walk over folders (the trainer's --fonts walk keeps it too)."""
    try:
        return entry.is_dir(follow_symlinks=follow)
    except OSError:
        return False


def has_subfolders(folder: Path, follow: bool = False) -> bool:
    """Does the folder hold another folder (where -r would look)? False if it cannot be read."""
    try:
        with os.scandir(folder) as scan:
            return any(is_folder(entry, follow) for entry in scan)
    except OSError:
        return False


def count_files(paths: list[Path], recursive: bool = False, follow: bool = False) -> int:
    """How many files `iter_files` yields (a second pass over the names, for progress)."""
    return sum(1 for _ in iter_files(paths, recursive, follow))
