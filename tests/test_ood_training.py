"""What the CNNs' outlier exposure and OOD head train on (trainer/outliers.py) stays apart from
what bench/ood_eval.py measures on (bench/ood_data.py), docs/ood.md."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import ood_data
from trainer import outliers


def test_training_characters_are_none_of_the_evaluation_sets():
    trained = set(outliers.LETTERS + outliers.FOREIGN + outliers.SIGNS)
    assert not trained & set(ood_data.LETTERS + ood_data.SYMBOLS + ood_data.DIGITS)


def test_exposure_gives_outliers_and_labelled_printed_digits_the_same_each_time():
    bad, printed, labels = outliers.exposure(40, seed=3)
    assert bad.shape == (40, 28, 28) and printed.shape == (10, 28, 28)
    assert bad.dtype == printed.dtype == np.float32 and bad.min() >= 0.0 and bad.max() <= 1.0
    assert labels.tolist() == list(range(10))
    again = outliers.exposure(40, seed=3)
    np.testing.assert_array_equal(again[0], bad)
    np.testing.assert_array_equal(again[1], printed)
