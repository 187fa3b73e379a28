"""The Train screen: a scripted fake trainer's events move the bars and curves; cancel, errors, playback, the form.

Keeping or dropping a run's new models is in test_app_train_keep.py.
"""

from __future__ import annotations

import json
import threading

import pytest
from app_helpers import SIZE, screen_text, wait_for
from fake_trainer import MODELS
from textual.widgets import (
    Button,
    Input,
    OptionList,
    ProgressBar,
    RichLog,
    Select,
    Static,
)

from tui.extras import NO_TENSORFLOW, TRAIN_EXTRA
from tui.screens.keep_model import KeepModelScreen
from tui.screens.train import TrainScreen
from tui.staging import Staging
from tui.widgets.chart import LineChart


def log_text(screen: TrainScreen) -> str:
    return "\n".join(line.text for line in screen.query_one("#train-log", RichLog).lines)


async def open_train(pilot, epochs: int = 3) -> TrainScreen:
    await pilot.press("3")
    screen = pilot.app.screen
    assert isinstance(screen, TrainScreen)
    await wait_for(pilot, lambda: screen.query("#train-model"))  # dl-train's models are in the form
    screen.query_one("#train-epochs", Input).value = str(epochs)
    return screen


@pytest.fixture(autouse=True)
def quick_playback(monkeypatch):
    monkeypatch.setattr(TrainScreen, "PLAYBACK_INTERVAL", 0.01)


async def test_fake_trainer_events_move_bars_and_curves(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot, epochs=3)
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.state.status == "finished" and not screen.running)
        epoch_bar, batch_bar = screen.query_one("#epoch-bar", ProgressBar), screen.query_one("#batch-bar", ProgressBar)
        assert (epoch_bar.progress, epoch_bar.total) == (3, 3)
        assert (batch_bar.progress, batch_bar.total) == (4, 4)
        assert len(screen.state.loss.ys) == 3 * 4 + 3  # every batch and every epoch's end
        assert screen.state.val_loss.ys == pytest.approx([0.6, 0.4, 0.3])
        assert screen.state.val_metric.ys == pytest.approx([0.55, 0.65, 0.75])
        chart = screen.query_one("#loss-chart", LineChart)
        # The cnn's recorded run, which this one would replace, under the new curves.
        assert [line.name for line in chart.lines] == ["previous train", "previous validation", "train", "validation"]
        assert chart.lines[1].ys == pytest.approx([1.1, 0.55])  # the tiny cnn's val_loss history
        assert "⠀" not in str(chart.render()) and any(0x2800 < ord(c) < 0x2900 for c in str(chart.render()))
        log = log_text(screen)
        assert "epoch 3/3: loss 0.25" in log and "done cnn: test_accuracy 0.9" in log
        assert not screen.query_one("#train-errors").display
        assert not screen.query_one("#train-start", Button).disabled
        assert screen.query_one("#train-cancel", Button).disabled


@pytest.mark.parametrize("how", ["key", "button"])
async def test_cancel_stops_the_trainer_and_keeps_the_model(make_app, tiny_models, monkeypatch, how):
    monkeypatch.setenv("FAKE_TRAINER_MODE", "slow")
    before = (tiny_models / "cnn.onnx").read_bytes()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        await pilot.click("#train-start")
        await wait_for(pilot, lambda: screen.state.step > 0)
        assert screen.running and not screen.query_one("#train-cancel", Button).disabled
        if how == "key":
            await pilot.press("x")
        else:
            assert await pilot.click("#train-cancel")
        await wait_for(pilot, lambda: not screen.running)
        assert screen.state.status == "cancelled"
        assert "cnn · cancelled" in str(screen.query_one("#train-status", Static).render())
        log = log_text(screen)
        assert "cancelled: the models in use are unchanged" in log and "error" not in log
        assert not screen.query_one("#train-errors").display
    assert (tiny_models / "cnn.onnx").read_bytes() == before


async def test_the_epoch_bar_counts_the_epoch_in_progress(make_app, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER_MODE", "slow")  # epoch 1 never ends
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot, epochs=2)
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.state.step >= 2)
        screen.query_one("#train-view").draw(screen.state)
        bar = screen.query_one("#epoch-bar", ProgressBar)
        assert bar.total == 2 and 0 < bar.progress <= 1  # within epoch 1, and more than nothing
        row = next(line for line in screen_text(app).splitlines() if "▕ Epoch " in line)  # not "Epochs"
        assert "1/2" in row and " 0%" not in row
        await pilot.press("x")
        await wait_for(pilot, lambda: not screen.running)


