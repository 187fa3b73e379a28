"""The figures of an evaluation: accuracy, per-class precision, recall and F1, macro F1, the
confusion matrix and the mistakes, with scikit-learn's definitions so that numbers compare:
rows of the confusion matrix are the true class (`confusion_matrix`), a class nobody
predicted has precision 0 and one with no files recall 0 (`zero_division=0`), and macro F1 is
the plain mean over the labels that occur as true or predicted (`f1_score(average="macro")`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scores:
    """One evaluation's numbers over `count` files."""

    count: int
    accuracy: float
    macro_f1: float
    labels: list[str]  # the labels that occur, true or predicted, in the model's order
    per_class: list[dict]  # {label, precision, recall, f1, support}
    matrix: list[list[int]]  # rows: true label, columns: predicted, both over `labels`

    def as_json(self) -> dict:
        """The keys `dl-tui evaluate --format json` and a model's `evaluation` share."""
        return {"count": self.count, "accuracy": self.accuracy, "macro_f1": self.macro_f1,
                "per_class": self.per_class, "confusion": {"labels": self.labels, "matrix": self.matrix}}


def scores(true: Sequence[int], predicted: Sequence[int], names: Sequence[str]) -> Scores:
    """The scores of PREDICTED against TRUE (indices into NAMES, the model's labels)."""
    y, p = np.asarray(true, np.int64), np.asarray(predicted, np.int64)
    occur = sorted(set(y.tolist()) | set(p.tolist()))
    where = {k: i for i, k in enumerate(occur)}
    matrix = np.zeros((len(occur), len(occur)), np.int64)
    for a, b in zip(y.tolist(), p.tolist(), strict=True):
        matrix[where[a], where[b]] += 1
    per_class = []
    for i, k in enumerate(occur):
        tp, predicted_k, support = int(matrix[i, i]), int(matrix[:, i].sum()), int(matrix[i].sum())
        precision = tp / predicted_k if predicted_k else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append({"label": names[k], "precision": precision, "recall": recall, "f1": f1,
                          "support": support})
    count = len(y)
    accuracy = float(np.trace(matrix)) / count if count else 0.0
    macro = float(np.mean([row["f1"] for row in per_class])) if per_class else 0.0
    return Scores(count, accuracy, macro, [names[k] for k in occur], per_class, matrix.tolist())


def mistakes(paths: Sequence[str], true: Sequence[int], probabilities: np.ndarray, names: Sequence[str],
             limit: int) -> list[dict]:
    """The files predicted wrong, the most confident first (then by path), at most LIMIT:
    {path, true_label, label, confidence}, `label` and `confidence` as in classify's rows
    (six significant digits)."""
    if not len(paths):
        return []
    best = probabilities.argmax(axis=1)
    wrong = [i for i in range(len(paths)) if best[i] != true[i]]
    wrong.sort(key=lambda i: (-float(probabilities[i, best[i]]), paths[i]))
    return [{"path": paths[i], "true_label": names[true[i]], "label": names[best[i]],
             "confidence": six(probabilities[i, best[i]])} for i in wrong[:limit]]


def six(value: float) -> float:
    """A probability with six significant digits, as classify's rows write it (`%.6g`)."""
    return float(f"{float(value):.6g}")
