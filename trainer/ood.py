"""The out-of-distribution head of an exported digit CNN (docs/ood.md).

The CNN itself is trained with outlier exposure (trainer/training.py). This adds a logistic
regression on its logits (INPUTS; the flattened convolutions and the penultimate layer can
be read too), fitted with the CNN frozen, so its probabilities do not change by a bit, to
tell MNIST training digits and printed digits from synthetic non-digits (trainer/outliers.py).
The head is added to the ONNX graph as one more output, `ood_score` [N] (the head's logit:
higher = less like a digit), and its threshold, the 95th percentile of the scores of MNIST
test images 0-4,999 (a 5% false-flag rate; for `cnn-invert` the higher of that and its
inverses' 95th percentile, so neither polarity is flagged more), goes into the `ood` metadata
key. A CNN trained with the energy loss (`dl-train cnn --outlier-loss energy`, its `config`
says so) gets its energy instead, -logsumexp of the logits, with no head to fit (`with_energy`).
`bench/ood_eval.py` measures it on test images 5,000-9,999 and on non-digits this never
trains on.

    python -m trainer.ood [--data ../shared/data/mnist.npz] [--models exported] [cnn cnn-invert]

then `python -m trainer.quantize` for the twins (`dl-train cnn` does both). No TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from trainer.outdir import write_atomic
from trainer.specs import onnx_file, ood_models
from tui import contract

OUTPUT = "ood_score"
FALSE_FLAG_RATE = 0.05
CALIBRATION = 5000  # MNIST test images 0-4,999 set the threshold; the rest are for measuring
TRAIN_DIGITS = 12000
PRINTED_WEIGHT = 3.0
C = 0.1  # inverse L2 strength of the logistic regression
PARITY_TOLERANCE = 1e-3
# What the head reads. The logits alone (10 numbers) beat all 650 activations once the CNN is
# trained with outlier exposure (docs/ood.md); "convolutions" (512) and "penultimate" (128) remain.
INPUTS = ("logits",)
# Node names the quantiser keeps in float (trainer/quantize.py): the head is tiny.
NODE_PREFIX = "ood_head/"


class OodError(Exception):
    """The head could not be added faithfully; nothing was written."""


def taps(model) -> list[str]:
    """The tensors the head reads (INPUTS of: flattened convolutions, penultimate layer, logits)."""
    found = _layers(model)
    return [found[name] for name in INPUTS]


def _layers(model) -> dict[str, str]:
    """The tensor names of the flattened convolutions, the penultimate layer and the logits."""
    nodes = model.graph.node
    producer = {out: node for node in nodes for out in node.output}
    softmax = next(n for n in nodes if n.op_type == "Softmax" and "probabilities" in n.output)
    logits = softmax.input[0]

    def matmul_input(tensor: str) -> str:
        # Add(MatMul(x, W), b) [-> Relu]: x
        node = producer[tensor]
        while node.op_type != "MatMul":
            node = producer[next(i for i in node.input if i in producer)]
        return node.input[0]

    penultimate = matmul_input(logits)
    return {"convolutions": matmul_input(penultimate), "penultimate": penultimate, "logits": logits}


def _tapped(model, names: list[str] | None = None):
    """The model with the head's inputs (or `names`) as more outputs."""
    import onnx

    tapped = onnx.ModelProto()
    tapped.CopyFrom(model)
    for name in names or taps(model):
        tapped.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return tapped


def features(session, images: np.ndarray) -> np.ndarray:
    """[N, features] head inputs for images [N, 28, 28] in [0, 1], from a tapped model's session."""
    parts = [session.run(None, {"image": images[i : i + 500, ..., None].astype(np.float32)})[1:]
             for i in range(0, len(images), 500)]
    return np.concatenate([np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))], axis=1)


def fit(session, digits: np.ndarray, printed: np.ndarray, outliers: np.ndarray, seed: int = 0):
    """(weights [features], bias): the logistic regression's logit as a function of the features."""
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([features(session, digits), features(session, printed), features(session, outliers)])
    y = np.r_[np.zeros(len(digits) + len(printed)), np.ones(len(outliers))]
    weight = np.r_[np.ones(len(digits)), np.full(len(printed), PRINTED_WEIGHT),
                   np.full(len(outliers), len(digits) / len(outliers))]
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-3
    head = LogisticRegression(C=C, max_iter=3000, random_state=seed)
    head.fit((x - mean) / scale, y, sample_weight=weight)
    w = head.coef_[0] / scale
    return w.astype(np.float32), float(head.intercept_[0] - np.dot(w, mean))


def with_head(model, weights: np.ndarray, bias: float):
    """A copy of the model with the head's nodes and the `ood_score` output added."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    graph.initializer.extend([numpy_helper.from_array(weights, "ood_head/weights"),
                              numpy_helper.from_array(np.array(bias, np.float32), "ood_head/bias")])
    graph.node.extend([
        helper.make_node("Concat", taps(model), ["ood_head/features"], axis=1, name=NODE_PREFIX + "ood_concat"),
        helper.make_node("MatMul", ["ood_head/features", "ood_head/weights"], ["ood_head/logit"],
                         name=NODE_PREFIX + "ood_matmul"),
        helper.make_node("Add", ["ood_head/logit", "ood_head/bias"], [OUTPUT], name=NODE_PREFIX + "ood_add"),
    ])
    graph.output.append(helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch"]))
    onnx.checker.check_model(out)
    return out


def with_energy(model):
    """A copy of the model with `ood_score` = the energy, -logsumexp of the logits (Liu et al.
    2020): the score of a CNN trained with the energy loss (trainer.training.energy_loss)."""
    import onnx
    from onnx import TensorProto, helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    lse = "ood_head/logsumexp"
    out.graph.node.extend([  # opset 17: the axes are an attribute
        helper.make_node("ReduceLogSumExp", [_layers(model)["logits"]], [lse], axes=[1], keepdims=0,
                         name=NODE_PREFIX + "ood_logsumexp"),
        helper.make_node("Neg", [lse], [OUTPUT], name=NODE_PREFIX + "ood_neg"),
    ])
    out.graph.output.append(helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch"]))
    onnx.checker.check_model(out)
    return out


def trained_for_energy(meta: dict[str, str]) -> bool:
    """Whether the model's `config` says it was trained with the energy loss."""
    try:
        exposure = json.loads(meta.get("config") or "{}").get("outlier_exposure") or {}
    except (ValueError, AttributeError):
        return False
    return isinstance(exposure, dict) and exposure.get("loss") == "energy"


