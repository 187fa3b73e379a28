"""What a model file promises (docs/model-contract.md): its metadata keys, the limits on what is
read, and the checks a model must pass before anything runs it.

Pure Python: no TensorFlow, Textual, onnx or onnxruntime, so both sides can import it. A model
is checked once, when it loads (`check_model`); its probabilities are checked on every run
(`probability_problem`), since only a run shows them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

# dl-train's defaults, which the Train screen offers too (trainer/specs.py uses these).
DEFAULT_MODEL = "cnn"
DEFAULT_EPOCHS = 10

# Metadata keys (`metadata_props`; every value a string, some a JSON document).
MODEL, TASK, DESCRIPTION, LABELS = "model", "task", "description", "labels"
PREPROCESSING, METRICS, HISTORY, CONFIG, DATASET = "preprocessing", "metrics", "history", "config", "dataset"
CREATED, VERSIONS, PARITY, OOD = "created", "versions", "parity", "ood"
PRECISION, FLOAT_METRICS, FLOAT_SHA256, QUANTIZATION = "precision", "float_metrics", "float_sha256", "quantization"
PARITY_REFERENCE, PARITY_OUTPUTS = "parity_reference", "parity_outputs"
# A folder model's (`dl-train folder`) per-class figures on its held-out test part: the JSON
# `dl-tui evaluate --format json` prints, less mistakes, errors and label issues. Kept apart
# from `metrics`, whose flat numbers the int8 bar compares.
EVALUATION = "evaluation"

# `preprocessing`'s `fit`: how a picture becomes the input. "mnist" (or absent): MNIST's steps
# (polarity read from the picture, crop, centring), as the shipped models; "stretch": the whole
# picture stretched to `size` with the `resize` filter, divided by 255, nothing else.
FIT, RESIZE = "fit", "resize"
FIT_MNIST, FIT_STRETCH = "mnist", "stretch"
FITS = (FIT_MNIST, FIT_STRETCH)
# `resize` filters by name (tui.runtime.preprocess.RESIZE_METHODS maps them to Pillow's).
RESIZES = ("bilinear", "bicubic", "nearest", "area")

CLASSIFICATION, ENCODER, DECODER = "classification", "encoder", "decoder"
IMAGE, FEATURES, LATENT = "image", "features", "latent"
PROBABILITIES = "probabilities"  # a classifier's output (else its first output)
FLOAT_TYPES = ("tensor(float)", "tensor(double)", "tensor(float16)")

# Limits on what is read from a file: the shipped files' largest value is 1.6 KB, their whole
# metadata 3 KB, their deepest JSON 4 levels. Past these a model is refused before its JSON is
# parsed (a deep document is a RecursionError in json, a huge one a MemoryError).
MAX_VALUE_BYTES = 1 << 20
MAX_METADATA_BYTES = 4 << 20
MAX_DEPTH = 32
MAX_LABELS = 100_000
# How far a row of probabilities may stray from a distribution. The shipped models' rows, int8
# twins' too (their softmax stays float), sum to 1 within 2.4e-7 on MNIST, inverted MNIST and noise.
TOLERANCE = 1e-3

Tensor = tuple[str, list, str]  # (name, shape: ints for fixed axes, else names or None, type)


class ContractError(ValueError):
    """What makes a model unusable, in one line that does not name the model."""


def megabytes(n: int) -> str:
    """A byte count for a message."""
    return f"{n / (1 << 20):.1f} MB" if n >= 1 << 20 else f"{n / 1024:.0f} KB"


def check_sizes(sizes: dict[str, int]) -> None:
    """Refuse metadata whose values (their lengths in bytes, by key) are out of proportion."""
    for key, size in sizes.items():
        if size > MAX_VALUE_BYTES:
            raise ContractError(f"metadata {key[:40]!r} is {megabytes(size)}, more than the "
                                f"{megabytes(MAX_VALUE_BYTES)} a value may have")
    total = sum(sizes.values()) + sum(len(key) for key in sizes)
    if total > MAX_METADATA_BYTES:
        raise ContractError(f"its metadata is {megabytes(total)}, more than the {megabytes(MAX_METADATA_BYTES)} allowed")


def depth(text: str, limit: int = MAX_DEPTH) -> int:
    """How deeply a JSON text nests its arrays and objects (brackets in strings do not count);
    the scan stops as soon as it passes `limit`."""
    level = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            level += 1
            if level > deepest:
                deepest = level
                if deepest > limit:
                    break
        elif char in "]}":
            level -= 1
    return deepest


def parse_json(key: str, text: str) -> Any:
    """One metadata value's JSON, within the limits; ContractError says why not."""
    if len(text) > MAX_VALUE_BYTES:
        raise ContractError(f"metadata {key!r} is {megabytes(len(text))}, more than the "
                            f"{megabytes(MAX_VALUE_BYTES)} a value may have")
    if depth(text) > MAX_DEPTH:
        raise ContractError(f"metadata {key!r} nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ContractError(f"metadata {key!r} is not valid JSON") from None


def fixed(dim: object) -> int | None:
    """An axis's fixed length, or None for a dynamic one."""
    return dim if isinstance(dim, int) and not isinstance(dim, bool) and dim > 0 else None


def batch_of(shape: Sequence[object]) -> int | None:
    """The fixed batch size of a signature (None: a dynamic batch axis)."""
    return fixed(shape[0]) if shape else None


def _shape(shape: Sequence[object]) -> str:
    return "[" + ", ".join(str(d) if fixed(d) else "N" for d in shape) + "]"


def output_of(outputs: Sequence[Tensor]) -> Tensor:
    """A classifier's probabilities: the output of that name, else its first."""
    return next((out for out in outputs if out[0] == PROBABILITIES), outputs[0])


def check_labels(labels: object) -> list[str]:
    """The labels as names: a list of distinct strings (or whole numbers)."""
    if not isinstance(labels, list):
        raise ContractError("its labels are not a list")
    if len(labels) > MAX_LABELS:
        raise ContractError(f"it has {len(labels):,} labels, more than {MAX_LABELS:,}")
    if any(isinstance(label, bool) or not isinstance(label, (str, int)) for label in labels):
        raise ContractError("its labels should be names (strings)")
    names = [str(label) for label in labels]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ContractError(f"label {name[:40]!r} appears more than once")
        seen.add(name)
    return names


def check_model(task: str, labels: Sequence[str], preprocessing: dict, channels: int,
                size: tuple[int, int], inputs: Sequence[Tensor], outputs: Sequence[Tensor]) -> None:
    """What the runtime needs of a model of this task, against its own metadata; ContractError
    names the first thing wrong. Tasks the runtime does not run are not checked."""
    if task not in (CLASSIFICATION, ENCODER, DECODER):
        return
    if len(inputs) != 1:
        raise ContractError(f"it has {len(inputs)} inputs; the contract allows one")
    if not outputs:
        raise ContractError("it has no outputs")
    name, shape, kind = inputs[0]
    if kind not in FLOAT_TYPES:
        raise ContractError(f"its input {name!r} is {kind}, not float")
    if not shape:
        raise ContractError(f"its input {name!r} has no batch axis")
    batch = batch_of(shape)
    prep = preprocessing.get("kind")
    if task == DECODER or prep == LATENT:
        _check_rank(name, shape, 2, "[N, latent dimensions]")
    elif prep == IMAGE:
        want = [size[0], size[1], channels]
        if len(shape) not in (3, 4) or (len(shape) == 3 and channels != 1):
            raise ContractError(f"its input {name!r} is {_shape(shape)}; its preprocessing asks "
                                f"for images [N, {want[0]}, {want[1]}, {channels}]")
        for axis, (dim, wanted) in enumerate(zip(shape[1:], want, strict=False), 1):
            if fixed(dim) and dim != wanted:
                raise ContractError(f"its input {name!r} is {_shape(shape)}, but its preprocessing says "
                                    f"[N, {want[0]}, {want[1]}, {channels}] (axis {axis})")
    elif prep == FEATURES:
        _check_rank(name, shape, 2, "[N, features]")
        count = len(preprocessing.get("features") or [])
        if count and fixed(shape[1]) and shape[1] != count:
            raise ContractError(f"its input {name!r} is {_shape(shape)}, but its preprocessing "
                                f"names {count} features")
    elif task == CLASSIFICATION:
        raise ContractError(f"its preprocessing kind is {str(prep)[:40]!r}, none of image, features or latent")
    for out, out_shape, out_kind in outputs:
        if out_kind not in FLOAT_TYPES:
            raise ContractError(f"its output {out!r} is {out_kind}, not float")
        if not out_shape:
            raise ContractError(f"its output {out!r} is a scalar, with no batch axis")
        if batch_of(out_shape) != batch and batch_of(out_shape) is not None:
            raise ContractError(f"its output {out!r} has a batch of {out_shape[0]}, its input of "
                                f"{batch or 'any size'}")
    if task == CLASSIFICATION:
        out, out_shape, _ = output_of(outputs)
        if len(out_shape) != 2:
            raise ContractError(f"its output {out!r} is {_shape(out_shape)} ({len(out_shape)}-d); a "
                                f"classifier's is [N, classes]")
        if not labels:
            raise ContractError("it is a classifier with no labels")
        width = fixed(out_shape[1])
        if width is not None and width != len(labels):
            raise ContractError(f"its output {out!r} has {width} classes but {len(labels)} labels")


def _fraction(value: object) -> bool:
    number = _number(value)
    return number is not None and 0.0 <= number <= 1.0


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_evaluation(value: object) -> None:
    """An `evaluation` value (docs/model-contract.md): count, accuracy and macro_f1, per-class
    figures and a square confusion matrix over labels; ContractError names the first fault."""
    if not isinstance(value, dict):
        raise ContractError(f"metadata {EVALUATION!r} should be a JSON object")
    for key in ("accuracy", "macro_f1"):
        if key in value and not _fraction(value[key]):
            raise ContractError(f"evaluation {key!r} should be a fraction from 0 to 1")
    if "count" in value and not _count(value["count"]):
        raise ContractError("evaluation 'count' should be a whole number")
    per_class = value.get("per_class", [])
    if not isinstance(per_class, list) or not all(isinstance(row, dict) for row in per_class):
        raise ContractError("evaluation 'per_class' should be a list of objects")
    for row in per_class:
        if any(key in row and not _fraction(row[key]) for key in ("precision", "recall", "f1")):
            raise ContractError(f"evaluation 'per_class' of {str(row.get('label'))[:40]!r}: "
                                "precision, recall and f1 should be fractions from 0 to 1")
    confusion = value.get("confusion", {})
    if not isinstance(confusion, dict):
        raise ContractError("evaluation 'confusion' should be an object {labels, matrix}")
    labels, matrix = confusion.get("labels", []), confusion.get("matrix", [])
    if not isinstance(labels, list) or not isinstance(matrix, list) or len(matrix) != len(labels) or not all(
            isinstance(row, list) and len(row) == len(labels) and all(map(_count, row)) for row in matrix):
        raise ContractError("evaluation 'confusion' should have a square matrix of counts, one row "
                            "and column per label")


def check_dataset(value: object) -> None:
    """A `dataset` value: an object; a folder model's summary (`name` "folder") has its
    classes as names and its counts as whole numbers. ContractError names the first fault."""
    if not isinstance(value, dict):
        raise ContractError(f"metadata {DATASET!r} should be a JSON object")
    if value.get("name") != "folder":
        return
    classes = value.get("classes", [])
    if not isinstance(classes, list) or not all(isinstance(name, str) for name in classes):
        raise ContractError("dataset 'classes' should be a list of names")
    for key in ("train", "val", "test", "skipped"):
        if key in value and not _count(value[key]):
            raise ContractError(f"dataset {key!r} should be a whole number")
    counts = value.get("counts", {})
    if not isinstance(counts, dict) or not all(
            isinstance(split, dict) and all(map(_count, split.values())) for split in counts.values()):
        raise ContractError("dataset 'counts' should be {split: {class: count}}")
    if "layout" in value and value["layout"] not in ("classes", "splits"):
        raise ContractError("dataset 'layout' should be classes or splits")


def _check_rank(name: str, shape: Sequence[object], rank: int, wanted: str) -> None:
    if len(shape) != rank:
        raise ContractError(f"its input {name!r} is {_shape(shape)}; the contract asks for {wanted}")


def check_probabilities(values: Any, rows: int, labels: int) -> None:
    """A run's probabilities: `rows` rows of `labels` each (a dynamic axis is only known now)."""
    shape: tuple[int, ...] = tuple(getattr(values, "shape", ()))
    if len(shape) != 2 or shape[0] != rows or shape[1] != labels:
        raise ContractError(f"it returned probabilities of shape {list(shape)} for {rows} images "
                            f"and {labels} labels")


def probability_problem(values: Sequence[float]) -> str | None:
    """Why one row of a classifier's output is no probability distribution, or None."""
    if any(math.isnan(v) for v in values):
        return "model produced NaN"
    if not all(map(math.isfinite, values)):
        return "model produced infinity"
    low, high, total = min(values, default=0.0), max(values, default=0.0), math.fsum(values)
    if low < -TOLERANCE:
        return f"model produced a negative probability ({low:.3g})"
    if high > 1 + TOLERANCE:
        return f"model produced a probability above 1 ({high:.3g})"
    if abs(total - 1) > TOLERANCE:
        return f"model's probabilities sum to {total:.3g}, not 1"
    return None


# Int8 twins ----------------------------------------------------------------------------------
# `<name>.onnx` is a float model; `<name>.int8.onnx` beside it is its quantised twin.
ONNX_SUFFIX = ".onnx"
INT8_SUFFIX = ".int8.onnx"
INT8_MODEL_SUFFIX = INT8_SUFFIX.removesuffix(ONNX_SUFFIX)  # a twin by model name: `cnn.int8`
INT8 = "int8"  # a twin's `precision`
# The most a twin may lose against its float model, by kind of metric: 0.1 accuracy points,
# 0.5 nats of test ELBO. Higher is better for both; a twin that does better is fine.
INT8_BARS = {"accuracy": 0.001, "elbo": 0.5}


def int8_name(model: str) -> str:
    """The file of a model's int8 twin: `cnn` (or `cnn.onnx`) -> `cnn.int8.onnx`."""
    return model.removesuffix(ONNX_SUFFIX) + INT8_SUFFIX


def is_int8_file(filename: str) -> bool:
    """Whether FILENAME is an int8 twin (`cnn.int8.onnx`)."""
    return filename.endswith(INT8_SUFFIX)


def float_model_of(filename: str) -> str:
    """The model a file belongs to: `cnn.int8.onnx` and `cnn.onnx` -> `cnn`."""
    if filename.endswith(INT8_SUFFIX):
        return filename[: -len(INT8_SUFFIX)]
    return filename.removesuffix(ONNX_SUFFIX)


def _bar_for(key: str) -> float | None:
    return next((bar for kind, bar in INT8_BARS.items() if kind in key), None)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def meets_bar(metrics: object, float_metrics: object) -> bool:
    """Whether a twin's test metrics are each within INT8_BARS of its float model's.

    Only the numbers at the top level whose names say accuracy or ELBO are compared (nested
    objects, strings and other figures are left alone); with none in common, or a NaN among
    them, the twin does not meet the bar. Never raises."""
    if not isinstance(metrics, dict) or not isinstance(float_metrics, dict):
        return False
    compared = 0
    for key, reference in float_metrics.items():
        bar = _bar_for(str(key))
        ours, theirs = _number(metrics.get(key)), _number(reference)
        if bar is None or ours is None or theirs is None:
            continue
        if not (math.isfinite(ours) and math.isfinite(theirs)) or theirs - ours > bar:
            return False
        compared += 1
    return compared > 0


# The latent map: the encoded test digits beside the VAE encoder --------------------------------
# An .npz of three arrays: LATENT_MEAN [N, LATENT_DIM] float16, LATENT_LABEL [N] uint8, and
# LATENT_ENCODER_SHA256, a 0-d string: the SHA-256 of the encoder file that made the means.
LATENT_MAP_FILE = "vae-latent-map.npz"
LATENT_MEAN, LATENT_LABEL, LATENT_ENCODER_SHA256 = "mean", "label", "encoder_sha256"
LATENT_DIM = 2
LATENT_MEAN_DTYPE, LATENT_LABEL_DTYPE = "float16", "uint8"


def write_latent_map(file: Any, means: Any, labels: Any, encoder_sha256: str) -> None:
    """Write a latent map to FILE (a path or an open binary file; numpy adds `.npz` to a path
    without it); ContractError if the arrays are not [N, 2] means and N labels."""
    import numpy as np

    means, labels = np.asarray(means, LATENT_MEAN_DTYPE), np.asarray(labels, LATENT_LABEL_DTYPE)
    check_latent_map(means.shape, labels.shape)
    np.savez_compressed(file, **{LATENT_MEAN: means, LATENT_LABEL: labels,
                                 LATENT_ENCODER_SHA256: np.array(encoder_sha256)})


def read_latent_map(path: Any) -> tuple[Any, Any, str]:
    """(means [N, 2] float32, labels [N] uint8, the encoder's SHA-256) from a latent map file;
    ContractError says why not, in one line."""
    import numpy as np

    name = getattr(path, "name", LATENT_MAP_FILE)
    try:
        with np.load(path, allow_pickle=False) as data:
            means = data[LATENT_MEAN].astype(np.float32)
            labels = data[LATENT_LABEL].astype(np.uint8)
            made_from = str(data[LATENT_ENCODER_SHA256])
    except Exception as error:  # noqa: BLE001 (a damaged or foreign file: numpy, zipfile or OS errors; one line)
        raise ContractError(f"cannot read {name}: {error}") from None
    check_latent_map(means.shape, labels.shape, name)
    return means, labels, made_from


def check_latent_map(means_shape: Sequence[int], labels_shape: Sequence[int], name: str = LATENT_MAP_FILE) -> None:
    """The shapes a latent map's arrays must have."""
    if len(means_shape) != 2 or means_shape[1] != LATENT_DIM or tuple(labels_shape) != (means_shape[0],):
        raise ContractError(f"{name} should hold means [N, {LATENT_DIM}] and N labels")


# Progress events: `dl-train ... --progress jsonl` writes one per line --------------------------
# The wire format is `{"event": KIND, field: value, ...}` in the field order below; a reader
# ignores keys it does not know, and a missing field takes its default.


@dataclass(frozen=True)
class Event:
    """One progress event; each kind is a subclass with its own fields."""

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """The event as the JSON object on the wire."""
        return {"event": self.kind, **{f.name: getattr(self, f.name) for f in fields(self)}}

    def to_json(self) -> str:
        """One line of JSON, without the newline."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        """The event of the kind DATA names ("event"), from its known keys; ContractError if
        it names no kind of event."""
        name = data.get("event")
        kind = EVENTS.get(name) if isinstance(name, str) else None
        if kind is None or (cls is not Event and kind is not cls):
            raise ContractError(f"not a progress event: {str(name)[:40]!r}")
        known = {f.name for f in fields(kind)}
        return kind(**{key: value for key, value in data.items() if key in known})

    @classmethod
    def from_json(cls, line: str | bytes) -> Event:
        """One line of the stream as its event; ContractError if it is not one."""
        try:
            data = json.loads(line)
        except (ValueError, RecursionError):
            raise ContractError("not JSON") from None
        if not isinstance(data, dict):
            raise ContractError("not a JSON object")
        return cls.from_dict(data)


@dataclass(frozen=True)
class Start(Event):
    """A model's training begins."""

    kind: ClassVar[str] = "start"
    model: str = ""
    epochs: int = 0
    batch_size: int = 0
    steps: int = 0  # batches per epoch
    train_size: int = 0
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EpochStart(Event):
    """An epoch begins (1-based)."""

    kind: ClassVar[str] = "epoch_start"
    model: str = ""
    epoch: int = 0
    epochs: int = 0


@dataclass(frozen=True)
class Batch(Event):
    """A training step ended; at most a few a second, and always the epoch's last."""

    kind: ClassVar[str] = "batch"
    model: str = ""
    epoch: int = 0
    step: int = 0  # 1-based
    steps: int = 0
    loss: float | None = None
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EpochEnd(Event):
    """An epoch ended: training figures and the validation set's."""

    kind: ClassVar[str] = "epoch_end"
    model: str = ""
    epoch: int = 0
    epochs: int = 0
    loss: float | None = None
    metrics: dict = field(default_factory=dict)
    val_metrics: dict = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class Export(Event):
    """A model file was written, after its checks."""

    kind: ClassVar[str] = "export"
    model: str = ""
    path: str = ""
    parity: float | None = None


@dataclass(frozen=True)
class Done(Event):
    """A model is trained and exported: its test metrics."""

    kind: ClassVar[str] = "done"
    model: str = ""
    metrics: dict = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class Error(Event):
    """The run failed: one line for people."""

    kind: ClassVar[str] = "error"
    message: str = ""


EVENTS: dict[str, type[Event]] = {kind.kind: kind for kind in (Start, EpochStart, Batch, EpochEnd, Export, Done, Error)}


def event_from_json(line: str | bytes) -> Event:
    """One line of `dl-train --progress jsonl` as its typed event; ContractError if it is not one."""
    return Event.from_json(line)