async def test_a_trainer_that_prints_garbage_and_dies_shows_its_last_lines(make_app, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER_MODE", "garbage")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: not screen.running and screen.state.status == "failed")
        errors = screen.query_one("#train-errors", Static)
        assert errors.display
        text = str(errors.render())
        assert "exited with code 1" in text
        assert "Traceback (most recent call last):" in text and "RuntimeError: out of cheese" in text


@pytest.mark.parametrize("model, invert, data", [("cnn", True, True), ("iris", False, False),
                                                 ("vae", False, True), ("all", False, True)])
async def test_the_form_shows_only_the_options_a_model_takes(make_app, model, invert, data):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        screen.query_one("#train-model", Select).value = model
        await pilot.pause()
        assert screen.query_one("#train-invert").display is invert
        assert screen.query_one("#train-data-label").display is data
        assert screen.query_one("#train-data").display is data
        assert ("--invert" in screen_text(app)) is invert
        assert ("MNIST data" in screen_text(app)) is data


async def test_vae_is_labelled_vae(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        screen.query_one("#train-model", Select).value = "vae"
        await pilot.pause()
        await pilot.press("h")
        await wait_for(pilot, lambda: screen.state.status == "history (recorded)")
        status = str(screen.query_one("#train-status", Static).render())
        assert status == "vae · history (recorded)"
        assert screen.query_one("#accuracy-chart", LineChart).title == "elbo"
        assert "vae-encoder" not in screen_text(app)


async def test_escape_leaves_the_epochs_field_and_the_screen_keys_work(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        epochs = screen.query_one("#train-epochs", Input)
        epochs.focus()
        await pilot.press("end", "backspace", "2")
        assert epochs.value == "2" and app.focused is epochs
        await pilot.press("escape")
        assert not isinstance(app.focused, Input)
        await pilot.press("h")  # a screen key again, not typed into the field
        await wait_for(pilot, lambda: screen.state.status.startswith("history"))
        assert epochs.value == "2"
        await pilot.press("4")
        await wait_for(pilot, lambda: app.current_mode == "models")


async def test_without_tensorflow_it_says_how_to_install_and_plays_back_history(make_app, tiny_models):
    app = make_app(can_train=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        screen = app.screen
        await wait_for(pilot, lambda: screen.query("#install-note"))  # once dl-train has said what it trains
        assert f"Training needs TensorFlow: {TRAIN_EXTRA}" in str(screen.query_one("#install-note", Static).render())
        assert screen.query_one("#train-start", Button).disabled
        await wait_for(pilot, lambda: screen.state.status == "history (recorded)")
        history = app.runtime.info("cnn").history
        assert screen.state.val_loss.ys == pytest.approx([row["val_loss"] for row in history])
        assert screen.state.metric.ys == pytest.approx([row["accuracy"] for row in history])
        assert screen.query_one("#epoch-bar", ProgressBar).progress == len(history)
        await pilot.press("s")  # no TensorFlow: start does nothing
        assert not screen.running


async def test_quitting_stops_a_running_trainer(make_app, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER_MODE", "slow")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.state.step > 0)
        process = screen.process
        await pilot.press("ctrl+q", "y")  # it asks first (tests/app/test_app_quit.py)
    assert process.proc.poll() == 130  # interrupted, and it said so


async def test_charts_show_the_values_under_the_mouse_smooth_and_go_log(make_app):
    app = make_app(can_train=False)  # the shipped cnn's history plays at once
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        await wait_for(pilot, lambda: screen.state.status == "history (recorded)")
        chart = screen.query_one("#loss-chart", LineChart)
        await pilot.hover(chart, offset=(chart.size.width, 2))  # the right edge: epoch 2
        assert chart.border_title == "loss · epoch 2.00: train 0.5 validation 0.55"
        await pilot.press("m")
        assert chart.smoothing == 0.6 and "smoothed 0.6" in chart.border_title
        assert [line.color for line in chart.drawn()][:2] == ["dodger_blue1 dim", "dodger_blue1"]
        await pilot.press("l")
        assert chart.log_scale and chart.border_title.startswith("loss · log · smoothed 0.6")
        await pilot.hover(screen.query_one("#train-log"))
        assert chart.hover is None and "epoch" not in chart.border_title


async def test_an_elbo_chart_stays_linear(make_app):
    app = make_app(can_train=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        screen.query_one("#train-model", Select).value = "vae"
        await pilot.press("h", "l")
        second = screen.query_one("#accuracy-chart", LineChart)
        await wait_for(pilot, lambda: second.title == "elbo" and second.lines[-1].ys)
        assert not second.log_scale and "log" not in second.border_title


async def test_long_log_lines_wrap_instead_of_being_cut(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_train(pilot, epochs=1)
        log = screen.query_one("#train-log", RichLog)
        line = "a long line " + " ".join(f"word{i}" for i in range(40)) + " THE-END"
        screen.query_one("#train-view").log_line(line)
        await wait_for(pilot, lambda: "".join(strip.text for strip in log.lines).replace(" ", "").endswith(
            line.replace(" ", "")))  # written once the log knows its width
        width = log.scrollable_content_region.width
        assert width < len(line)
        assert all(strip.cell_length <= width for strip in log.lines)
        assert "".join(strip.text for strip in log.lines).replace(" ", "").endswith(line.replace(" ", ""))
        assert log.virtual_size.width <= width  # nothing to scroll sideways to
        await pilot.resize_terminal(140, 45)  # wider: the same lines, wrapped again to the new width
        await wait_for(pilot, lambda: max(strip.cell_length for strip in log.lines) > width)
        assert "".join(strip.text for strip in log.lines).replace(" ", "").endswith(line.replace(" ", ""))


async def test_h_twice_replays_the_history_without_repeating_it_in_the_log(make_app):
    app = make_app(can_train=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        await wait_for(pilot, lambda: screen.state.status == "history (recorded)")
        once = log_text(screen)
        history = app.runtime.info("cnn").history
        shown = screen.state
        await pilot.press("h")
        await wait_for(pilot, lambda: screen.state is not shown)  # the history read again: a replay begins
        shown = screen.state
        await pilot.press("h")  # and again, over it
        await wait_for(pilot, lambda: screen.state is not shown and screen.state.status == "history (recorded)")
        assert log_text(screen).count("epoch 1/") == 1, log_text(screen)
        assert log_text(screen).count("recorded history of cnn") == once.count("recorded history of cnn") == 1
        assert screen.state.val_loss.ys == pytest.approx([row["val_loss"] for row in history])  # drawn once


async def test_the_palette_start_vae_sets_the_form_to_vae(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot, epochs=1)
        await pilot.press("1", "ctrl+p")
        await pilot.press(*"Train: start vae")
        await wait_for(pilot, lambda: app.screen.query("CommandList") and app.screen.query_one("CommandList").option_count
                       and "Train: start vae" in str(app.screen.query_one("CommandList").get_option_at_index(0).prompt))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen and screen.state.model == "vae")
        assert screen.query_one("#train-model", Select).value == "vae"
        command = next(line for line in screen.query_one("#train-log").texts if line.startswith("$ "))
        assert " vae --epochs 1 " in command  # the form and the command agree
        await wait_for(pilot, lambda: not screen.running)


async def test_a_resumed_run_continues_the_curves_it_had(make_app, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER_MODE", "stop-after-1")  # killed after epoch 1 of 3
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot, epochs=3)
        await pilot.press("s")
        await wait_for(pilot, lambda: not screen.running)
        assert screen.state.val_loss.xs == [1]
        monkeypatch.setenv("FAKE_TRAINER_MODE", "ok")
        await pilot.press("s")  # resumes after epoch 1
        await wait_for(pilot, lambda: screen.state.status == "finished")
        assert screen.state.val_loss.xs == [1, 2, 3]  # epoch 1 from the first run, once
        assert screen.state.val_loss.ys == pytest.approx([0.6, 0.4, 0.3])
        xs = screen.state.loss.xs
        assert xs == sorted(xs) and len(xs) == 3 * 4 + 3  # never back over an epoch: no smear
        chart = screen.query_one("#loss-chart", LineChart)
        assert chart.lines[-2].xs == xs
        assert "resuming after epoch 1" in log_text(screen)


async def test_one_epoch_is_not_epochs(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot, epochs=1)
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.state.status == "finished")
        assert "start cnn: 1 epoch, 4 batches each" in log_text(screen)
        assert "1 epochs" not in log_text(screen)


async def test_exporting_shows_while_the_model_is_written(make_app, monkeypatch, tiny_models, tmp_path):
    monkeypatch.setenv("FAKE_TRAINER_EXPORT", str(tiny_models / "cnn.onnx"))
    gate = tmp_path / "export-now"  # the fake exports only once the test has seen "exporting"
    monkeypatch.setenv("FAKE_TRAINER_EXPORT_GATE", str(gate))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot, epochs=1)
        await pilot.press("s")
        status = screen.query_one("#train-status", Static)
        await wait_for(pilot, lambda: "exporting" in str(status.render()))  # between the last epoch and done
        gate.touch()
        await wait_for(pilot, lambda: "done" in log_text(screen))
        assert "exporting" not in str(status.render())
        await wait_for(pilot, lambda: not screen.running or isinstance(app.screen, KeepModelScreen))


async def test_log_scale_is_for_the_loss_only(make_app):
    app = make_app(can_train=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        await wait_for(pilot, lambda: screen.state.status == "history (recorded)")
        await pilot.press("l")
        loss, accuracy = screen.query_one("#loss-chart", LineChart), screen.query_one("#accuracy-chart", LineChart)
        assert loss.log_scale and "log" in loss.border_title
        assert not accuracy.log_scale and "log" not in accuracy.border_title


def test_the_app_and_dl_train_give_the_same_install_hint():
    from trainer import cli

    assert TRAIN_EXTRA == "pip install 'dl-tui[train]'"
    assert cli.INSTALL_HINT == NO_TENSORFLOW and NO_TENSORFLOW.endswith(TRAIN_EXTRA)


@pytest.mark.parametrize("how", ["key", "button"])
async def test_cancel_while_starting_is_not_lost(make_app, tiny_models, monkeypatch, how):
    """Cancel pressed before the trainer process exists (the staging folder still being prepared):
    no trainer starts, the run ends cancelled and the models stay as they are."""
    gate = threading.Event()
    prepare = Staging.prepare

    def slow_prepare(self, model):  # a slow disk: the run stays "starting" until the test lets it go
        gate.wait(10)
        prepare(self, model)

    monkeypatch.setattr(Staging, "prepare", slow_prepare)
    before = (tiny_models / "cnn.onnx").read_bytes()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.state.status == "starting")
        if how == "key":
            await pilot.press("x")
        else:
            assert await pilot.click("#train-cancel")
        gate.set()
        await wait_for(pilot, lambda: not screen.running)
        assert screen.state.status == "cancelled"
        assert "cnn · cancelled" in str(screen.query_one("#train-status", Static).render())
        log = log_text(screen)
        assert "cancelled: the models in use are unchanged" in log
        assert "start cnn" not in log and "epoch 1/" not in log  # the trainer never ran
        assert not screen.query_one("#train-errors").display
        assert not screen.query_one("#train-start", Button).disabled
    assert (tiny_models / "cnn.onnx").read_bytes() == before


async def test_the_form_lists_the_models_dl_train_names(make_app, monkeypatch, tmp_path):
    """The models, their epochs and their options are what `dl-train models` says: a new one shows,
    with only the fields it takes, and runs."""
    catalogue = json.loads(json.dumps(MODELS))
    catalogue["models"].insert(1, {"name": "tiny", "description": "a new model", "epochs": 2, "needs": [],
                                   "options": ["epochs"], "files": ["tiny.onnx"], "new key": [1]})
    (tmp_path / "models.json").write_text(json.dumps(catalogue))
    monkeypatch.setenv("FAKE_TRAINER_MODELS", str(tmp_path / "models.json"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot, epochs=10)
        select = screen.query_one("#train-model", Select)
        listed = [str(option.prompt) for option in select.query_one(OptionList).options]
        # The default first; then the form's own choice of a folder of images (`dl-train folder`).
        assert listed == ["cnn", "iris", "tiny", "vae", "vae-classifier", "all", "your images (a folder)"]
        screen.query_one("#train-epochs", Input).value = "10"  # the cnn's own: follows the model
        select.value = "tiny"
        await pilot.pause()
        shown = {name: screen.query_one(f"#train-{name}").display for name in ("epochs", "invert", "data", "restart")}
        assert shown == {"epochs": True, "invert": False, "data": False, "restart": False}
        assert screen.query_one("#train-epochs", Input).value == "2"
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.state.status == "finished")
        assert "start tiny: 2 epochs" in log_text(screen)


async def test_without_an_answer_from_dl_train_it_plays_back_only(make_app, monkeypatch):
    """`dl-train models` fails: the install hint, no Start, and the history of the models there."""
    monkeypatch.setenv("FAKE_TRAINER_MODELS", "fail")
    app = make_app()  # TensorFlow or not: without the list there is nothing to start
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        screen = app.screen
        await wait_for(pilot, lambda: screen.query("#install-note"))
        assert TRAIN_EXTRA in str(screen.query_one("#install-note", Static).render())
        assert screen.query_one("#train-start", Button).disabled
        assert not any(screen.query_one(f"#train-{name}").display for name in ("epochs", "invert", "data", "restart"))
        await wait_for(pilot, lambda: screen.state.status == "history (recorded)")
        assert screen.state.model == "cnn"
        await pilot.press("s")
        await pilot.pause()
        assert not screen.running
