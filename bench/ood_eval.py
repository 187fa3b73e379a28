"""How well the shipped classifiers tell digits from non-digits (docs/ood.md), onnxruntime only.

    python bench/ood_eval.py [--data ../shared/data/mnist.npz] [--models exported]
                             [--precision float|int8|auto] [cnn cnn-invert ...]

In distribution: MNIST test images 5,000-9,999 (0-4,999 set the threshold) and printed digits;
out of distribution: the non-digit sets of bench/ood_data.py. For each model, its own OOD
score (the `ood` metadata) beside the baseline, 1 - the largest probability at a threshold
calibrated the same way: the area under the ROC curve over all non-digits and over letters,
the share flagged of each set at the threshold, and the targets of issue 11.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.ood_data import NON_DIGITS, make_sets
from tui.runtime import Runtime

CALIBRATION = 5000
TARGETS = {"auroc": 0.97, "auroc_letters": 0.95, "flagged": 0.90, "mnist": 0.05, "printed": 0.10}


def auroc(inside: np.ndarray, outside: np.ndarray) -> float:
    """P(an outside score > an inside score), ties counted half (Mann-Whitney)."""
    scores = np.concatenate([inside, outside])
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # rank - 1 of each distinct value's first copy
    ranks = (first + (counts + 1) / 2)[inverse]  # ties share their average rank
    u = ranks[len(inside):].sum() - len(outside) * (len(outside) + 1) / 2
    return float(u / (len(inside) * len(outside)))


def figures(scores: dict[str, np.ndarray], threshold: float) -> dict[str, float]:
    """The issue's figures for one score: AUROCs and the shares flagged at `threshold`."""
    inside = np.concatenate([scores["mnist"], scores["printed"]])
    outside = np.concatenate([scores[name] for name in NON_DIGITS])
    out = {"auroc": auroc(inside, outside), "auroc_letters": auroc(inside, scores["letters"]),
           "flagged": float(np.mean(outside > threshold)),
           "mnist": float(np.mean(scores["mnist"] > threshold)),
           "printed": float(np.mean(scores["printed"] > threshold))}
    out.update({f"flagged_{name}": float(np.mean(scores[name] > threshold)) for name in NON_DIGITS})
    return out


def evaluate(runtime: Runtime, name: str, sets: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """{"model": figures, "max-softmax": figures} for one classifier."""
    own, baseline = {}, {}
    for key, images in sets.items():
        probs, ood = runtime.predict_ood(name, images)
        baseline[key] = 1.0 - probs.max(axis=1)
        if ood is not None:
            own[key] = ood.scores
            threshold = ood.threshold
    results = {"max-softmax": figures(baseline, float(np.quantile(baseline["calibration"], 0.95)))}
    if own:
        results[runtime.info(name).ood["method"]] = figures(own, threshold)
    return results


def _table(name: str, results: dict[str, dict[str, float]]) -> str:
    head = f"{name:11} {'method':13} {'AUROC':>6} {'letters':>7} {'flagged':>7} {'MNIST':>6} {'printed':>7}  " + \
        " ".join(f"{s:>7}" for s in NON_DIGITS)
    lines = [head]
    for method, f in results.items():
        lines.append(f"{'':11} {method:13} {f['auroc']:6.3f} {f['auroc_letters']:7.3f} {f['flagged']:7.1%} "
                     f"{f['mnist']:6.1%} {f['printed']:7.1%}  "
                     + " ".join(f"{f['flagged_' + s]:7.1%}" for s in NON_DIGITS))
    return "\n".join(lines)


def verdict(f: dict[str, float]) -> str:
    """Each target of issue 11, met or missed."""
    checks = [("AUROC >= 0.97", f["auroc"] >= TARGETS["auroc"]),
              ("letters AUROC >= 0.95", f["auroc_letters"] >= TARGETS["auroc_letters"]),
              ("flagged >= 90%", f["flagged"] >= TARGETS["flagged"]),
              ("MNIST flagged <= 5%", f["mnist"] <= TARGETS["mnist"]),
              ("printed flagged <= 10%", f["printed"] <= TARGETS["printed"])]
    return ", ".join(f"{label}: {'met' if ok else 'MISSED'}" for label, ok in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=["cnn", "cnn-invert"])
    parser.add_argument("--data", default="../shared/data/mnist.npz", help="a Keras-style mnist.npz")
    parser.add_argument("--models", type=Path, default=Path(__file__).resolve().parents[1] / "exported")
    parser.add_argument("--precision", default="float", choices=["float", "int8", "auto"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    test = np.load(args.data)["x_test"].astype(np.float32) / 255.0
    sets = {"calibration": test[:CALIBRATION], "mnist": test[CALIBRATION:], **make_sets(args.seed)}
    print("images: " + ", ".join(f"{key} {len(images)}" for key, images in sets.items()))
    runtime = Runtime(args.models, precision=args.precision)
    for name in args.names:
        results = evaluate(runtime, name, sets)
        print(_table(name, results))
        print(f"{'':11} {list(results)[-1]}: {verdict(results[list(results)[-1]])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
