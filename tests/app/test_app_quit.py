"""Quitting: `q` where no field has the keys, a question first while training or with an unsaved
drawing, and Ctrl+C twice to quit at once."""

from __future__ import annotations

from app_helpers import SIZE, screen_text, toasts, wait_for
from textual.widgets import Input

from tui.screens.confirm_quit import ConfirmQuitScreen
from tui.screens.train import TrainScreen
from tui.widgets.canvas import DrawingCanvas


async def start_slow_training(pilot) -> TrainScreen:
    """Start the fake trainer in its never-ending mode and wait for its first batch."""
    await pilot.press("3")
    screen = pilot.app.screen
    assert isinstance(screen, TrainScreen)
    await pilot.press("s")
    await wait_for(pilot, lambda: screen.state.step > 0)
    return screen


async def draw_a_stroke(pilot) -> DrawingCanvas:
    await pilot.press("5")
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.models)
    canvas = screen.query_one(DrawingCanvas)
    await pilot.press("space", "down", "down", "down", "space")
    assert not canvas.drawing.empty
    return canvas


async def test_q_quits_where_no_field_has_the_keys(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None)
    assert app.return_code == 0


async def test_q_in_a_text_field_is_a_letter(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: app.screen.query("#train-data"))  # the form, once dl-train answers
        field = app.screen.query_one("#train-data", Input)
        field.focus()
        await pilot.press("q")
        await wait_for(pilot, lambda: field.value == "q")
        await pilot.pause()  # whatever else the key set going has run
        assert app.return_code is None
        assert not app.screen.query(ConfirmQuitScreen)
        await pilot.press("escape", "q")  # out of the field, q quits
        await wait_for(pilot, lambda: app.return_code is not None)


async def test_quitting_while_training_asks_first(make_app, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER_MODE", "slow")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_slow_training(pilot)
        process = screen.process
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmQuitScreen))
        assert "training" in screen_text(app)
        await pilot.press("n")  # stay: the run goes on
        await wait_for(pilot, lambda: app.screen is screen)
        assert app.return_code is None and process.proc.poll() is None
        await pilot.press("1")  # from another screen, the same question
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmQuitScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: app.return_code is not None)
    assert process.proc.poll() == 130  # the trainer was stopped, and said so


async def test_an_unsaved_drawing_asks_first_and_a_saved_one_does_not(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await draw_a_stroke(pilot)
        await pilot.press("1", "q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmQuitScreen))
        assert "drawing" in screen_text(app) and "not saved" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmQuitScreen))
        await pilot.press("5", "s")
        await wait_for(pilot, lambda: (tmp_path / "drawing-1.png").exists())
        await wait_for(pilot, lambda: app.screen.quit_question() == "")
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None)


async def test_ctrl_c_twice_quits_at_once_even_while_training(make_app, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER_MODE", "slow")
    app = make_app()
    monkeypatch.setattr(type(app), "CTRL_C_WINDOW", 30.0)  # a loaded test machine may take seconds per step
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_slow_training(pilot)
        process = screen.process
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmQuitScreen))
        assert "Ctrl+C again" in screen_text(app)
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: app.return_code is not None)
    assert process.proc.poll() == 130


async def test_one_ctrl_c_only_says_how_and_two_quit_even_from_a_field(make_app, monkeypatch):
    app = make_app()
    monkeypatch.setattr(type(app), "CTRL_C_WINDOW", 30.0)  # the toast lasts as long: time to read it
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: app.screen.query("#train-data"))  # the form, once dl-train answers
        app.screen.query_one("#train-data", Input).focus()
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: any("Ctrl+C again quits" in toast for toast in toasts(app)))  # says how
        assert app.return_code is None
        monkeypatch.setattr(type(app), "CTRL_C_WINDOW", 0.0)  # too late for a second press: it asks again
        await pilot.press("ctrl+c")
        await pilot.pause()  # the press handled
        assert app.return_code is None
        monkeypatch.setattr(type(app), "CTRL_C_WINDOW", 30.0)
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: app.return_code is not None)
