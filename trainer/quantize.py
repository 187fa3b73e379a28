"""Static INT8 quantisation: `<name>.int8.onnx` beside an exported `<name>.onnx`, same contract.

Calibrated on MNIST training images (QDQ format, int8 weights per output channel, uint8
activations), checked on the test set with onnxruntime against the float model in the same
run, and written only if it stays within the bar (tui/contract.py: INT8_BARS, meets_bar). Its metadata is the float model's,
plus its own test metrics and what it was made from (docs/model-contract.md).

    python -m trainer.quantize [--data ../shared/data/mnist.npz] [--models exported] [NAME...]

No TensorFlow: onnx and onnxruntime's quantisation tools only (the `train` extra).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from trainer.graph import classifier_rewrites, decoder_rewrites
from trainer.ood import NODE_PREFIX
from trainer.outdir import write_atomic
from trainer.specs import OnnxFile, onnx_file, quantizable
from tui import contract

CALIBRATION_IMAGES = 512
LATENT_CALIBRATION = 4096  # latent points are cheap, and more of them tighten the decoder's ranges
# The most a quantised model may lose against its float model, per metric: the contract's.
BARS = contract.INT8_BARS
meets_bar = contract.meets_bar
# Which recipe (trainer/specs.py OnnxFile.int8) makes which model's twin: see _recipe.
RECIPES = ("classifier", "binarised-classifier", "decoder")


class QuantizeError(Exception):
    """The quantised model missed the bar or could not be made; nothing was written."""


@dataclass(frozen=True)
class Result:
    path: Path
    metrics: dict
    float_metrics: dict
    parity: float
    written: bool


def int8_path(float_path: Path) -> Path:
    """`cnn.onnx` -> `cnn.int8.onnx`."""
    return float_path.with_name(contract.int8_name(float_path.name))


def quantize_file(float_path: Path, data, write_failed: bool = False, recipe: _Recipe | None = None) -> Result:
    """Quantise one exported model with `data` (a trainer.data.Split of MNIST), or with RECIPE
    (a folder model's: folder_recipe); write it atomically if it meets the bar. QuantizeError
    if it does not (unless `write_failed`)."""
    import onnx

    model = onnx.load(str(float_path))
    meta = {p.key: p.value for p in model.metadata_props}
    name = meta.get(contract.MODEL, float_path.stem)
    rewrites = []
    if recipe is None:
        described = onnx_file(name)
        if described is None or described.int8 not in RECIPES:
            raise QuantizeError(f"{name}: no quantisation recipe (only {', '.join(quantizable())})")
        recipe = _recipe(described, float_path, data)
        if described.int8 == "decoder":
            model, rewrites = decoder_rewrites(model)
        elif described.int8 == "classifier":
            model, rewrites = classifier_rewrites(model)
    quantized = _quantize(model, recipe)
    float_session, int8_session = _session(float_path.read_bytes()), _session(quantized)
    names = [out.name for out in float_session.get_outputs()]
    each = {name: float(np.max(np.abs(a - b))) for name, a, b in zip(
        names, float_session.run(names, recipe.parity), int8_session.run(names, recipe.parity), strict=False)}
    # The OOD score is a logit, not an answer: its difference is recorded apart.
    score = (json.loads(meta.get(contract.OOD) or "{}") or {}).get("output")
    parity = max(value for name, value in each.items() if name != score)
    float_metrics, metrics = recipe.evaluate(float_session), recipe.evaluate(int8_session)
    result = Result(int8_path(float_path), metrics, float_metrics, parity, False)
    if not meets_bar(metrics, float_metrics) and not write_failed:
        raise QuantizeError(f"{name}: int8 test metrics {_short(metrics)} miss the bar against "
                            f"float {_short(float_metrics)} ({BARS}); not written")
    proto = onnx.load_from_string(quantized)
    info = {
        "method": "onnxruntime.quantization.quantize_static", "format": "QDQ",
        "weights": "int8, symmetric, per output channel", "activations": "uint8, MinMax",
        "calibration": recipe.calibration, "excluded": recipe.excluded, "graph_rewrites": rewrites,
        "bars": BARS,
    }
    meta.update({
        contract.PRECISION: contract.INT8,
        contract.METRICS: json.dumps(metrics),
        contract.FLOAT_METRICS: json.dumps(float_metrics),
        contract.PARITY: f"{parity:.2e}",
        contract.PARITY_REFERENCE: "float",
        contract.PARITY_OUTPUTS: json.dumps({name: float(f"{value:.2e}") for name, value in each.items()}),
        contract.FLOAT_SHA256: hashlib.sha256(float_path.read_bytes()).hexdigest(),
        contract.QUANTIZATION: json.dumps(info),
        contract.CREATED: datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
    })
    versions = json.loads(meta.get(contract.VERSIONS, "{}") or "{}")
    versions.update(_versions())
    meta[contract.VERSIONS] = json.dumps(versions)
    onnx.helper.set_model_props(proto, meta)
    proto.producer_name = "dl-train quantize"
    onnx.checker.check_model(proto)
    write_atomic(result.path, proto.SerializeToString())
    return Result(result.path, metrics, float_metrics, parity, True)


@dataclass
class _Recipe:
    feeds: list[dict[str, np.ndarray]]  # calibration batches
    parity: dict[str, np.ndarray]
    evaluate: object  # session -> metrics
    calibration: dict
    excluded: list[str]
    op_types_float_output: list[str]


def _recipe(described: OnnxFile, float_path: Path, data) -> _Recipe:
    rng = np.random.default_rng(0)
    count = min(CALIBRATION_IMAGES, len(data.x_train))
    picked = rng.choice(len(data.x_train), count, replace=False)
    train = (data.x_train[picked].astype(np.float32) / 255.0)[..., None]
    test = (data.x_test.astype(np.float32) / 255.0)[..., None]
    source = {"data": "MNIST training images", "count": count, "seed": 0}
    if described.int8 == "classifier":
        if described.both_polarities:  # it reads both polarities: calibrate on both
            train[: count // 2] = 1.0 - train[: count // 2]
            source["inverted"] = count // 2

        def evaluate(session):
            original = _accuracy(session, test, data.y_test)
            if not described.both_polarities:
                return {"test_accuracy": original}
            inverted = _accuracy(session, 1.0 - test, data.y_test)
            return {"test_accuracy": (original + inverted) / 2, "test_accuracy_original": original,
                    "test_accuracy_inverted": inverted}

        # Softmax and the dense layers' outputs stay float: probabilities in 1/255 steps would
        # read 0 for every unlikely class in JSON and CSV. The OOD head (trainer/ood.py, every node
        # under its NODE_PREFIX, whatever the head) is float too: _quantize leaves it out.
        return _Recipe(_batches({"image": train}), {"image": test[:256]}, evaluate, source,
                       ["Softmax"],
                       ["Gemm", "MatMul"])
    binary_train, binary_test = (train > 0.5).astype(np.float32), (test > 0.5).astype(np.float32)
    if described.int8 == "binarised-classifier":
        return _Recipe(_batches({"image": binary_train}), {"image": binary_test[:256]},
                       lambda s: {"test_accuracy": _accuracy(s, binary_test, data.y_test)},
                       # the dense layers stay float: the 2-D latent is too coarse in uint8
                       {**source, "binarize": 0.5}, ["Gemm", "MatMul", "Softmax"], [])
    # vae-decoder: latent points the encoder gives real training images, sampled as in training
    encoder = _session((float_path.parent / "vae-encoder.onnx").read_bytes())
    picked = rng.choice(len(data.x_train), min(LATENT_CALIBRATION, len(data.x_train)), replace=False)
    binary_train = (data.x_train[picked] > 127.5).astype(np.float32)[..., None]
    source["count"] = len(picked)
    mean, logvar = encoder.run(["mean", "logvar"], {"image": binary_train})
    z = (mean + np.exp(0.5 * logvar) * rng.standard_normal(mean.shape)).astype(np.float32)
    # Kept in float: the dense layer and the last layer's tap sum (their int8 error costs ELBO,
    # their time is small); the last layer's channel product runs int8 with a float output.
    return _Recipe(_batches({"z": z}), {"z": z[:256]},
                   lambda s: {"test_elbo": elbo(encoder, s, binary_test)},
                   {**source, "binarize": 0.5, "latent": "encoder mean + exp(logvar/2) * N(0, 1)"},
                   ["Gemm", "taps"], ["MatMul"])


def folder_recipe(calibration: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, classes: int) -> _Recipe:
    """A `dl-train folder` model's twin (trainer/folder_training.py): calibrated on its training
    pictures (float [N, H, W, C] in [0, 1]), checked on its held-out test pictures; softmax
    and the dense layer stay float, as the MNIST classifiers' do."""
    def evaluate(session):
        name = session.get_inputs()[0].name
        probs = np.concatenate([session.run(None, {name: x_test[i : i + 500]})[0] for i in range(0, len(x_test), 500)])
        predicted = probs.argmax(axis=1)
        f1s = []
        for c in range(classes):
            tp, said, support = np.sum((predicted == c) & (y_test == c)), np.sum(predicted == c), np.sum(y_test == c)
            if support:
                precision, recall = (tp / said if said else 0.0), tp / support
                f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
        return {"test_accuracy": float(np.mean(predicted == y_test)), "test_macro_f1": float(np.mean(f1s)) if f1s else 0.0}

    source = {"data": "training pictures", "count": len(calibration), "seed": 0}
    return _Recipe(_batches({"image": calibration.astype(np.float32)}), {"image": x_test[:256].astype(np.float32)}, evaluate,
                   source, ["Softmax"], ["Gemm", "MatMul"])


def _quantize(model, recipe: _Recipe) -> bytes:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(recipe.feeds)

        def get_next(self):
            return next(self.batches, None)

    with tempfile.TemporaryDirectory(prefix="dl-train-quantize-") as tmp:
        source, prepared, target = (Path(tmp) / f for f in ("float.onnx", "pre.onnx", "int8.onnx"))
        onnx.save(model, str(source))
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        nodes = onnx.load(str(prepared)).graph.node
        excluded = [n.name for n in nodes if n.op_type in recipe.excluded or n.name.startswith(NODE_PREFIX)
                    or any(n.name.endswith("/" + tag) for tag in recipe.excluded)]
        recipe.excluded = excluded
        quantize_static(
            str(prepared), str(target), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded,
            extra_options={"OpTypesToExcludeOutputQuantization": recipe.op_types_float_output},
        )
        return target.read_bytes()


def _batches(feeds: dict[str, np.ndarray], size: int = 64) -> list[dict[str, np.ndarray]]:
    (key, value), = feeds.items()
    return [{key: value[i : i + size]} for i in range(0, len(value), size)]


def _session(model: bytes):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _accuracy(session, x: np.ndarray, y: np.ndarray) -> float:
    name = session.get_inputs()[0].name
    probs = np.concatenate([session.run(None, {name: x[i : i + 500]})[0] for i in range(0, len(x), 500)])
    return float(np.mean(probs.argmax(axis=1) == y))


def elbo(encoder, decoder, x: np.ndarray, seed: int = 0) -> float:
    """Single-sample Monte Carlo ELBO over X (as the CVAE tutorial reports it); the same `seed`
    for the float and the int8 decoder, so their difference is the decoder's alone."""
    rng = np.random.default_rng(seed)
    log2pi = np.log(2 * np.pi)
    total = 0.0
    for i in range(0, len(x), 500):
        batch = x[i : i + 500]
        mean, logvar = encoder.run(["mean", "logvar"], {"image": batch})
        z = (rng.standard_normal(mean.shape) * np.exp(logvar * 0.5) + mean).astype(np.float32)
        (logits,) = decoder.run(None, {"z": z})
        cross_ent = np.maximum(logits, 0) - logits * batch + np.log1p(np.exp(-np.abs(logits)))
        logpz = np.sum(-0.5 * (z**2 + log2pi), axis=1)
        logqz_x = np.sum(-0.5 * ((z - mean) ** 2 * np.exp(-logvar) + logvar + log2pi), axis=1)
        total += float(np.sum(-cross_ent.sum(axis=(1, 2, 3)) + logpz - logqz_x))
    return total / len(x)


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def _short(metrics: dict) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=quantizable(), help="models to quantise")
    parser.add_argument("--data", default=None, help="mnist.npz or a folder of MNIST IDX files")
    parser.add_argument("--models", type=Path, default=Path("exported"))
    parser.add_argument("--write-failed", action="store_true", help="write even if it misses the bar")
    args = parser.parse_args(argv)
    from trainer.data import load_mnist

    data = load_mnist(args.data)
    status = 0
    for name in args.names:
        try:
            result = quantize_file(args.models / f"{name}.onnx", data, args.write_failed)
        except QuantizeError as error:
            print(f"{name}: {error}", file=sys.stderr)
            status = 1
            continue
        print(f"{result.path}: {_short(result.metrics)} (float {_short(result.float_metrics)}), "
              f"parity {result.parity:.2e}")
    return status


if __name__ == "__main__":
    sys.exit(main())
