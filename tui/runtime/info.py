"""What a model says about itself: its metadata (docs/model-contract.md) and signature."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

from tui.runtime.errors import ModelError
from tui.runtime.preprocessing import Preprocessing

Signature = list[tuple[str, list, str]]

# A quantised file is used in place of its float model only within these of its test metrics
# (docs/model-contract.md): 0.1 accuracy points, 0.5 nats of test ELBO.
BARS = {"accuracy": 0.001, "elbo": 0.5}


@dataclass(frozen=True)
class ModelInfo:
    """One exported model: metadata from the file, inputs and outputs from onnxruntime."""

    name: str
    path: Path
    task: str
    description: str
    labels: list[str]
    preprocessing: Preprocessing
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
    precision: str = "float"  # "int8" for a quantised file (`<name>.int8.onnx`)
    float_metrics: dict | None = None  # a quantised file's float model's metrics, as measured beside its own
    quantization: dict | None = None  # how a quantised file was made
    ood: dict | None = None  # how its out-of-distribution score is made and flagged (tui/runtime/ood.py)

    @property
    def within_bar(self) -> bool:
        """A quantised file whose test metrics are all within BARS of its float model's."""
        return self.precision == "int8" and meets_bar(self.metrics, self.float_metrics or {})

    @property
    def is_image_classifier(self) -> bool:
        """A classifier that takes images: what `dl-tui classify` can run."""
        return self.task == "classification" and self.preprocessing.is_image


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


def meets_bar(metrics: dict, float_metrics: dict) -> bool:
    """Whether every test metric is within its bar of the float model's (better is fine)."""
    shared = [key for key in float_metrics if key in metrics]
    try:
        return bool(shared) and all(
            float(float_metrics[key]) - float(metrics[key]) <= BARS["elbo" if "elbo" in key else "accuracy"]
            for key in shared)
    except (TypeError, ValueError):
        return False


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
        preprocessing=Preprocessing.from_metadata(_json(meta, "preprocessing", {}, dict, name), name),
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
        precision=meta.get("precision", "float"),
        float_metrics=_json(meta, "float_metrics", None, dict, name),
        quantization=_json(meta, "quantization", None, dict, name),
        ood=_json(meta, "ood", None, dict, name),
    )
