"""Which files `dl-tui evaluate` reads, and the label each is filed under.

`DIR/<label>/...`: one subfolder per class, named as the model's labels, each walked as
`dl-tui classify -r` walks (tui.classify.sources: the same endings, sorting and symlink rules).
A subfolder that is no label, and image files at the root, are left out with one line each.
With `--split test`, the files are the test part of the split manifest `dl-train folder` wrote
beside the model (`<NAME>.split.json`), read relative to DIR.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tui.classify.sources import Source, is_folder, iter_files
from tui.runtime.preprocess import IMAGE_SUFFIXES
from tui.text import clean

SPLIT_SUFFIX = ".split.json"  # beside the model: `<NAME>.split.json` (docs/model-contract.md)
MAX_MANIFEST_BYTES = 256 << 20
SPLIT_FOLDERS = ("train", "val", "valid", "validation", "test")  # dl-train folder's splits layout


class FolderError(ValueError):
    """The folder or manifest cannot be evaluated: one line, for a usage error."""


@dataclass
class Labelled:
    """The files to evaluate, in order, the label index each is filed under, and what was left out."""

    sources: list[Source] = field(default_factory=list)
    truth: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one warning line each


def class_folders(root: Path, labels: list[str], follow: bool = False) -> Labelled:
    """Every image under ROOT's subfolders named as LABELS, in the labels' order."""
    try:
        with os.scandir(root) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
            folders = [entry.name for entry in entries if is_folder(entry, follow)]
            loose = [entry.name for entry in entries if entry.name not in folders
                     and os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES]
    except OSError as error:
        raise FolderError(f"cannot read {clean(root)}: {error.strerror or error}") from None
    found = Labelled()
    known = set(labels)
    unknown = [name for name in folders if name not in known]
    if unknown:
        shown = ", ".join(clean(name) for name in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        found.notes.append(f"left out {len(unknown)} folder{'s' * (len(unknown) != 1)} not named as one of "
                           f"the model's labels: {shown}")
    if loose:
        found.notes.append(f"left out {len(loose)} image file{'s' * (len(loose) != 1)} at the root of "
                           f"{clean(root)}, outside any class folder")
    present = [label for label in labels if label in folders]
    if not present:
        splits = [name for name in folders if name in SPLIT_FOLDERS and name not in known]
        part = "test" if "test" in splits else (splits[0] if splits else "")
        hint = f"; for a train/val/test layout give {clean(root / part)}" if part else ""
        raise FolderError(f"no folder in {clean(root)} is named as one of the model's labels "
                          f"({', '.join(clean(label) for label in labels[:10])}{' ...' if len(labels) > 10 else ''})"
                          + hint)
    for label in present:
        index = labels.index(label)
        for source in iter_files([root / label], recursive=True, follow=follow):
            found.sources.append(source)
            found.truth.append(index)
    return found


def manifest_path(model_path: Path, name: str) -> Path:
    """Where `dl-train folder` writes the model's split manifest."""
    return model_path.parent / f"{name}{SPLIT_SUFFIX}"


def test_part(root: Path, manifest: Path, labels: list[str]) -> Labelled:
    """The test files of a split manifest, relative to ROOT, with their labels."""
    try:
        if manifest.stat().st_size > MAX_MANIFEST_BYTES:
            raise FolderError(f"{clean(manifest)} is too large to be a split manifest")
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FolderError(f"no split manifest {clean(manifest.name)} beside the model in "
                          f"{clean(manifest.parent)}: use --split all") from None
    except (OSError, ValueError, RecursionError) as error:
        raise FolderError(f"cannot read the split manifest {clean(manifest)}: {error}") from None
    try:
        classes = [str(name) for name in data["classes"]]
        rows = data["files"]["test"]
        pairs = [(str(rel), int(k)) for rel, k in rows]
    except (KeyError, TypeError, ValueError):
        raise FolderError(f"{clean(manifest)} is not a split manifest (no classes and files.test)") from None
    found = Labelled()
    missing = sorted({name for name in classes if name not in labels})
    if missing:
        found.notes.append(f"left out the test files of {len(missing)} class{'es' * (len(missing) != 1)} "
                           f"the model has no label for: {', '.join(clean(m) for m in missing[:5])}")
    unsafe = 0
    for rel, k in pairs:
        parts = PurePosixPath(rel).parts
        if not parts or PurePosixPath(rel).is_absolute() or ".." in parts or not 0 <= k < len(classes):
            unsafe += 1
            continue
        if classes[k] not in labels:
            continue
        found.sources.append((root.joinpath(*parts), None))
        found.truth.append(labels.index(classes[k]))
    if unsafe:
        found.notes.append(f"left out {unsafe} manifest entr{'ies' if unsafe != 1 else 'y'} with a path "
                           "outside the folder or an unknown class")
    return found
