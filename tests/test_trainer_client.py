"""tui/trainer_client.py without Textual: parsing events, folding them into curves, the process and its cancel."""

from __future__ import annotations

import json
import sys
import threading

import pytest
from fake_trainer import MODELS, fake_command, fake_models_command

from tui.trainer_client import (
    NotAnEvent,
    Trainables,
    TrainablesCache,
    TrainablesError,
    TrainerProcess,
    TrainingState,
    TrainOptions,
    dl_train_command,
    dl_train_models_command,
    history_event,
    parse_event,
    read_trainables,
)


def test_parse_event_accepts_contract_events_only():
    assert parse_event('{"event": "done", "model": "cnn"}\n')["model"] == "cnn"
    for line in ("Epoch 1/10", "[1, 2]", '{"no": "event"}', '{"event": "party"}'):
        with pytest.raises(NotAnEvent):
            parse_event(line)


def test_state_folds_a_run_into_bars_and_curves():
    state = TrainingState()
    events = [
        {"event": "start", "model": "cnn", "epochs": 2, "steps": 4, "batch_size": 128, "train_size": 512},
        {"event": "epoch_start", "model": "cnn", "epoch": 1, "epochs": 2},
        {"event": "batch", "model": "cnn", "epoch": 1, "step": 2, "steps": 4, "loss": 0.9,
         "metrics": {"accuracy": 0.6}},
        {"event": "epoch_end", "model": "cnn", "epoch": 1, "epochs": 2, "loss": 0.5,
         "metrics": {"accuracy": 0.8}, "val_metrics": {"loss": 0.6, "accuracy": 0.7}, "seconds": 1.0},
    ]
    lines = [state.apply(event) for event in events]
    assert (state.epoch, state.step, state.steps, state.status) == (1, 4, 4, "training")
    assert state.loss.xs == [0.5, 1.0] and state.loss.ys == [0.9, 0.5]
    assert state.val_metric.ys == [0.7]
    assert "loss 0.5, accuracy 0.8 · val loss 0.6, val accuracy 0.7" in lines[-1]
    assert state.apply({"event": "error", "message": "boom"}) == "error: boom"
    assert state.status == "error"


def test_epochs_done_counts_the_running_epoch():
    state = TrainingState()
    state.apply({"event": "start", "model": "cnn", "epochs": 2, "steps": 4})
    assert state.epochs_done == 0
    progress = []
    for event in ({"event": "epoch_start", "epoch": 1}, {"event": "batch", "epoch": 1, "step": 2, "steps": 4},
                  {"event": "epoch_end", "epoch": 1}, {"event": "epoch_start", "epoch": 2},
                  {"event": "batch", "epoch": 2, "step": 1, "steps": 4}):
        state.apply(event)
        progress.append(state.epochs_done)
    assert progress == [0.0, 0.5, 1.0, 1.0, 1.25]


def test_the_vae_elbo_names_the_second_chart_from_its_first_batch():
    state = TrainingState(model="vae", epochs=1, steps=2)
    state.apply({"event": "batch", "epoch": 1, "step": 1, "steps": 2, "loss": 200.0, "metrics": {"elbo": -200.0}})
    assert state.metric_name == "elbo" and state.metric.ys == [-200.0]


def test_the_trainers_error_after_a_cancel_is_the_cancel():
    state = TrainingState(model="cnn", status="cancelling")
    assert state.apply({"event": "error", "message": "interrupted; run the same command again"}) == ""
    assert state.status == "cancelled"


def test_history_replays_as_epoch_end_events():
    vae = [{"epoch": 1, "loss": 190.0, "val_elbo": -180.0, "seconds": 2.0}]
    event = history_event("vae-encoder", 1, vae[0])
    assert event["val_metrics"] == {"elbo": -180.0} and event["metrics"] == {}
    state = TrainingState(model="vae-encoder", epochs=1)
    state.apply(event)
    assert state.metric_name == "elbo" and state.val_metric.ys == [-180.0]
    assert state.loss.ys == [190.0] and state.epoch == 1


def test_dl_train_command(tmp_path):
    trainables = Trainables.from_json(json.dumps(MODELS))
    argv = dl_train_command(trainables.resolve(TrainOptions("cnn", 3, invert=True, data="mnist.npz")), tmp_path)
    assert argv[-10:] == ["cnn", "--invert", "--data", "mnist.npz", "--epochs", "3", "--out", str(tmp_path),
                          "--progress", "jsonl"]
    iris = dl_train_command(trainables.resolve(TrainOptions("iris", 3, invert=True, restart=True, data="x")),
                            tmp_path)
    assert "--invert" not in iris and "--data" not in iris and "--restart" in iris


