"""Export a Keras computation to ONNX: convert, check, compare with onnxruntime, write atomically."""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from trainer.outdir import write_atomic
from trainer.specs import onnx_file
from tui import contract

PARITY_TOLERANCE = 1e-4
OPSET = 17


class ExportError(Exception):
    """The model could not be exported faithfully; nothing was written."""


@dataclass
class ExportSpec:
    """One ONNX file: a function from named inputs to named outputs, and real inputs to check it on."""

    name: str
    function: Callable  # a tf.function with a named input_signature returning {output_name: tensor}
    parity_inputs: dict[str, np.ndarray]
    metadata: dict = field(default_factory=dict)
    # MNIST (a trainer.data.Split): where its spec (trainer/specs.py) says so, give it an OOD head
    # and write `<name>.int8.onnx` where the twin meets the bar (trainer.quantize)
    quantize_data: object | None = None


def export(spec: ExportSpec, out_dir: Path) -> tuple[Path, float]:
    """Convert, check and write `out_dir/<name>.onnx`; returns the path and the parity figure."""
    import onnx
    import tf2onnx

    proto, _ = tf2onnx.convert.from_function(
        spec.function, input_signature=spec.function.input_signature, opset=OPSET
    )
    _name_batch_axis(proto)
    onnx.checker.check_model(proto)
    parity = _parity(spec, proto.SerializeToString())
    meta = {**spec.metadata, contract.PARITY: f"{parity:.2e}", contract.CREATED: _now(),
            contract.VERSIONS: json.dumps(versions())}
    write_metadata(proto, meta)
    proto.producer_name = "dl-train"
    path = out_dir / f"{spec.name}{contract.ONNX_SUFFIX}"
    write_atomic(path, proto.SerializeToString())
    described = onnx_file(spec.name)
    if spec.quantize_data is not None and described is not None and described.ood:
        _ood(path, spec.quantize_data)
    if spec.quantize_data is not None and described is not None and described.int8:
        _quantize(path, spec.quantize_data)
    return path, parity


def write_metadata(proto, meta: dict) -> None:
    """Set PROTO's metadata_props to META (tui/contract.py's keys; a value that is not a string
    is written as JSON)."""
    import onnx

    onnx.helper.set_model_props(proto, {key: value if isinstance(value, str) else json.dumps(value)
                                        for key, value in meta.items()})


def _ood(path: Path, data) -> None:
    """The OOD head and its threshold (trainer/ood.py, docs/ood.md), before the twin is made
    so the twin has it too. Like the twin, a head that cannot be made never fails the run:
    the model is then written without one, and dl-tui shows no warning for it."""
    from trainer.ood import attach

    try:
        attach(path, data)
    except Exception as error:  # noqa: BLE001 (OodError, or scikit-learn's or onnxruntime's own)
        print(f"warning: {path.name}: no OOD head: {error}", file=sys.stderr)


def _quantize(path: Path, data) -> None:
    """The int8 twin of a float model just written, or none: a twin of the previous float model
    would be ignored by dl-tui (its float_sha256 no longer matches), so it is removed. The float
    model is what the run is for: a twin that misses the bar or fails to build never fails it."""
    from trainer.quantize import int8_path, quantize_file

    try:
        quantize_file(path, data)
    except Exception:  # noqa: BLE001 (QuantizeError: missed the bar; or onnxruntime's own on an odd graph)
        int8_path(path).unlink(missing_ok=True)


def _name_batch_axis(proto) -> None:
    # tf2onnx names the dynamic axis "unk__N"; call it what it is.
    for value in list(proto.graph.input) + list(proto.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].dim_param = "batch"


def _parity(spec: ExportSpec, model_bytes: bytes) -> float:
    """Largest absolute difference between TensorFlow and onnxruntime on the spec's real inputs."""
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    expected = {k: np.asarray(v) for k, v in spec.function(**spec.parity_inputs).items()}
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, spec.parity_inputs), strict=False))
    if set(got) != set(expected):
        raise ExportError(f"{spec.name}: ONNX outputs {sorted(got)} differ from the model's {sorted(expected)}")
    worst = max(float(np.max(np.abs(got[k] - expected[k]))) for k in expected)
    if not np.isfinite(worst) or worst > PARITY_TOLERANCE:
        raise ExportError(
            f"{spec.name}: onnxruntime differs from TensorFlow by {worst:.2e} (limit {PARITY_TOLERANCE:.0e}); not written"
        )
    return worst


def versions() -> dict[str, str]:
    """Versions of the libraries that made the file."""
    import keras
    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tf2onnx": tf2onnx.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
