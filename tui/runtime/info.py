"""What a model says about itself: its metadata (docs/model-contract.md) and signature."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

from tui import contract as c
from tui.contract import ContractError
from tui.runtime.errors import UnusableModel
from tui.runtime.preprocessing import Preprocessing

Signature = list[tuple[str, list, str]]

# A quantised file is used in place of its float model only within these of its test metrics
# (docs/model-contract.md): the contract's bar, the one the trainer writes twins by.
BARS = c.INT8_BARS
meets_bar = c.meets_bar


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
    parity_reference: str = "tensorflow"  # what `parity` was measured against: "float" for an int8 twin
    evaluation: dict | None = None  # a folder model's per-class figures on its test part (`dl-tui evaluate`'s JSON)

    @property
    def batch(self) -> int | None:
        """The model's fixed batch size (the runtime feeds it that many images a run), or None."""
        return c.batch_of(self.inputs[0][1]) if self.inputs else None

    @property
    def within_bar(self) -> bool:
        """A quantised file whose test metrics are all within BARS of its float model's."""
        return self.precision == c.INT8 and meets_bar(self.metrics, self.float_metrics or {})

    @property
    def is_image_classifier(self) -> bool:
        """A classifier that takes images: what `dl-tui classify` can run."""
        return self.task == "classification" and self.preprocessing.is_image


def _json(meta: dict[str, str], key: str, default: Any, kind: type) -> Any:
    if key not in meta:
        return default
    value = c.parse_json(key, meta[key])
    if value is None:
        return default
    if not isinstance(value, kind):
        raise ContractError(f"metadata {key!r} should be a JSON {'list' if kind is list else 'object'}")
    return value


def _parity(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "null") else None
    except ValueError:
        return None


def _signature(args: list[ort.NodeArg]) -> Signature:
    return [(a.name, list(a.shape), a.type) for a in args]


def read_info(name: str, path: Path, session: ort.InferenceSession) -> ModelInfo:
    """Build a ModelInfo from a loaded session and check it against the contract; missing keys
    get empty values. UnusableModel names the first thing the runtime cannot use."""
    meta = session.get_modelmeta().custom_metadata_map
    try:
        # Sizes first: nothing out of proportion is parsed.
        c.check_sizes({key: len(value) for key, value in meta.items()})
        labels = c.check_labels(_json(meta, c.LABELS, [], list))
        preprocessing = Preprocessing.from_metadata(_json(meta, c.PREPROCESSING, {}, dict), name)
        info = ModelInfo(
            name=name,
            path=path,
            task=meta.get(c.TASK, ""),
            description=meta.get(c.DESCRIPTION, ""),
            labels=labels,
            preprocessing=preprocessing,
            metrics=_json(meta, c.METRICS, {}, dict),
            history=_json(meta, c.HISTORY, [], list),
            config=_json(meta, c.CONFIG, {}, dict),
            dataset=_json(meta, c.DATASET, {}, dict),
            created=meta.get(c.CREATED, ""),
            versions=_json(meta, c.VERSIONS, {}, dict),
            parity=_parity(meta.get(c.PARITY)),
            inputs=_signature(session.get_inputs()),
            outputs=_signature(session.get_outputs()),
            size_bytes=path.stat().st_size,
            precision=meta.get(c.PRECISION, "float"),
            float_metrics=_json(meta, c.FLOAT_METRICS, None, dict),
            quantization=_json(meta, c.QUANTIZATION, None, dict),
            ood=_json(meta, c.OOD, None, dict),
            parity_reference=meta.get(c.PARITY_REFERENCE, "tensorflow"),
            evaluation=_json(meta, c.EVALUATION, None, dict),
        )
        c.check_dataset(info.dataset)
        if info.evaluation is not None:
            c.check_evaluation(info.evaluation)
        c.check_model(info.task, info.labels, preprocessing.metadata, preprocessing.channels,
                      preprocessing.size, info.inputs, info.outputs)
    except ContractError as error:
        raise UnusableModel(name, str(error)) from None
    return info
