"""Out-of-distribution scores: how unlike the training digits an image is (docs/ood.md).

A classifier that carries an `ood` metadata key (docs/model-contract.md) gets, beside its
probabilities, one score per image (higher = less like MNIST) and a flag where the score is
above the threshold calibrated on held-out MNIST at a 5% false-flag rate. The method says
where the score comes from:

- with an `output` (the shipped CNNs: method `energy`, for a CNN trained with the energy loss;
  `feature-head` for one trained with the uniform loss): the model's own output of that name,
  `ood_score`, computed in the ONNX graph as -logsumexp of the CNN's logits or by a head on
  them (trainer/ood.py), so any onnxruntime runs it;
- `max-softmax`: 1 - the largest probability (the Hendrycks & Gimpel baseline; any classifier).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCORE_OUTPUT = "ood_score"


@dataclass(frozen=True)
class Ood:
    """Scores and flags for a batch of images, and how they were made."""

    scores: np.ndarray  # float64 [N]: higher is less like the training digits
    flags: np.ndarray  # bool [N]: score above the threshold
    threshold: float
    method: str

    def __len__(self) -> int:
        return len(self.scores)

    def item(self, i: int) -> dict[str, float | bool]:
        """The `{"score": ..., "flagged": ...}` of one image, as `dl-tui classify` writes it."""
        return {"score": float(self.scores[i]), "flagged": bool(self.flags[i])}


def calibration(meta: dict | None) -> tuple[str, float] | None:
    """(method, threshold) from a model's `ood` metadata; None if it has none we can use."""
    if not isinstance(meta, dict) or not (meta.get("method") == "max-softmax" or isinstance(meta.get("output"), str)):
        return None
    try:
        threshold = float(meta["threshold"])
    except (KeyError, TypeError, ValueError):
        return None
    return (meta["method"], threshold) if np.isfinite(threshold) else None


def from_outputs(meta: dict | None, outputs: dict[str, np.ndarray], probs: np.ndarray) -> Ood | None:
    """The Ood of one model run (its outputs by name and its probabilities); None if the
    model has no usable calibration or lacks the output its method needs."""
    found = calibration(meta)
    if found is None or meta is None:  # (no calibration without metadata)
        return None
    method, threshold = found
    if method != "max-softmax":
        output = meta["output"]
        if output not in outputs or np.size(outputs[output]) != len(probs):
            return None
        scores = np.asarray(outputs[output], dtype=np.float64).reshape(len(probs))
    else:
        scores = 1.0 - np.asarray(probs, dtype=np.float64).max(axis=1)
    # A NaN score (a broken model) is flagged: nothing says the image looks like a digit.
    flags = ~(scores <= threshold)
    return Ood(scores, flags, threshold, method)
