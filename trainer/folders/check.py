"""`dl-train check DIR`: what a dataset folder holds and what is wrong with it, without training.

`check_folder` reads every file once (the decoders and limits `dl-tui` uses) and returns the
report as one JSON-ready dict; `trainer.folders.report` prints it as a table.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import layout
from .cache import CHUNK, default_workers, in_chunks
from .images import MAX_SIDE, Look, choose_channels, choose_size, look
from .layout import CLASSES, SPLIT_NAMES, Problem, Scan, scan
from .phash import CANDIDATE_BITS, DEFAULT_NEAR, THUMB, near_pairs
from .split import DEFAULT_TEST, DEFAULT_VAL, split

# Largest class over smallest from which the report calls a folder imbalanced: the ratio from
# which `dl-train folder --balance auto` weighs the classes (trainer.folder_training.IMBALANCE).
IMBALANCED = 1.5


class CheckError(Exception):
    """The folder cannot be checked at all (missing, not a folder, unreadable); one line."""


def check_folder(root: Path, near: int = DEFAULT_NEAR, val: float = DEFAULT_VAL, test: float = DEFAULT_TEST,
                 seed: int = 0, workers: int | None = None, progress: Callable[[int, int], None] | None = None) -> dict:
    """The report on ROOT (see the module's docstring; its keys are documented in
    `dl-train check --help`). NEAR is the pHash distance for near duplicates; VAL, TEST and
    SEED make the split `dl-train folder` would make (for the classes layout), so that leaks
    across it are found. PROGRESS(done, total) is called as files are read."""
    started = time.monotonic()
    root = Path(root)
    if not root.exists():
        raise CheckError(f"{_name(root)}: no such folder")
    if not root.is_dir():
        raise CheckError(f"{_name(root)}: not a folder")
    try:
        found = scan(root)
    except OSError as error:
        raise CheckError(f"{_name(root)}: cannot read: {error.strerror or error}") from None
    files = found.all_files()
    looks = _look_all([path for path, _, _ in files], workers, progress)
    problems = list(found.problems)
    usable: list[tuple[Look, str, str | None]] = []
    for (_, label, given), seen in zip(files, looks, strict=True):
        if seen.problem is not None:
            problems.append(Problem(seen.path, *seen.problem))
            continue
        wrong = seen.named_wrong
        if wrong:
            problems.append(Problem(seen.path, layout.SUFFIX,
                                    f"a {wrong} file named {seen.path.suffix or 'without an ending'}: read as {wrong}"))
        usable.append((seen, label, given))
    kept = found.without(seen.path for seen in looks if seen.problem is not None)
    for name in sorted(set(kept.empty_classes) - set(found.empty_classes)):
        problems.append(Problem(_class_folder(found, name), layout.EMPTY_CLASS,
                                f"class {name!r} has no usable images: left out"))
    parts = split(kept, val, test, seed)
    for name, line in zip(parts.warned, parts.warnings, strict=True):
        kind = layout.SMALL_CLASS if name in parts.small else layout.UNTRAINED_CLASS
        problems.append(Problem(_class_folder(found, name), kind, line))
    where = parts.where()
    place = {seen.path: where.get(kept.relative(seen.path), given) for seen, _, given in usable}
    groups = _duplicates(usable, near, place)
    for group in groups:
        problems += _two_classes(group)
    counts = {name: len(kept.class_files(name)) for name in kept.classes}
    report = {
        "root": os.fsdecode(root),
        "layout": found.layout,
        "can_train": sum(1 for n in parts.counts()["train"].values() if n) >= 2,
        "classes": list(kept.classes),
        "counts": counts,
        "splits": parts.counts(),
        "split": {"given": found.layout != CLASSES, "seed": seed, "val": val, "test": test,
                  "made": [name for name in SPLIT_NAMES if name not in found.splits] if found.layout != CLASSES
                  else list(SPLIT_NAMES)},
        "images": len(usable),
        "skipped": sum(1 for problem in problems if problem.skipped),
        "empty_classes": list(kept.empty_classes),
        "small_classes": list(parts.small),
        "sizes": _sizes([seen for seen, _, _ in usable]),
        "modes": _modes([seen for seen, _, _ in usable]),
        "imbalance": _imbalance(counts),
        "suggested": _suggested(usable),
        "near": {"hash": "phash-256", "within": near, "bits": 256, "candidates": f"phash-64 within {CANDIDATE_BITS}",
                 "thumbnail": THUMB},
        "problems": [problem.as_json() for problem in sorted(problems, key=lambda p: (os.fsdecode(p.path), p.kind))],
        "duplicates": groups,
        "leaks": [group for group in groups if len({entry["split"] for entry in group["files"]}) > 1],
        "seconds": round(time.monotonic() - started, 2),
    }
    return report


def _name(path: Path) -> str:
    return os.fsdecode(path)


def _class_folder(found: Scan, name: str) -> Path:
    return found.root / name if found.layout == CLASSES else found.root


def _look_all(paths: list[Path], workers: int | None, progress: Callable[[int, int], None] | None) -> list[Look]:
    chunks = [paths[start:start + CHUNK] for start in range(0, len(paths), CHUNK)]
    looks: list[Look] = []
    for chunk_looks in in_chunks(_look_chunk, chunks, (), default_workers(len(paths)) if workers is None else workers):
        looks += chunk_looks
        if progress is not None:
            progress(len(looks), len(paths))
    return looks


def _look_chunk(paths: list[Path], job: tuple) -> list[Look]:
    return [look(path) for path in paths]


def _duplicates(usable: list[tuple[Look, str, str | None]], near: int, place: dict[Path, str | None]) -> list[dict]:
    """Groups of the same picture (exact: equal decoded pixels) and of nearly the same (near:
    256-bit pHashes within NEAR bits, see trainer.folders.phash), each with its files' classes
    and splits. Near pairs are looked for among one file of each exact group; a near group
    then holds every file of the exact groups it joins."""
    exact: dict[str, list[int]] = {}
    for i, (seen, _, _) in enumerate(usable):
        exact.setdefault(seen.exact, []).append(i)
    groups = []
    first = {}  # index of each exact group's first file: near pairs are looked for among these
    for members in exact.values():
        first[members[0]] = members
        if len(members) > 1:
            groups.append(("exact", 0, members))
    leaders = sorted(first)
    if near >= 0 and len(leaders) > 1:
        coarse = [usable[i][0].near for i in leaders]
        fine = [usable[i][0].fine for i in leaders]
        parent = list(range(len(leaders)))

        def root_of(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        pairs = near_pairs(coarse, fine, near)
        for i, j, _ in pairs:
            a, b = root_of(i), root_of(j)
            if a != b:
                parent[b] = a
        farthest: dict[int, int] = {}
        for i, _, distance in pairs:
            top = root_of(i)
            farthest[top] = max(farthest.get(top, 0), distance)
        clusters: dict[int, list[int]] = {}
        for i in range(len(leaders)):
            clusters.setdefault(root_of(i), []).append(i)
        for top, members in clusters.items():
            if len(members) > 1:
                files = sorted(index for i in members for index in first[leaders[i]])
                groups.append(("near", farthest.get(top, 0), files))
    result = []
    for kind, distance, members in sorted(groups, key=lambda group: (group[0] != "exact", str(usable[group[2][0]][0].path))):
        result.append({"kind": kind, "distance": distance, "files": [
            {"path": os.fsdecode(usable[i][0].path), "class": usable[i][1], "split": place.get(usable[i][0].path)}
            for i in members]})
    return result


def _two_classes(group: dict) -> list[Problem]:
    """One warning for each file of GROUP filed under another class than the group's first file."""
    files = group["files"]
    head = files[0]
    how = "the same picture" if group["kind"] == "exact" else "nearly the same picture"
    return [Problem(Path(entry["path"]), layout.TWO_CLASSES,
                    f"{how} as {head['path']} is filed under class {head['class']!r} too (here {entry['class']!r})")
            for entry in files[1:] if entry["class"] != head["class"]]


