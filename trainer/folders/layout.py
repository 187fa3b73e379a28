"""A labelled folder of pictures: its layout, its classes and their files (nothing is decoded).

Two layouts, told apart without flags:
- "classes": `DIR/<class>/...`, one subfolder per class;
- "splits": `DIR/train/<class>/...` with `DIR/val|valid|validation/<class>` and `DIR/test/<class>`
  beside it (when DIR holds a `train` folder with subfolders and nothing but split folders).

Class names are folder names, sorted. Nested folders inside a class are walked. Links to
folders are not followed (as `dl-tui classify -r`: a link to / would walk the machine);
linked files are read. Hidden folders (`.git`, `.ipynb_checkpoints`) are left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tui.classify.sources import is_folder
from tui.runtime.preprocess import IMAGE_SUFFIXES, SUPPORTED_FORMATS

CLASSES, SPLITS = "classes", "splits"
SPLIT_NAMES = ("train", "val", "test")
# The folder names each split may have (lower case): Keras, Roboflow and Kaggle spell val three ways.
SPLIT_FOLDERS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}

# What a problem is; "skipped" kinds leave the file out, the others are warnings.
NOT_IMAGE, EMPTY, UNSUPPORTED, TRUNCATED, DAMAGED, TOO_LARGE, UNREADABLE = (
    "not-image", "empty", "unsupported", "truncated", "damaged", "too-large", "unreadable")
OUTSIDE, LINK, HIDDEN, NOT_SPLIT = "outside-class", "folder-link", "hidden-folder", "not-split"
SUFFIX, EMPTY_CLASS, SMALL_CLASS, UNTRAINED_CLASS, TWO_CLASSES = (
    "suffix-mismatch", "empty-class", "small-class", "untrained-class", "two-classes")
SKIPPED_KINDS = frozenset({NOT_IMAGE, EMPTY, UNSUPPORTED, TRUNCATED, DAMAGED, TOO_LARGE, UNREADABLE, OUTSIDE})


@dataclass(frozen=True)
class Problem:
    """Something wrong with a file or folder: `kind` is one of the names above, `detail` one line."""

    path: Path
    kind: str
    detail: str

    @property
    def skipped(self) -> bool:
        """Is the file left out (rather than used with a warning)?"""
        return self.kind in SKIPPED_KINDS

    def as_json(self) -> dict:
        return {"path": os.fsdecode(self.path), "kind": self.kind, "detail": self.detail,
                "severity": "skipped" if self.skipped else "warning"}


@dataclass
class Scan:
    """What `scan` found: the layout, the classes with at least one file that may be an image
    (sorted), and those files per (split or None, class), each list sorted by path."""

    root: Path
    layout: str
    classes: list[str]
    files: dict[tuple[str | None, str], list[Path]]
    problems: list[Problem] = field(default_factory=list)
    empty_classes: list[str] = field(default_factory=list)

    @property
    def splits(self) -> list[str]:
        """The splits the folder gives (in train, val, test order); [] for the classes layout."""
        given = {split for split, _ in self.files}
        return [name for name in SPLIT_NAMES if name in given]

    def class_files(self, name: str) -> list[Path]:
        """Every file of one class, across the given splits."""
        return [path for (_, label), paths in sorted(self.files.items(), key=_split_order)
                if label == name for path in paths]

    def all_files(self) -> list[tuple[Path, str, str | None]]:
        """(path, class, split) for every file, in a stable order."""
        return [(path, label, split) for (split, label), paths in sorted(self.files.items(), key=_split_order)
                for path in paths]

    def count(self) -> int:
        return sum(len(paths) for paths in self.files.values())

    def without(self, paths: Iterable[Path]) -> Scan:
        """This scan less PATHS (files that did not decode, say); a class left with none becomes
        an empty class."""
        gone = {Path(path) for path in paths}
        files = {key: kept for key, found in self.files.items() if (kept := [p for p in found if p not in gone])}
        classes = sorted({label for _, label in files})
        empty = sorted(set(self.empty_classes) | (set(self.classes) - set(classes)))
        return Scan(self.root, self.layout, classes, files, list(self.problems), empty)

    def relative(self, path: Path) -> str:
        """The path from the root, with `/`: how the manifest names a file."""
        return Path(os.path.relpath(path, self.root)).as_posix()


def _split_order(item: tuple[tuple[str | None, str], list[Path]]) -> tuple[int, str]:
    (split, label), _ = item
    return (SPLIT_NAMES.index(split) if split in SPLIT_NAMES else -1, label)


def scan(root: Path) -> Scan:
    """Walk a dataset folder (see the module's docstring for the layouts). Files without an
    image ending are problems (`not-image`, `unsupported` for a known picture format we do not
    read) unless their first bytes say a format we read (then they are kept, and the check
    warns that the name lies); files at the root, outside any class, are left out. Nothing is
    decoded: `trainer.folders.check` does that. OSError if ROOT cannot be listed."""
    root = Path(root)
    problems: list[Problem] = []
    top = _subfolders(root, problems, top=True)
    splits = _split_folders(root, top)
    files: dict[tuple[str | None, str], list[Path]] = {}
    names: set[str] = set()
    if splits is not None:
        layout = SPLITS
        for name in sorted(set(top) - {folder for folder, _ in splits}):
            problems.append(Problem(root / name, NOT_SPLIT, "not a split folder (train, val, valid, validation, test): not read"))
        for folder_name, split in splits:
            folder = root / folder_name
            _outside(folder, problems)
            for name in _subfolders(folder, problems):
                names.add(name)
                found = _images(folder / name, problems)
                if found:
                    files.setdefault((split, name), []).extend(found)
    else:
        layout = CLASSES
        _outside(root, problems)
        for name in top:
            names.add(name)
            found = _images(root / name, problems)
            if found:
                files[(None, name)] = found
    for paths in files.values():
        paths.sort()
    classes = sorted({label for _, label in files})
    empty = sorted(names - set(classes))
    for name in empty:
        problems.append(Problem(root / name if layout == CLASSES else root, EMPTY_CLASS,
                                f"class {name!r} has no images: left out"))
    return Scan(root, layout, classes, files, problems, empty)


def _subfolders(folder: Path, problems: list[Problem], top: bool = False) -> list[str]:
    """The sorted names of FOLDER's subfolders that are read; links and hidden ones are problems."""
    found = []
    try:
        with os.scandir(folder) as entries:
            listed = list(entries)
    except OSError as error:
        if top:
            raise
        problems.append(Problem(folder, UNREADABLE, f"cannot read folder: {error.strerror or error}"))
        return []
    for entry in listed:
        path = folder / entry.name
        if is_folder(entry):
            if entry.name.startswith("."):
                problems.append(Problem(path, HIDDEN, "hidden folder: not read"))
            else:
                found.append(entry.name)
        elif entry.is_symlink() and is_folder(entry, follow=True):
            problems.append(Problem(path, LINK, "a link to a folder: not followed"))
    return sorted(found)


def _split_folders(root: Path, top: list[str]) -> list[tuple[str, str]] | None:
    """[(folder name, split)] when ROOT has the splits layout, else None: a `train` folder with
    subfolders, and either nothing but split folders beside it or a val or test folder with
    subfolders too (then other folders are named as not read). A classes layout with a class
    named `train` (trains, the vehicles) has other classes beside it, without subfolders."""
    kinds = {name: SPLIT_FOLDERS.get(name.lower()) for name in top}
    trains = [name for name, split in kinds.items() if split == "train"]
    if not trains or not _subfolders(root / trains[0], []):
        return None
    others = [name for name, split in kinds.items() if split is None]
    if others and not any(split in ("val", "test") and _subfolders(root / name, []) for name, split in kinds.items()):
        return None
    return sorted(((name, split) for name, split in kinds.items() if split is not None),
                  key=lambda item: (SPLIT_NAMES.index(item[1]), item[0]))


def _outside(folder: Path, problems: list[Problem]) -> None:
    """Files lying in FOLDER itself, outside any class folder: left out, each named."""
    try:
        with os.scandir(folder) as entries:
            loose = sorted(entry.name for entry in entries if not is_folder(entry) and not is_folder(entry, True))
    except OSError:
        return
    for name in loose:
        problems.append(Problem(folder / name, OUTSIDE, "outside any class folder: left out"))


def _images(folder: Path, problems: list[Problem]) -> list[Path]:
    """Every file under one class folder that may be an image, depth first; the rest are problems."""
    found: list[Path] = []
    stack = [folder]
    seen: set[tuple[int, int]] = set()
    while stack:
        current = stack.pop()
        try:
            info = current.stat()
            if (info.st_dev, info.st_ino) in seen:  # a bind mount back up the tree
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(current) as entries:
                listed = sorted(entries, key=lambda entry: entry.name)
        except OSError as error:
            problems.append(Problem(current, UNREADABLE, f"cannot read folder: {error.strerror or error}"))
            continue
        below = []
        for entry in listed:
            path = current / entry.name
            if is_folder(entry):
                if entry.name.startswith("."):
                    problems.append(Problem(path, HIDDEN, "hidden folder: not read"))
                else:
                    below.append(path)
            elif entry.is_symlink() and is_folder(entry, follow=True):
                problems.append(Problem(path, LINK, "a link to a folder: not followed"))
            elif os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES:
                if _size(entry) == 0:
                    problems.append(Problem(path, EMPTY, "empty file"))
                else:
                    found.append(path)
            else:
                problem = _not_named_image(path)
                if problem is None:
                    found.append(path)  # a picture without an image ending: check warns
                else:
                    problems.append(problem)
        stack.extend(reversed(below))
    return found


def _size(entry: os.DirEntry) -> int | None:
    try:
        return entry.stat().st_size
    except OSError:
        return None  # load_image says why


def _not_named_image(path: Path) -> Problem | None:
    """Why a file without an image ending is left out, or None when its first bytes say a format we read."""
    from PIL import Image

    try:
        size = path.stat().st_size
        if size == 0:
            return Problem(path, EMPTY, "empty file")
        with open(path, "rb") as file:
            prefix = file.read(16)
    except OSError as error:
        return Problem(path, UNREADABLE, f"cannot read: {error.strerror or error}")
    said = sniff(prefix)
    if said in SUPPORTED_FORMATS:
        return None
    suffix = os.path.splitext(path.name)[1].lower()
    said = said or Image.registered_extensions().get(suffix)
    if said:
        return Problem(path, UNSUPPORTED, f"unsupported format {said} (supported: {', '.join(SUPPORTED_FORMATS)})")
    return Problem(path, NOT_IMAGE, "not an image")


def sniff(prefix: bytes) -> str | None:
    """The format a file's first bytes say (Pillow's signature checks only; nothing is decoded)."""
    from PIL import Image

    Image.init()
    for name in [*SUPPORTED_FORMATS, *Image.OPEN]:
        if name not in Image.OPEN or name == "TGA":  # TGA has no signature: any bytes would do
            continue
        accept = Image.OPEN[name][1]
        try:
            said = accept and accept(prefix)
        except Exception:  # noqa: BLE001  a signature check that trips over a short file
            continue
        if said and not isinstance(said, str):
            return name
    return None
