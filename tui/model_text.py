"""A model's metadata as people read it: signatures, sizes, metrics and `key: value` detail lines."""

from __future__ import annotations

from typing import Any

from tui.runtime import ModelInfo

SHORT = {"test_accuracy": "acc", "test_accuracy_original": "orig", "test_accuracy_inverted": "inv",
         "test_elbo": "ELBO"}


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
            parts.append(f"{short} {value * 100:.2f}%" if "accuracy" in key else f"{short} {value:.1f}")
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
    """The data set's name and sizes; its `source` is a path on the training machine, of no use here."""
    sizes = [f"{values[key]:,} {key}" for key in ("train", "test") if isinstance(values.get(key), int)]
    return " · ".join([str(values.get("name", "unknown")), *sizes])


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
        ("dataset", dataset(info.dataset) if info.dataset else ""),
        ("training", readable(info.config) if info.config else ""),
        ("history", f"{len(info.history)} epochs recorded" if info.history else ""),
        ("preprocessing", readable(info.preprocessing.metadata)),
        ("trained", info.created.replace("T", " ")),
        ("parity", "" if info.parity is None else f"{info.parity:.1e} (largest difference, {parity_of(info)})"),
        ("runs on", provider),
        ("versions", readable(info.versions) if info.versions else ""),
    ]
    return [(key, value) for key, value in lines if value]