def _sizes(looks: list[Look]) -> dict:
    if not looks:
        return {"count": 0}
    sizes = Counter(seen.size for seen in looks)
    heights = [seen.size[0] for seen in looks]
    widths = [seen.size[1] for seen in looks]
    return {"count": len(looks), "distinct": len(sizes),
            "min": [min(heights), min(widths)], "max": [max(heights), max(widths)],
            "median": [int(np.median(heights)), int(np.median(widths))],
            "common": [[height, width, n] for (height, width), n in sizes.most_common(5)]}


def _modes(looks: list[Look]) -> dict:
    """How many pictures are grey, RGB, with alpha, 16-bit, and really in colour."""
    return {"grey": sum(1 for seen in looks if seen.kind() == "grey"),
            "RGB": sum(1 for seen in looks if seen.kind() == "RGB" or seen.mode == "P"),
            "alpha": sum(1 for seen in looks if seen.alpha),
            "16-bit": sum(1 for seen in looks if seen.deep),
            "colour": sum(1 for seen in looks if seen.colour),
            "formats": dict(sorted(Counter(seen.format for seen in looks).items()))}


def _imbalance(counts: dict[str, int]) -> dict:
    if not counts:
        return {"ratio": None, "imbalanced": False}
    largest = max(counts, key=lambda name: (counts[name], name))
    smallest = min(counts, key=lambda name: (counts[name], name))
    ratio = counts[largest] / max(1, counts[smallest])
    return {"ratio": round(ratio, 2), "largest": largest, "smallest": smallest, "imbalanced": ratio >= IMBALANCED,
            "threshold": IMBALANCED}


def _suggested(usable: list[tuple[Look, str, str | None]]) -> dict:
    """What `dl-train folder` would choose from these pictures (images.choose_size, choose_channels)."""
    colours: dict[str, list[bool]] = {}
    for seen, label, _ in usable:
        colours.setdefault(label, []).append(seen.colour)
    size = choose_size([seen.size for seen, _, _ in usable])
    return {"size": list(size), "channels": choose_channels(colours), "max_side": MAX_SIDE}
