"""A model's metadata as people read it: signatures, sizes, metrics and `key: value` detail lines."""

from __future__ import annotations

from typing import Any

from tui.runtime import ModelInfo
from tui.runtime.preprocessing import Preprocessing

SHORT = {"test_accuracy": "acc", "test_accuracy_original": "orig", "test_accuracy_inverted": "inv",
         "test_elbo": "ELBO", "test_macro_f1": "macro-F1"}
FRACTIONS = ("accuracy", "f1")  # metrics that are fractions, shown as percentages


def signature(items: list[tuple[str, list, str]]) -> str:
    """`image [N,28,28,1]` for each input or output, dynamic axes as their names."""
    return ", ".join(f"{name} [{','.join(str(d) for d in shape)}]" for name, shape, _ in items)


def size(n: float) -> str:
    """Bytes for people."""
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def metrics(values: dict | None) -> str:
    """Accuracies as percentages, an ELBO as is, in few columns."""
    parts = []
    for key, value in (values or {}).items():
        short = SHORT.get(key, key.removeprefix("test_"))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            fraction = any(word in key for word in FRACTIONS)
            parts.append(f"{short} {value * 100:.2f}%" if fraction else f"{short} {value:.1f}")
    return " ".join(parts)


def readable(value: Any) -> str:
    """A metadata value without JSON's punctuation: `k v · k v`, lists with commas."""
    if isinstance(value, dict):
        return " · ".join(f"{key} {readable(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def dataset(values: dict) -> str:
    """The data set's name and sizes; its `source` is a path on the training machine, of no use here.
    A folder's (`dl-train folder`): its classes, the three parts, files skipped, how it was split
    and the folder it was read from (to evaluate on it again)."""
    if values.get("name") == "folder":
        return folder_dataset(values)
    sizes = [f"{values[key]:,} {key}" for key in ("train", "test") if isinstance(values.get(key), int)]
    return " · ".join([str(values.get("name", "unknown")), *sizes])


def folder_dataset(values: dict) -> str:
    """`folder · 3 classes · 80 train · 20 val · 20 test · 1 skipped · split by dl-train · from /data/leaves`."""
    classes = values.get("classes")
    parts = ["folder"]
    if isinstance(classes, list):
        parts.append(f"{len(classes)} classes")
    parts += [f"{values[key]:,} {key}" for key in ("train", "val", "test", "skipped")
              if isinstance(values.get(key), int) and not isinstance(values.get(key), bool)]
    layout = {"classes": "split by dl-train", "splits": "its own train/val/test folders"}.get(values.get("layout"))
    if layout:
        parts.append(layout)
    if values.get("source"):
        parts.append(f"from {values['source']}")
    return " · ".join(parts)


def preprocessing(prep: Preprocessing) -> str:
    """How a picture becomes the model's input: a folder model's size, channels and resize in words;
    the metadata as written for the others."""
    if not prep.stretch:
        return readable(prep.metadata)
    height, width = prep.size
    kind = "colour" if prep.channels == 3 else "grey"
    return f"{width}×{height} {kind} (channels {prep.channels}) · fit stretch: the whole picture, resized {prep.resize} · pixels / 255"


def evaluation(values: dict | None) -> str:
    """A folder model's figures on its held-out part: count, accuracy, macro-F1 and the weakest class."""
    if not values:
        return ""
    parts = []
    if isinstance(values.get("count"), int):
        parts.append(f"{values['count']:,} {values.get('split') or 'test'} images")
    parts += [f"{name} {values[key] * 100:.2f}%" for key, name in (("accuracy", "accuracy"), ("macro_f1", "macro-F1"))
              if isinstance(values.get(key), (int, float)) and not isinstance(values.get(key), bool)]
    rows = [row for row in values.get("per_class") or [] if isinstance(row.get("f1"), (int, float))]
    if len(rows) > 1:
        weakest = min(rows, key=lambda row: row["f1"])
        parts.append(f"lowest F1 {weakest['f1'] * 100:.2f}% ({weakest.get('label')})")
    return " · ".join(parts)


def parity_of(info: ModelInfo) -> str:
    """What a model's `parity` compares: an int8 twin against its float model, else onnxruntime
    against TensorFlow (docs/model-contract.md)."""
    if info.precision == "int8" or info.parity_reference == "float":
        return "int8 against the float model"
    return "onnxruntime against TensorFlow"


def details(info: ModelInfo, source: str, provider: str) -> list[tuple[str, str]]:
    """(key, value) lines describing a model, empty values left out."""
    precision = "float"
    if info.precision == "int8":
        parity = "" if info.parity is None else f"; largest difference from it {info.parity:.1e}"
        precision = f"int8 ({info.path.name}); float model {metrics(info.float_metrics or {})}{parity}"
    lines = [
        ("precision", precision),
        ("file", f"{info.path} ({source})"),
        ("inputs", signature(info.inputs)),
        ("outputs", signature(info.outputs)),
        ("labels", ", ".join(info.labels)),
        ("test metrics", metrics(info.metrics)),
        ("evaluation", evaluation(info.evaluation)),
        ("dataset", dataset(info.dataset) if info.dataset else ""),
        ("training", readable(info.config) if info.config else ""),
        ("history", f"{len(info.history)} epochs recorded" if info.history else ""),
        ("preprocessing", preprocessing(info.preprocessing)),
        ("trained", info.created.replace("T", " ")),
        ("parity", "" if info.parity is None else f"{info.parity:.1e} (largest difference, {parity_of(info)})"),
        ("runs on", provider),
        ("versions", readable(info.versions) if info.versions else ""),
    ]
    return [(key, value) for key, value in lines if value]
