"""Likely label errors by confident learning.

Northcutt, Jiang and Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels",
Journal of Artificial Intelligence Research 70 (2021), 1373-1411; the rule of cleanlab's
`find_label_issues(filter_by="confident_learning")`, ranked as its `rank_by_kind="self_confidence"`.

From held-out predicted probabilities P [N, K] and given labels y:
- each class's threshold t_j is the mean predicted probability of j over the files labelled j
  (the model's average self-confidence on that class);
- a file counts as confidently of class j when P[i, j] >= t_j; of several such classes, the
  likeliest; a file of none is not counted (the confident joint's rule);
- a file whose confident class is not its given label is a likely label error;
- they are ranked by self-confidence P[i, y_i], lowest first: the most likely errors first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def thresholds(probabilities: np.ndarray, given: np.ndarray) -> np.ndarray:
    """t_j per class: the mean P[:, j] over the files labelled j; +inf for a class with none
    (nothing can be confidently of a class the data never shows)."""
    k = probabilities.shape[1]
    t = np.full(k, np.inf)
    for j in range(k):
        mask = given == j
        if mask.any():
            t[j] = float(probabilities[mask, j].mean())
    return t


def find(probabilities: np.ndarray, given: Sequence[int]) -> list[tuple[int, int, float]]:
    """The likely label errors as (file index, suggested class, self-confidence P[i, given]),
    lowest self-confidence first (then by index)."""
    p = np.asarray(probabilities, np.float64)
    y = np.asarray(given, np.int64)
    if p.ndim != 2 or not len(p):
        return []
    t = thresholds(p, y)
    above = p >= t[None, :]
    masked = np.where(above, p, -np.inf)
    confident = masked.argmax(axis=1)
    counted = above.any(axis=1)
    issues = [(i, int(confident[i]), float(p[i, y[i]])) for i in range(len(p))
              if counted[i] and confident[i] != y[i]]
    issues.sort(key=lambda issue: (issue[2], issue[0]))
    return issues


def label_issues(paths: Sequence[str], probabilities: np.ndarray, given: Sequence[int],
                 names: Sequence[str]) -> list[dict]:
    """The JSON list: {path, given_label, suggested_label, given_probability}, likeliest errors first."""
    from tui.evaluate.metrics import six

    return [{"path": paths[i], "given_label": names[given[i]], "suggested_label": names[j],
             "given_probability": six(p)} for i, j, p in find(probabilities, given)]
