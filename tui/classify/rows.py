"""One result row: a file classified by one model, or why it could not be."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np  # (annotations only)

from tui.runtime.classifier import result


@dataclass(frozen=True)
class Row:
    """The fields every output format shows (see `dl-tui classify --help`)."""

    path: Path
    model: str
    label: str | None
    confidence: float | None
    probabilities: dict[str, float] | None  # every label, in the model's order
    error: str | None
    # {"score": float, "flagged": bool} where the model has an OOD calibration (tui/runtime/ood.py)
    ood: dict | None = None

    def top(self, k: int | None) -> list[tuple[str, float]]:
        """The `k` most likely labels with their probabilities; all of them for None."""
        pairs = sorted((self.probabilities or {}).items(), key=lambda kv: -kv[1])
        return pairs if k is None else pairs[:k]


def classified(path: Path, model: str, labels: list[str], probs: np.ndarray,
               ood: dict | None = None) -> Row:
    """The row for one file's probability vector (and its OOD score and flag, if the model
    has them); an error row if it is not a probability distribution. The checks and the top
    label are the runtime's, as for the app (tui.runtime.classifier.result)."""
    checked = result(model, labels, probs)
    if checked.error is not None:  # NaN, infinity, negative, above 1, a sum off 1
        return failed(path, model, checked.error)
    return Row(path, model, checked.label, checked.confidence, checked.by_label(), None, ood)


def failed(path: Path, model: str, error: str) -> Row:
    """The row for a file that could not be loaded or classified."""
    return Row(path, model, None, None, None, error)
