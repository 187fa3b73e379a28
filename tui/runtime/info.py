"""What a model says about itself: its metadata (docs/model-contract.md) and signature."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

from tui.runtime.errors import ModelError

Signature = list[tuple[str, list, str]]


@dataclass(frozen=True)
class ModelInfo:
    """One exported model: metadata from the file, inputs and outputs from onnxruntime."""

    name: str
    path: Path
    task: str
    description: str
    labels: list[str]
    preprocessing: dict
    metrics: dict
    history: list[dict]
    config: dict
    dataset: dict
    created: str
    versions: dict
    parity: float | None
    inputs: Signature
    outputs: Signature
    size_bytes: int

    @property
    def is_image_classifier(self) -> bool:
        """A classifier that takes images: what `dl-tui classify` can run."""
        return self.task == "classification" and self.preprocessing.get("kind") == "image"


def _json(meta: dict[str, str], key: str, default: Any, kind: type, name: str) -> Any:
    if key not in meta:
        return default
    try:
        value = json.loads(meta[key])
    except ValueError:
        raise ModelError(f"model {name}: metadata {key!r} is not valid JSON") from None
    if value is None:
        return default
    if not isinstance(value, kind):
        raise ModelError(f"model {name}: metadata {key!r} should be a JSON {kind.__name__}")
    return value


def _parity(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "null") else None
    except ValueError:
        return None


def _signature(args: list[ort.NodeArg]) -> Signature:
    return [(a.name, list(a.shape), a.type) for a in args]


def read_info(name: str, path: Path, session: ort.InferenceSession) -> ModelInfo:
    """Build a ModelInfo from a loaded session; missing keys get empty values."""
    meta = session.get_modelmeta().custom_metadata_map
    return ModelInfo(
        name=name,
        path=path,
        task=meta.get("task", ""),
        description=meta.get("description", ""),
        labels=[str(label) for label in _json(meta, "labels", [], list, name)],
        preprocessing=_json(meta, "preprocessing", {}, dict, name),
        metrics=_json(meta, "metrics", {}, dict, name),
        history=_json(meta, "history", [], list, name),
        config=_json(meta, "config", {}, dict, name),
        dataset=_json(meta, "dataset", {}, dict, name),
        created=meta.get("created", ""),
        versions=_json(meta, "versions", {}, dict, name),
        parity=_parity(meta.get("parity")),
        inputs=_signature(session.get_inputs()),
        outputs=_signature(session.get_outputs()),
        size_bytes=path.stat().st_size,
    )
