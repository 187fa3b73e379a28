"""tui/training_run.py without Textual: every transition of a run, with the fake trainer as the process."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from fake_trainer import fake_command

from tui.trainer_client import TrainerProcess, TrainOptions
from tui.training_run import (
    Event,
    Exited,
    InvalidTransition,
    Launched,
    NotStarted,
    Output,
    Phase,
    TrainingRun,
)


def fake_run(tmp_path: Path, epochs: int = 2, model: str = "cnn", spawned: list | None = None) -> TrainingRun:
    argv = fake_command(TrainOptions(model=model, epochs=epochs), tmp_path / "out")

    def spawn(argv: list[str]) -> TrainerProcess:
        process = TrainerProcess(argv)
        if spawned is not None:
            spawned.append(process)
        return process

    return TrainingRun(argv, epochs, spawn=spawn)


def execute(run: TrainingRun, prepare=lambda: None, on_report=None) -> list:
    """Run the worker's part on this thread, applying each report as the screen's handler would."""
    phases = []

    def report(item) -> None:
        phases.append((type(item).__name__, run.apply(item)))
        if on_report is not None:
            on_report(item)

    run.execute(prepare, report)
    return phases


def test_a_run_goes_idle_starting_running_exporting_done(tmp_path):
    run = fake_run(tmp_path)
    assert run.phase is Phase.IDLE and not run.phase.active
    run.start()
    assert run.phase is Phase.STARTING and run.label("starting") == "starting"
    phases = execute(run)
    assert phases[0] == ("Launched", Phase.STARTING)  # the process runs, the trainer has not said start
    assert phases[1] == ("Event", Phase.RUNNING)
    seen = [phase for _, phase in phases]
    last_epoch = seen.index(Phase.EXPORTING)
    assert set(seen[1:last_epoch]) == {Phase.RUNNING} and set(seen[last_epoch:-1]) == {Phase.EXPORTING}
    assert phases[-1] == ("Exited", Phase.DONE)
    assert run.code == 0 and not run.problems and run.label("done") == "finished"
    assert not run.phase.active and run.phase.over


def test_a_run_starts_once(tmp_path):
    run = fake_run(tmp_path)
    run.start()
    with pytest.raises(InvalidTransition):
        run.start()
    with pytest.raises(InvalidTransition):
        TrainingRun([]).apply(Exited(0))  # an idle run cannot exit


def test_cancel_before_the_process_exists_never_starts_it(tmp_path):
    spawned: list = []
    run = fake_run(tmp_path, spawned=spawned)
    run.start()
    answers = []
    # The UI thread cancels while the worker prepares the staging folder.
    phases = execute(run, prepare=lambda: answers.append(run.cancel()))
    assert answers == [None]  # nothing to signal yet
    assert spawned == [] and phases == [("Exited", Phase.CANCELLED)]
    assert run.code is None and run.label("starting") == "cancelled"


def test_cancel_before_prepare_skips_it(tmp_path):
    run = fake_run(tmp_path)
    run.start()
    assert run.cancel() is None and run.cancelling and run.label("starting") == "cancelling"
    prepared = []
    assert execute(run, prepare=lambda: prepared.append(1)) == [("Exited", Phase.CANCELLED)]
    assert prepared == []


def test_cancel_from_another_thread_races_launch_safely(tmp_path):
    # However the cancel and the start interleave, a started process is handed to the canceller.
    for _ in range(5):
        spawned: list = []
        run = fake_run(tmp_path, spawned=spawned)
        run.start()
        got = []
        canceller = threading.Thread(target=lambda run=run, got=got: got.append(run.cancel()))
        canceller.start()
        process = run.launch()
        canceller.join()
        assert run.cancel_requested
        if process is not None:
            assert got == [process] or (got == [None] and process is spawned[0])
            process.cancel(grace=0.5)
            process.wait()
        else:
            assert spawned == [] and got == [None]


def test_cancel_after_the_process_starts_but_before_its_start_event(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER_START_DELAY", "30")  # dl-train importing TensorFlow
    run = fake_run(tmp_path)
    run.start()

    def on_report(item) -> None:
        if isinstance(item, Launched):
            assert run.phase is Phase.STARTING
            threading.Thread(target=run.cancel().cancel, daemon=True).start()

    phases = execute(run, on_report=on_report)
    assert phases[-1] == ("Exited", Phase.CANCELLED)
    assert all(phase is Phase.STARTING for _, phase in phases[:-1])
    assert not run.problems  # its "interrupted" error is the answer to our cancel


def test_cancel_while_running(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER_MODE", "slow")
    run = fake_run(tmp_path)
    run.start()

    def on_report(item) -> None:
        if isinstance(item, Event) and item.event["event"] == "batch" and not run.cancel_requested:
            assert run.phase is Phase.RUNNING
            threading.Thread(target=run.cancel().cancel, daemon=True).start()
            assert run.label("training") == "cancelling"

    phases = execute(run, on_report=on_report)
    assert phases[-1] == ("Exited", Phase.CANCELLED) and run.code == 130
    assert not run.problems and run.label("error") == "cancelled"
    assert run.cancel() is None  # over: nothing to cancel


def test_cancel_while_exporting(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER_EXPORT_DELAY", "30")
    run = fake_run(tmp_path, epochs=1)
    run.start()

    def on_report(item) -> None:
        if run.phase is Phase.EXPORTING and not run.cancel_requested:
            threading.Thread(target=run.cancel().cancel, daemon=True).start()

    phases = execute(run, on_report=on_report)
    assert ("Event", Phase.EXPORTING) in phases
    assert phases[-1] == ("Exited", Phase.CANCELLED)


def test_a_trainer_that_dies_fails_with_its_lines(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER_MODE", "garbage")
    run = fake_run(tmp_path)
    run.start()
    assert execute(run)[-1] == ("Exited", Phase.FAILED)
    assert run.code == 1 and run.label("training") == "failed"
    assert "Traceback (most recent call last):" in run.problems
    assert "RuntimeError: out of cheese" in run.stderr


def test_a_trainer_that_cannot_start_fails(tmp_path):
    run = TrainingRun([str(tmp_path / "no-such-dl-train"), "cnn"])
    run.start()
    assert execute(run) == [("Output", Phase.STARTING), ("Exited", Phase.FAILED)]
    assert run.code is None and "cannot start" in run.problems[0]


def test_a_staging_folder_that_cannot_be_prepared_fails(tmp_path):
    spawned: list = []
    run = fake_run(tmp_path, spawned=spawned)
    run.start()

    def prepare() -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / ".staging"))

    assert execute(run, prepare=prepare)[-1] == ("Exited", Phase.FAILED)
    assert spawned == [] and "Permission denied" in run.problems[0]


def test_an_error_event_fails_the_run_and_is_a_problem():
    run = TrainingRun(["dl-train"], 2)
    run.start()
    run.apply(Event({"event": "start", "model": "cnn", "epochs": 2}))
    run.apply(Event({"event": "error", "message": "out of memory"}))
    assert run.phase is Phase.RUNNING and run.label("error") == "error"  # until it exits
    assert run.apply(Exited(1, ["Killed"])) is Phase.FAILED
    assert list(run.problems) == ["out of memory"] and run.stderr == ["Killed"]


def test_exit_0_with_lines_that_are_not_events_is_done_but_says_so():
    run = TrainingRun(["dl-train"], 1)
    run.start()
    run.apply(Output("Epoch 1/1"))
    assert run.apply(Exited(0)) is Phase.DONE
    assert run.label("done") == "finished, with output that is not an event"


def test_all_goes_back_to_running_for_each_model_and_late_lines_change_nothing():
    run = TrainingRun(["dl-train", "all"], 1)
    run.start()
    events = [{"event": "start", "model": "cnn", "epochs": 1},
              {"event": "epoch_end", "model": "cnn", "epoch": 1, "epochs": 1},
              {"event": "done", "model": "cnn"},
              {"event": "start", "model": "iris", "epochs": 1}]
    assert [run.apply(Event(event)) for event in events] == [Phase.RUNNING, Phase.EXPORTING, Phase.EXPORTING,
                                                               Phase.RUNNING]
    assert run.apply(Event({"event": "export", "model": "iris", "path": "iris.onnx"})) is Phase.EXPORTING
    assert run.apply(Exited(0)) is Phase.DONE
    assert run.apply(Event({"event": "error", "message": "late"})) is Phase.DONE and not run.problems
    assert run.apply(Exited(1)) is Phase.DONE  # the first exit is the one that counts


def test_the_module_has_no_textual():
    import subprocess

    code = "import sys, tui.training_run; assert 'textual' not in sys.modules, 'textual imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


def test_the_command_line_may_come_from_prepare(tmp_path):
    """Started before dl-train said which models it trains: the worker makes the command line."""
    argv = fake_command(TrainOptions(model="iris", epochs=1), tmp_path / "out")
    run = TrainingRun([], 1)
    run.start()
    phases = execute(run, prepare=lambda: argv)
    assert run.argv == argv and phases[0] == ("Launched", Phase.STARTING) and phases[-1] == ("Exited", Phase.DONE)


def test_a_run_that_cannot_know_its_command_fails_with_why():
    run = TrainingRun([], 1)
    run.start()

    def prepare():
        raise NotStarted("cannot ask dl-train which models it trains: dl-train models exited with code 2")

    assert execute(run, prepare=prepare) == [("Output", Phase.STARTING), ("Exited", Phase.FAILED)]
    assert run.problems[0].startswith("cannot ask dl-train") and run.process is None
