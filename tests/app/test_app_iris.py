"""The iris form refuses measurements no flower has, says the range, and never shows `nan%`."""

from __future__ import annotations

import numpy as np
import pytest
from app_helpers import SIZE, screen_text, wait_for

from tui.widgets.iris_form import IrisForm
from tui.widgets.probabilities import ProbabilityBars


@pytest.mark.parametrize("typed", ["-5", "0", "999999", "1e309", "nan", "30.1"])
async def test_a_measurement_out_of_range_is_refused_with_the_range(make_app, typed):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")
        pane = app.screen.query_one("#iris")
        bars = pane.query_one("#iris-bars", ProbabilityBars)
        await wait_for(pilot, lambda: bars.probabilities)
        field = pane.query_one("#feature-1")
        field.value = typed
        await wait_for(pilot, lambda: bars.error)
        text = screen_text(app)
        assert "nan" not in text.replace(typed, "") and "%" not in str(bars.render())
        assert "between 0 and 30 cm" in bars.error and "sepal width" in bars.error
        assert pane.query_one(IrisForm).values() is None
        assert field.has_class("-invalid")
        field.value = "3.0"  # a real one again: bars again
        expected = app.runtime.predict("iris", np.array([[5.9, 3.0, 4.3, 1.3]], np.float32))[0]
        await wait_for(pilot, lambda: not bars.error and np.allclose(bars.probabilities, expected, atol=1e-6))
        assert not field.has_class("-invalid")


async def test_the_arrows_stay_in_range(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")
        field = app.screen.query_one("#feature-3")
        await wait_for(pilot, lambda: app.focused is not None)
        field.focus()
        field.value = "0.2"
        await pilot.press("down", "down", "down")
        assert field.value == "0.1"
        field.value = "29.5"
        await pilot.press("shift+up")
        assert field.value == "30.0"