def test_the_models_dl_train_trains_come_from_dl_train_models():
    """What the Train form, the palette and staging know of each model is what `dl-train models` says."""
    trainables = read_trainables(dl_train_models_command())
    assert trainables.names() == ("cnn", "iris", "vae", "vae-classifier", "all")  # the default first
    assert trainables.resolve(TrainOptions("", 0)) == TrainOptions("cnn", 10)
    assert trainables.resolve(TrainOptions("vae", 0, invert=True, data="d")) == TrainOptions("vae", 10, data="d")
    assert trainables.get("cnn").takes("invert") and not trainables.get("iris").takes("data")
    assert trainables.history(TrainOptions("cnn", 1, invert=True)) == ("cnn-invert", "cnn-invert")
    assert trainables.history(TrainOptions("vae", 1)) == ("vae", "vae-encoder")
    assert trainables.history(TrainOptions("all", 1)) == ("cnn", "cnn")  # all has none of its own
    assert trainables.writes_default("all") and not trainables.writes_default("iris")
    assert "vae.weights.h5" in trainables.given("vae-classifier") and trainables.given("vae") == []


def test_the_fake_trainer_says_what_dl_train_says():
    """tests/fake_trainer.py's `models` stands in for dl-train's in the app's tests: they must agree."""
    real = read_trainables(dl_train_models_command())
    fake = read_trainables(fake_models_command())
    assert fake.default == real.default
    assert [(m.name, m.epochs, m.options, m.needs, m.files, m.variants) for m in fake.models] == [
        (m.name, m.epochs, m.options, m.needs, m.files, m.variants) for m in real.models]


def test_dl_train_models_that_fails_or_prints_something_else_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER_MODELS", "fail")
    with pytest.raises(TrainablesError, match="exited with code 2: Error: No such command 'models'"):
        read_trainables(fake_models_command())
    with pytest.raises(TrainablesError, match="cannot run"):
        read_trainables([str(tmp_path / "no-dl-train"), "models"])
    for text in ("", "[]", '{"models": []}', '{"models": [{"epochs": 3}]}', '{"models": [{"name": "x", "epochs": "many"}]}'):
        with pytest.raises(TrainablesError):
            Trainables.from_json(text)
    cache = TrainablesCache(fake_models_command)
    assert cache.get() is None and "exited with code 2" in cache.error
    monkeypatch.delenv("FAKE_TRAINER_MODELS")
    assert cache.get() is None  # asked once per app run


def test_unknown_keys_are_ignored_and_a_new_model_is_listed():
    data = json.loads(json.dumps(MODELS))
    data["models"].insert(1, {"name": "tiny", "epochs": 3, "options": ["epochs"], "files": ["tiny.onnx"],
                              "shape": [8, 8, 3], "future": {"key": 1}})
    data["colour"] = "blue"
    trainables = Trainables.from_json(json.dumps(data))
    assert "tiny" in trainables.names() and trainables.resolve(TrainOptions("tiny", 0, restart=True)) == TrainOptions(
        "tiny", 3)


def test_process_reads_lines_and_keeps_stderr(tmp_path):
    code = "import sys; print('{\"event\": \"done\"}'); print('oops', file=sys.stderr); sys.exit(3)"
    process = TrainerProcess([sys.executable, "-c", code])
    assert [json.loads(line)["event"] for line in process.lines()] == ["done"]
    assert process.wait() == 3
    assert list(process.stderr_tail) == ["oops"]


def test_cancel_interrupts_the_trainer(tmp_path, monkeypatch):
    """The slow fake trainer never ends by itself: its output ending at all is the cancel working
    (how soon: bench/bench_app_timing.py). A thread reads it, so a cancel that fails fails here
    after a minute instead of hanging the suite."""
    monkeypatch.setenv("FAKE_TRAINER_MODE", "slow")
    process = TrainerProcess(fake_command(TrainOptions("cnn", 2), tmp_path))
    lines = process.lines()
    assert parse_event(next(lines))["event"] == "start"
    process.cancel()
    rest: list[dict] = []
    reader = threading.Thread(target=lambda: rest.extend(parse_event(line) for line in lines), daemon=True)
    reader.start()
    reader.join(60)
    if reader.is_alive():
        process.proc.kill()
        raise AssertionError("the trainer was still writing a minute after cancel()")
    assert process.wait() == 130 and process.cancelled
    assert rest[-1]["event"] == "error" and rest[-1]["message"].startswith("interrupted")
