"""The train/val/test split of a scanned folder, stratified and seeded, and its manifest file.

The manifest (`<out>/<NAME>.split.json`, beside the model) names every file by its path from
the root and its class index, so that a run can be repeated exactly and `dl-tui evaluate
--split test` can report on the held-out part. The same folder and seed give the same bytes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tui.atomic import atomic_write

from .layout import CLASSES, SPLIT_NAMES, Scan

MANIFEST_VERSION = 1
DEFAULT_VAL = DEFAULT_TEST = 0.1
MANIFEST_SUFFIX = ".split.json"


class ManifestError(Exception):
    """A split manifest that cannot be read; the message is one line."""


@dataclass
class Split:
    """Which file goes where: per split, (path from the root with `/`, class index) pairs."""

    root: Path
    layout: str
    seed: int
    val: float
    test: float
    classes: list[str]
    files: dict[str, list[tuple[str, int]]]
    # One line per class that needs one, naming it: too small to split (all its files train),
    # or (given splits) with no training files; `warned` names each line's class.
    warnings: list[str] = field(default_factory=list)
    small: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)

    def manifest(self) -> dict:
        """The shared manifest format (version, root, layout, seed, val, test, classes, files)."""
        return {"version": MANIFEST_VERSION, "root": os.fsdecode(self.root), "layout": self.layout,
                "seed": self.seed, "val": self.val, "test": self.test, "classes": list(self.classes),
                "files": {name: [[path, label] for path, label in self.files.get(name, [])] for name in SPLIT_NAMES}}

    def paths(self, name: str) -> tuple[list[Path], np.ndarray]:
        """One split's files (absolute paths) and their class indices (int64)."""
        pairs = self.files.get(name, [])
        return [self.root / path for path, _ in pairs], np.array([label for _, label in pairs], dtype=np.int64)

    def counts(self) -> dict[str, dict[str, int]]:
        """{split: {class: images}} for every split and class (zeros included)."""
        result = {}
        for name in SPLIT_NAMES:
            tally = np.bincount([label for _, label in self.files.get(name, [])], minlength=len(self.classes))
            result[name] = {label: int(n) for label, n in zip(self.classes, tally, strict=True)}
        return result

    def where(self) -> dict[str, str]:
        """{path from the root: split} for every file."""
        return {path: name for name in SPLIT_NAMES for path, _ in self.files.get(name, [])}


def check_fraction(val: float, test: float) -> None:
    """ValueError (one line) unless 0 <= val, test and val + test < 1."""
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ValueError(f"--val {val} and --test {test}: each from 0 to 1, and together under 1, so that something trains")


def split(scan: Scan, val: float = DEFAULT_VAL, test: float = DEFAULT_TEST, seed: int = 0) -> Split:
    """Split SCAN's files. Classes layout: within each class, a seeded shuffle, then
    round(n * test) files to test and round(n * val) to val (at least one each where the
    fraction is not 0), so each class's share is within one image of the fraction. A class
    with fewer images than the splits need (1 + one per non-zero fraction) all trains, with a
    warning naming it. Splits layout: the given splits as they are; a split the folder lacks
    (no val, or no test) is made from train in the same way."""
    check_fraction(val, test)
    index = {name: i for i, name in enumerate(scan.classes)}
    files: dict[str, list[tuple[str, int]]] = {name: [] for name in SPLIT_NAMES}
    small: list[str] = []
    untrained: list[str] = []
    rng = np.random.default_rng(seed)
    given = scan.splits if scan.layout != CLASSES else []
    for name in scan.classes:
        for split_name in given:
            files[split_name] += [(scan.relative(path), index[name]) for path in scan.files.get((split_name, name), [])]
        source = "train" if given else None
        pool = [scan.relative(path) for path in scan.files.get((source, name), [])]
        if given:
            files["train"] = [pair for pair in files["train"] if pair[1] != index[name]]
        want_val = val if "val" not in given else 0.0
        want_test = test if "test" not in given else 0.0
        parts = _cut(len(pool), want_val, want_test)
        if parts is None and not pool:
            untrained.append(name)  # a class the given splits have only outside train
            continue
        if parts is None:
            small.append(name)
            parts = (len(pool), 0, 0)
        order = rng.permutation(len(pool))
        n_train, n_val, _ = parts
        for rank, i in enumerate(order):
            to = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
            files[to].append((pool[i], index[name]))
    for name in SPLIT_NAMES:
        files[name].sort()
    lines = {name: f"class {name!r} has only {_images(len(scan.class_files(name)))}, too few to split: all train"
             for name in small}
    lines.update({name: f"class {name!r} has no training images (only in {', '.join(_held_out(scan, name))}): "
                        "it cannot be learnt" for name in untrained})
    warned = sorted(lines)
    return Split(Path(os.path.abspath(scan.root)), scan.layout, seed, val, test, list(scan.classes), files,
                 [lines[name] for name in warned], small, warned)


def _held_out(scan: Scan, name: str) -> list[str]:
    return [split for split in SPLIT_NAMES if scan.files.get((split, name))]


def _images(n: int) -> str:
    return f"{n} image" if n == 1 else f"{n} images"


def _cut(n: int, val: float, test: float) -> tuple[int, int, int] | None:
    """(train, val, test) counts for a class of N images, or None when N is too few to split."""
    need = 1 + (val > 0) + (test > 0)
    if n < need:
        return None
    n_test = max(1, int(n * test + 0.5)) if test > 0 else 0
    n_val = max(1, int(n * val + 0.5)) if val > 0 else 0
    if n - n_test - n_val < 1:  # tiny classes: keep one to train on
        n_val = max(0, n - n_test - 1) if val > 0 else 0
    return n - n_val - n_test, n_val, n_test


def manifest_path(out: Path, name: str) -> Path:
    """Where the manifest of model NAME lives: beside it, `<out>/<NAME>.split.json`."""
    return Path(out) / f"{name}{MANIFEST_SUFFIX}"


def write_manifest(path: Path, split: Split) -> None:
    """Write SPLIT's manifest to PATH whole or not at all."""
    atomic_write(Path(path), json.dumps(split.manifest(), indent=1) + "\n")


def read_manifest(path: Path) -> Split:
    """The Split a manifest describes; ManifestError (one line) if it cannot be used."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ManifestError(f"cannot read the split manifest {os.fsdecode(path)!r}: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ManifestError(f"the split manifest {os.fsdecode(path)!r} is not JSON") from None
    try:
        if data["version"] != MANIFEST_VERSION:
            raise ManifestError(f"the split manifest {os.fsdecode(path)!r} has version {data['version']!r}; "
                                f"this dl-train reads version {MANIFEST_VERSION}")
        classes = [str(name) for name in data["classes"]]
        files = {name: [(str(rel), int(label)) for rel, label in data["files"].get(name, [])] for name in SPLIT_NAMES}
        if any(not 0 <= label < len(classes) for pairs in files.values() for _, label in pairs):
            raise ValueError("class index out of range")
        return Split(Path(data["root"]), str(data["layout"]), int(data["seed"]), float(data["val"]),
                     float(data["test"]), classes, files)
    except ManifestError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ManifestError(f"the split manifest {os.fsdecode(path)!r} is damaged ({type(error).__name__}: "
                            f"{error})") from None
