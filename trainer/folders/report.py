"""The check report (trainer.folders.check) as lines of text for people."""

from __future__ import annotations

from tui.text import clean

MAX_GROUPS = 20  # duplicate groups the table lists (JSON lists all)
MAX_PROBLEMS = 100


def table(report: dict) -> list[str]:
    """The report as lines: a summary, classes and counts per split, sizes, modes, imbalance,
    the training defaults, duplicates, leaks, problems, and the verdict."""
    lines = []
    skipped = report["skipped"]
    lines.append(f"{clean(report['root'])}: {_n(len(report['classes']), 'class', 'classes')} with images, "
                 f"{_n(report['images'], 'image')} ({report['layout']} layout; {_n(skipped, 'file')} skipped)")
    lines += _counts(report)
    lines.append(_split_line(report["split"]))
    lines.append(_sizes_line(report["sizes"]))
    modes = report["modes"]
    formats = ", ".join(f"{clean(name)} {n}" for name, n in modes["formats"].items())
    lines.append(f"modes: grey {modes['grey']}, RGB {modes['RGB']}, alpha {modes['alpha']}, 16-bit {modes['16-bit']}; "
                 f"in colour {modes['colour']}" + (f" (formats: {formats})" if formats else ""))
    lines.append(_imbalance_line(report["imbalance"], report["counts"]))
    suggested = report["suggested"]
    height, width = suggested["size"]
    lines.append(f"training defaults: size {height}x{width}, {'colour' if suggested['channels'] == 3 else 'grey'}")
    lines += _duplicates(report)
    lines += _problems(report["problems"])
    if report["can_train"]:
        lines.append(f"result: can train ({_n(len(report['classes']), 'class', 'classes')}, {_n(report['images'], 'image')})")
    else:
        training = sum(1 for n in report["splits"]["train"].values() if n)
        lines.append(f"result: cannot train: {_n(training, 'class', 'classes')} with training images, at least 2 needed")
    return lines


def _n(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _counts(report: dict) -> list[str]:
    names = [clean(name) for name in report["classes"]]
    if not names:
        return []
    width = max(5, *(len(name) for name in names))
    lines = [f"  {'class':<{width}}  {'images':>6}  {'train':>6}  {'val':>6}  {'test':>6}"]
    splits = report["splits"]
    for name, shown in zip(report["classes"], names, strict=True):
        row = [splits.get(part, {}).get(name, 0) for part in ("train", "val", "test")]
        lines.append(f"  {shown:<{width}}  {report['counts'][name]:>6}  {row[0]:>6}  {row[1]:>6}  {row[2]:>6}")
    return lines


def _split_line(split: dict) -> str:
    made = f"seed {split['seed']}, val {split['val']:g}, test {split['test']:g}"
    if not split["given"]:
        return f"split: stratified, made by dl-train ({made})"
    if split["made"]:
        return f"split: given by the folders; {' and '.join(split['made'])} made from train ({made})"
    return "split: given by the folders (train, val, test)"


def _sizes_line(sizes: dict) -> str:
    if not sizes.get("count"):
        return "sizes: no images"
    low, high, median = sizes["min"], sizes["max"], sizes["median"]
    if sizes["distinct"] == 1:
        return f"sizes: {low[0]}x{low[1]} (all {sizes['count']}; height x width)"
    return (f"sizes: {low[0]}x{low[1]} to {high[0]}x{high[1]}, median {median[0]}x{median[1]}, "
            f"{sizes['distinct']} distinct (height x width)")


def _imbalance_line(imbalance: dict, counts: dict) -> str:
    if imbalance.get("ratio") is None:
        return "imbalance: no classes"
    largest, smallest = imbalance["largest"], imbalance["smallest"]
    verdict = (f"imbalanced ({imbalance['threshold']:g} or more: dl-train folder --balance auto weighs the classes)"
               if imbalance["imbalanced"] else "balanced enough")
    return (f"imbalance: largest/smallest {imbalance['ratio']:g} ({clean(largest)} {counts[largest]}, "
            f"{clean(smallest)} {counts[smallest]}): {verdict}")


def _member(entry: dict) -> str:
    split = f", {entry['split']}" if entry.get("split") else ""
    return f"{clean(entry['path'])} [{clean(entry['class'])}{split}]"


def _group(group: dict) -> str:
    sign = " = " if group["kind"] == "exact" else " ~ "
    label = "exact" if group["kind"] == "exact" else f"near (distance {group['distance']})"
    return f"  {label}: " + sign.join(_member(entry) for entry in group["files"])


def _duplicates(report: dict) -> list[str]:
    groups, leaks, near = report["duplicates"], report["leaks"], report["near"]
    rule = f"near: 256-bit pHashes within {near['within']} bits"
    if not groups:
        return [f"duplicates: none ({rule})"]
    exact = sum(1 for group in groups if group["kind"] == "exact")
    lines = [f"duplicates: {_n(exact, 'exact group')}, {_n(len(groups) - exact, 'near group')} ({rule})"]
    lines += [_group(group) for group in groups[:MAX_GROUPS]]
    if len(groups) > MAX_GROUPS:
        lines.append(f"  ... and {len(groups) - MAX_GROUPS} more (--format json lists all)")
    if leaks:
        lines.append(f"leaks: {_n(len(leaks), 'duplicate group')} across train/val/test")
        lines += [_group(group) for group in leaks[:MAX_GROUPS]]
        if len(leaks) > MAX_GROUPS:
            lines.append(f"  ... and {len(leaks) - MAX_GROUPS} more (--format json lists all)")
    else:
        lines.append("leaks: none across train/val/test")
    return lines


def _problems(problems: list[dict]) -> list[str]:
    if not problems:
        return ["problems: none"]
    skipped = sum(1 for problem in problems if problem["severity"] == "skipped")
    lines = [f"problems: {_n(skipped, 'file')} skipped, {_n(len(problems) - skipped, 'warning')}"]
    for problem in problems[:MAX_PROBLEMS]:
        lines.append(f"  {problem['severity']:<8} {clean(problem['path'])}: {clean(problem['detail'])} ({problem['kind']})")
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"  ... and {len(problems) - MAX_PROBLEMS} more (--format json lists all)")
    return lines
