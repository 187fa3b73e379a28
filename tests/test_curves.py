"""The training charts' arithmetic: TensorBoard's smoothing, nice ticks, the point under the mouse."""

from __future__ import annotations

import pytest

from tui.curves import can_log, label, nearest, nice_step, smooth
from tui.widgets.chart import y_ticks


def test_smoothing_is_tensorboards_debiased_moving_average():
    assert smooth([1.0, 2.0, 3.0], 0.0) == [1.0, 2.0, 3.0]
    assert smooth([4.0, 4.0, 4.0], 0.9) == pytest.approx([4.0, 4.0, 4.0])  # no pull towards zero
    # 0.6: the second value is (0.6 * 0.4 * 1 + 0.4 * 3) / (1 - 0.36)
    assert smooth([1.0, 3.0], 0.6) == pytest.approx([1.0, (0.24 + 1.2) / 0.64])


def test_log_scale_needs_positive_values():
    assert can_log([0.5, 2.0]) and not can_log([-155.0, -160.0]) and not can_log([0.0, 1.0]) and not can_log([])


def test_ticks_are_round_numbers():
    assert nice_step(0.6, 3) == pytest.approx(0.2)
    assert nice_step(10, 2) == 5 and nice_step(30, 4) == 10
    assert y_ticks(0.5, 1.1, 6) == {1: pytest.approx(1.0), 3: pytest.approx(0.8), 4: pytest.approx(0.6)}
    assert label(0.8000000001, 6) == "0.8" and len(label(123456789.0, 6)) <= 6


def test_nearest_point():
    assert nearest([0.5, 1.0, 2.0], [3.0, 2.0, 1.0], 1.2) == (1.0, 2.0)
    assert nearest([], [], 1.0) is None