def attach(float_path: Path, data, seed: int = 0) -> dict:
    """Fit, add and calibrate the head of `float_path` (rewritten atomically); its `ood` metadata.

    `data`: a trainer.data.Split of MNIST (uint8 images)."""
    import onnx
    import onnxruntime as ort

    from trainer import outliers

    model = onnx.load(str(float_path))
    meta = {p.key: p.value for p in model.metadata_props}
    name = meta.get(contract.MODEL, float_path.stem)
    described = onnx_file(name)
    if described is None or not described.ood:
        raise OodError(f"{name}: no OOD head for it (only {', '.join(ood_models())})")
    if any(o.name == OUTPUT for o in model.graph.output):  # an older head: refit from the bare model
        del model.graph.output[[o.name for o in model.graph.output].index(OUTPUT)]
        keep = [n for n in model.graph.node if not n.name.startswith(NODE_PREFIX)]
        del model.graph.node[:]
        model.graph.node.extend(keep)
        keep = [i for i in model.graph.initializer if not i.name.startswith("ood_head/")]
        del model.graph.initializer[:]
        model.graph.initializer.extend(keep)

    def session(proto):
        return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])

    rng = np.random.default_rng(seed)
    digits = data.x_train[rng.choice(len(data.x_train), min(TRAIN_DIGITS, len(data.x_train)), replace=False)] / 255.0
    test = data.x_test[:CALIBRATION] / 255.0
    calibration = [test]
    if described.both_polarities:  # it reads both polarities: both are digits to it
        digits = np.concatenate([digits, 1.0 - digits[: len(digits) // 2]])
        calibration.append(1.0 - test)
    if trained_for_energy(meta):
        from scipy.special import logsumexp

        inputs = [_layers(model)["logits"]]
        logits = session(_tapped(model, inputs))
        headed, method = with_energy(model), "energy"
        head = {"kind": "energy", "score": "-logsumexp(logits)", "inputs": inputs}

        def expected(images):
            return -logsumexp(features(logits, images).astype(np.float64), axis=1)
    else:
        bad, printed = outliers.make(seed)
        tapped = session(_tapped(model))
        weights, bias = fit(tapped, digits, printed, bad, seed)
        headed, method = with_head(model, weights, bias), "feature-head"
        head = {"kind": "logistic regression", "inputs": taps(model), "features": len(weights), "C": C,
                "digits": len(digits), "printed_digits": len(printed), "outliers": len(bad),
                "seed": seed}

        def expected(images):
            return features(tapped, images) @ weights.astype(np.float64) + bias
    check = session(headed)
    probe = test[:256, ..., None].astype(np.float32)
    before, got = session(model).run(["probabilities"], {"image": probe})[0], check.run(None, {"image": probe})
    if not np.array_equal(before, got[0]) or np.max(np.abs(got[1] - expected(test[:256]))) > PARITY_TOLERANCE:
        raise OodError(f"{name}: the model with its OOD head does not compute what it should; not written")
    # At most 5% false flags in each polarity: the highest of their thresholds.
    threshold = max(float(np.quantile(_scores(check, images), 1.0 - FALSE_FLAG_RATE)) for images in calibration)
    ood = {
        "method": method, "output": OUTPUT, "threshold": round(threshold, 6),
        "false_flag_rate": FALSE_FLAG_RATE,
        "calibration": {"data": f"MNIST test images 0-{CALIBRATION - 1}", "count": len(test),
                        "inverted": described.both_polarities, "rule": "highest per-polarity quantile"},
        "head": head,
    }
    kept = {p.key: p.value for p in headed.metadata_props if p.key != contract.OOD}
    onnx.helper.set_model_props(headed, {**kept, contract.OOD: json.dumps(ood)})
    write_atomic(float_path, headed.SerializeToString())
    return ood


def _scores(session, images: np.ndarray) -> np.ndarray:
    return np.concatenate([session.run([OUTPUT], {"image": images[i : i + 500, ..., None].astype(np.float32)})[0]
                           for i in range(0, len(images), 500)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=ood_models(), help="models to give a head")
    parser.add_argument("--data", default=None, help="mnist.npz or a folder of MNIST IDX files")
    parser.add_argument("--models", type=Path, default=Path("exported"))
    args = parser.parse_args(argv)
    from trainer.data import load_mnist

    data = load_mnist(args.data)
    for name in args.names:
        ood = attach(args.models / f"{name}.onnx", data)
        print(f"{name}: threshold {ood['threshold']:.4f} at {ood['false_flag_rate']:.0%} false flags")
    return 0


if __name__ == "__main__":
    sys.exit(main())
