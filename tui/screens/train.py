"""Train: run `dl-train --progress jsonl` into a staging folder, watch its events as bars, curves and a log,
then ask before the new models replace the old; or replay a history."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, Header, Select, Static
from textual.worker import get_current_worker

from tui.screens.base import AppScreen
from tui.screens.keep_model import KeepModelScreen
from tui.screens.pick_folder import PickFolderScreen
from tui.staging import Comparison, Staging
from tui.text import one_line
from tui.trainer_client import (
    FOLDER,
    INSTALL_HINT,
    FolderCheck,
    Trainables,
    TrainerProcess,
    TrainingState,
    TrainOptions,
    history_event,
    name_problem,
    plural,
    read_check,
)
from tui.training_run import (
    Event,
    Exited,
    Launched,
    NotStarted,
    Output,
    Phase,
    Report,
    TrainingRun,
)
from tui.widgets.train_form import TrainForm
from tui.widgets.train_view import TrainView


class TrainScreen(AppScreen):
    """Options on the left; the run's progress, curves, log and errors on the right."""

    DEFAULT_CSS = """
    #install-note { border: round $warning; padding: 0 1; margin-bottom: 1; }

    /* Narrow (under 120 columns), large (180 and more), short (under 36 lines): tui/app.py's breakpoints. */
    /* By id: a Button's own rules (.-style-default.-primary) outrank a type selector. */
    TrainScreen.-narrow #train-form { width: 28; }
    TrainScreen.-large #train-form { width: 20%; }
    TrainScreen.-short #train-form Input { height: 1; border: none; padding: 0 1; background: $boost; }
    TrainScreen.-short #train-form Input:focus { background: $primary 40%; }
    TrainScreen.-short #train-form SelectCurrent { height: 1; border: none; padding: 0 1; background: $boost; }
    TrainScreen.-short #train-form Checkbox { height: 1; border: none; padding: 0; margin-top: 1; }
    TrainScreen.-short #train-form Button { height: 1; border: none; min-width: 0; margin-top: 1; }
    """

    BINDINGS: ClassVar = [
        Binding("s", "start", "Start", tooltip="Start dl-train with these options", id="train.start"),
        Binding("x", "cancel", "Cancel", tooltip="Stop the trainer; the models stay as they are", id="train.cancel"),
        Binding("h", "playback", "History", tooltip="Replay the model's recorded training history",
                id="train.playback"),
        Binding("m", "smooth", "Smooth", tooltip="Smooth the batch curves: off, 0.6, 0.9 (as TensorBoard)",
                id="train.smooth"),
        Binding("l", "log_scale", "Log", tooltip="Log scale on the loss chart's y axis (accuracy stays linear)",
                id="train.log"),
        # Not in the footer (80 columns are full); the form's model list offers it too.
        Binding("b", "browse", "Folder", tooltip="Train on your own images: pick a folder, see dl-train check's report",
                id="train.folder", show=False),
    ]
    PLAYBACK_INTERVAL = 0.2  # seconds per epoch when replaying a history

    @dataclass
    class Progress(Message):
        """One step of the run, as its worker reported it (tui/training_run.py)."""

        run: TrainingRun
        report: Report

    @dataclass
    class HistoryLoaded(Message):
        """A model's recorded history, to replay or to draw under a new run (or why not)."""

        model: str  # as the form names it: "vae", whose history is in vae-encoder.onnx
        history: list[dict[str, Any]]
        error: str
        replay: bool

    @dataclass
    class TrainablesLoaded(Message):
        """`dl-train models` answered (or None: it cannot say)."""

        trainables: Trainables | None

    @dataclass
    class Staged(Message):
        """The run's new models beside the current ones, to ask about (or why they cannot be read)."""

        staging: Staging
        outputs: list[Path]
        rows: list[Comparison]
        error: str

    @dataclass
    class Checked(Message):
        """`dl-train check` answered about a folder."""

        check: FolderCheck

    @dataclass
    class Kept(Message):
        """The new models replaced the old ones (new=True) or were dropped (or why that failed)."""

        new: bool
        names: list[str]
        error: str

    def __init__(self) -> None:
        super().__init__()
        self.state = TrainingState()
        self.run = TrainingRun([])  # idle until Start; each Start makes a new run
        self._playback: Timer | None = None
        self._pending: deque[dict[str, Any]] = deque()
        self._log_playback = True
        self.staging: Staging | None = None  # set from Start until the new models are kept or dropped
        self._history_in_log = ""  # the model whose replayed history the log ends with: h again adds nothing
        self.check: FolderCheck | None = None  # the last `dl-train check` of the form's folder
        self.checking = ""  # the folder being checked now
        self._after_check: TrainOptions | None = None  # a Start that waits for the check

    def compose(self) -> ComposeResult:
        """The form and the view."""
        yield Header()
        with Horizontal():
            yield TrainForm(self.dl_app.can_train, self.dl_app.trainables.known, id="train-form")
            yield TrainView(id="train-view")
        yield Footer()

    def on_mount(self) -> None:
        """Draw the empty run and ask for dl-train's models."""
        view = self.query_one(TrainView)
        view.draw(self.state)
        view.show_errors("", [])
        self.load_trainables()

    @work(thread=True, exclusive=True, group="train-models", exit_on_error=False)
    def load_trainables(self) -> None:
        """dl-train's models (asked once per app run: usually already there)."""
        worker = get_current_worker()
        trainables = self.dl_app.trainables.get(lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            self.post_message(self.TrainablesLoaded(trainables))

    @on(TrainablesLoaded)
    def _trainables_loaded(self, message: TrainablesLoaded) -> None:
        """Fill the form; without TensorFlow, or without an answer, say how to install the trainer and
        replay a history instead."""
        self.query_one(TrainForm).set_trainables(message.trainables, self.runtime.available())
        self.refresh_bindings()
        if not self.dl_app.can_train or message.trainables is None:
            note = Static(f"Training needs TensorFlow: [b]{escape(INSTALL_HINT)}[/b]\n"
                          "Meanwhile, here is the recorded history of the shipped model.", id="install-note")
            self.query_one(TrainForm).mount(note, before=0)
            if not self.running:
                self.action_playback()

    @property
    def can_start(self) -> bool:
        """TensorFlow is there, and dl-train has not failed to say which models it trains."""
        return self.dl_app.can_train and not self.dl_app.trainables.error

    @property
    def process(self) -> TrainerProcess | None:
        """The run's trainer process while it runs."""
        return self.run.process if self.run.phase.active else None

    @property
    def running(self) -> bool:
        """Whether a run is under way: the trainer, or the question of what to keep."""
        return self.run.phase.active or self.staging is not None

    def quit_question(self) -> str:
        """A run under way: quitting stops the trainer, or drops the models it made."""
        if self.run.phase.active:
            where = f" (epoch {self.state.epoch}/{self.state.epochs})" if self.state.epoch else ""
            return (f"dl-train is still training {self.state.model or 'a model'}{where}: quitting stops it; "
                    "Start resumes from the last finished epoch.")
        if self.staging is not None:
            return "The new models are not kept yet: quitting drops them."
        return ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Grey out Start while running or without TensorFlow, and Cancel while idle."""
        if action in ("start", "train"):
            return None if self.running or self.checking or not self.can_start else True
        if action == "browse":
            return None if self.running or self.checking else True
        if action == "cancel":
            return True if (self.run.phase.active and not self.run.cancel_requested) or self.checking else None
        if action == "playback":
            return None if self.running else True
        return True

    @on(TrainForm.StartRequested)
    def _start_requested(self, event: TrainForm.StartRequested) -> None:
        """Start the run the form describes."""
        self.start(event.options)

    def action_start(self) -> None:
        """Start a run with the form's options."""
        self.start(self.query_one(TrainForm).options())

    def action_train(self, model: str) -> None:
        """Choose MODEL in the form, then start it with the form's other options: the palette's "Train: start"."""
        if self.running or not self.can_start:
            return
        for select in self.query("#train-model").results(Select):
            select.value = model  # the form shows what runs
        self.start(replace(self.query_one(TrainForm).options(), model=model))

    def start(self, options: TrainOptions) -> None:
        """Launch the trainer into the staging folder, unless a run is under way. A folder is checked
        first (`dl-train check`): training starts once its report says it can."""
        if self.running or not self.can_start or self.checking:
            return
        if options.model == FOLDER:
            problem = ("choose the folder of images first (b)" if not options.folder else
                       name_problem(options.name))
            if problem:
                self.notify(problem, severity="warning", markup=False)
                return
            if self.check is None or self.check.folder != options.folder:
                self._after_check = options
                self.check_folder(options.folder)
                return
            if not self.check.ok:
                self.notify("dl-train check says it cannot train on this folder: see its report",
                            severity="warning", markup=False)
                return
        self._stop_playback()
        staging = self.staging = Staging(self.runtime.folders)
        trainables = self.dl_app.trainables.known
        # Known (nearly always): the command now; else the run's worker waits for dl-train's answer.
        if trainables is not None:
            options = trainables.resolve(options)
        argv = self.dl_app.trainer_command(options, staging.folder) if trainables is not None else []
        self.run = TrainingRun(argv, options.epochs)
        self.run.start()
        # A run of the same model that resumes continues this one's curves (a replayed history is not a run).
        earlier = None if self.state.status.startswith("history") else self.state
        model = options.name if options.model == FOLDER else options.model
        self.state = TrainingState(model=model, epochs=options.epochs, status="starting", earlier=earlier)
        self._history_in_log = ""
        view = self.query_one(TrainView)
        view.show_errors("", [])
        view.draw(self.state)
        if argv:
            view.log_line("$ " + " ".join(argv))
        self.query_one(TrainForm).set_running(True)
        self.refresh_bindings()
        view.show_previous([])
        if options.model == FOLDER:  # the model of that name it would replace, if there is one
            self.load_history(options.name, options.name, replay=False)
        elif trainables is not None and not trainables.writes_default(options.model):
            self.load_history(*trainables.history(options), replay=False)  # the run it would replace, under it
        self.run_trainer(self.run, staging, options)

    # A folder of the user's images -----------------------------------------------------------------
    def action_browse(self) -> None:
        """Pick the folder to train on with the browser; dl-train check reports on it."""
        if self.running or self.checking:
            return
        form = self.query_one(TrainForm)
        if self.dl_app.trainables.known is not None:  # the form offers the folder once dl-train answered
            for select in self.query("#train-model").results(Select):
                select.value = FOLDER  # the form shows the folder's fields
        folder = form.options().folder
        start = Path(folder) if folder and Path(folder).is_dir() else self.dl_app.start_path
        self.app.push_screen(PickFolderScreen(start, "Train on which folder of images?"), self._picked)

    @on(TrainForm.BrowseRequested)
    def _browse_requested(self) -> None:
        """The form's Browse button: the same as the `b` key."""
        self.action_browse()

    def _picked(self, folder: Path | None) -> None:
        if folder is not None:
            self.query_one(TrainForm).set_folder(str(folder))
            self.check_folder(str(folder))

    def check_folder(self, folder: str) -> None:
        """Run `dl-train check` on FOLDER in a worker; its report goes to the log."""
        self.checking = folder
        self.check = None
        view = self.query_one(TrainView)
        view.show_errors("", [])
        argv = self.dl_app.trainer_check(Path(folder))
        view.log_line("$ " + " ".join(argv))
        self.refresh_bindings()
        self.run_check(argv, folder)

    @work(thread=True, exclusive=True, group="train-check", exit_on_error=False)
    def run_check(self, argv: list[str], folder: str) -> None:
        """Run dl-train check off the UI thread (it reads every image once)."""
        worker = get_current_worker()
        checked = read_check(argv, folder, lambda: worker.is_cancelled)
        if checked is not None and not worker.is_cancelled:
            self.post_message(self.Checked(checked))

    @on(Checked)
    def _checked(self, message: Checked) -> None:
        """Show the report; start the run that waited for it if the folder can be trained on."""
        checked = message.check
        if checked.folder != self.checking:
            return
        self.checking = ""
        self.check = checked
        view = self.query_one(TrainView)
        for line in checked.summary():
            view.log_line(line)
        waiting, self._after_check = self._after_check, None
        if checked.ok:
            view.log_line("dl-train check: the folder can be trained on" +
                          ("" if waiting else "; s starts"))
        else:
            title = ("dl-train check: cannot train on this folder" if checked.code is not None
                     else "dl-train check did not run")
            view.show_errors(title, checked.refusal())
        self.refresh_bindings()
        if waiting is not None and checked.ok and waiting.folder == checked.folder:
            self.start(waiting)

    @work(thread=True, exclusive=True, group="train", exit_on_error=False)
    def run_trainer(self, run: TrainingRun, staging: Staging, options: TrainOptions) -> None:
        """Prepare the staging folder, run the trainer and turn each step into a message."""

        def prepare() -> list[str]:
            trainables = self.dl_app.trainables.get(lambda: run.cancel_requested)
            if run.cancel_requested:
                return []  # launch sees the cancel
            if trainables is None:
                raise NotStarted(f"cannot ask dl-train which models it trains: {self.dl_app.trainables.error}")
            resolved = trainables.resolve(options)
            try:
                staging.prepare(trainables.given(resolved.model))
            except OSError as error:
                raise NotStarted(f"cannot use {staging.folder}: {one_line(error)}") from error
            return run.argv or self.dl_app.trainer_command(resolved, staging.folder)

        run.execute(prepare, lambda report: self.post_message(self.Progress(run, report)))

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        """Hand the step to the run, fold an event into the curves, log and redraw."""
        run = message.run
        if run is not self.run:
            return
        report = message.report
        phase = run.apply(report)
        view = self.query_one(TrainView)
        if isinstance(report, Exited):
            return self._finished(run)
        if isinstance(report, Event):
            line = self.state.apply(report.event)
            if report.event["event"] != "error" or not run.cancel_requested:  # the answer to our cancel
                view.log_line(line)
        elif isinstance(report, Output):
            view.log_line(report.line)
        elif isinstance(report, Launched):
            if not self.state.model:  # started before dl-train's models were known: now they are
                view.log_line("$ " + " ".join(report.argv))
            self.refresh_bindings()
        if phase.active:
            self.state.status = run.label(self.state.status)
        view.draw(self.state)

    def _finished(self, run: TrainingRun) -> None:
        """Report how the run ended, then compare what it made with the models in use."""
        view = self.query_one(TrainView)
        self.state.status = run.label(self.state.status)
        if run.phase is Phase.CANCELLED:
            view.log_line("cancelled: the models in use are unchanged; Start resumes from the last finished "
                          "epoch (--restart starts over)")
        elif run.phase is Phase.FAILED or run.problems:
            title = "dl-train did not start" if run.code is None else f"dl-train exited with code {run.code}"
            view.show_errors(title, [*run.problems, *run.stderr])
        view.draw(self.state)
        if self.staging is None or run.code is None:
            self._run_over()
        else:
            self.compare_staged(self.staging)

    @work(thread=True, exclusive=True, group="train-keep", exit_on_error=False)
    def compare_staged(self, staging: Staging) -> None:
        """Read the new models' metrics, and the current ones', off the UI thread."""
        outputs: list[Path] = []
        try:
            outputs = staging.outputs()
            rows = staging.compare(self.runtime, outputs) if outputs else []
            self.post_message(self.Staged(staging, outputs, rows, ""))
        except Exception as error:  # noqa: BLE001  an unreadable new model: say so, keep the old ones
            self.post_message(self.Staged(staging, outputs, [], one_line(error) or type(error).__name__))

    @on(Staged)
    def _staged(self, message: Staged) -> None:
        """Ask which models to keep; without new models the run is over."""
        if message.error:
            self.query_one(TrainView).log_line(f"cannot read the new models: {message.error}")
            self.keep(message.staging, message.outputs, False)
        elif not message.outputs:
            self._run_over()
        else:
            self.app.push_screen(KeepModelScreen(message.rows),
                                 lambda new: self.keep(message.staging, message.outputs, bool(new)))

    @work(thread=True, exclusive=True, group="train-keep", exit_on_error=False)
    def keep(self, staging: Staging, outputs: list[Path], new: bool) -> None:
        """Move the new models in (the old ones to previous/), or drop them."""
        names = [path.name for path in outputs]
        try:
            if new:
                staging.keep_new(outputs)
            else:
                staging.discard(outputs)
            self.post_message(self.Kept(new, names, ""))
        except OSError as error:
            self.post_message(self.Kept(new, names, one_line(error)))

    @on(Kept)
    def _kept(self, message: Kept) -> None:
        """Log the choice and let every screen read the models again."""
        view = self.query_one(TrainView)
        files = ", ".join(message.names)
        if message.error:
            view.log_line(f"could not {'keep' if message.new else 'drop'} {files}: {message.error}")
        elif message.new:
            view.log_line(f"kept the new {files}; Restore previous (p) on the Models screen goes back")
            if any(name.endswith(".split.json") for name in message.names):  # a model trained on a folder
                view.log_line("6 evaluates it on its held-out test part: the confusion matrix, mistakes, label errors")
        else:
            view.log_line(f"kept the old models; dropped the new {files}")
        self._run_over()
        if message.new:
            self.dl_app.models_changed()

    def _run_over(self) -> None:
        self.staging = None
        self.query_one(TrainForm).set_running(False)
        self.refresh_bindings()

    @on(TrainForm.CancelRequested)
    def _cancel_requested(self) -> None:
        """The form's Cancel button: the same as the `x` key."""
        self.action_cancel()

    def action_cancel(self) -> None:
        """Stop the run: before the trainer starts, it never will; after, SIGINT first, so it can stop
        between steps."""
        if self.checking and not self.run.phase.active:  # dl-train check is reading the folder: stop it
            self.workers.cancel_group(self, "train-check")
            self.checking, self._after_check = "", None
            self.query_one(TrainView).log_line("dl-train check stopped")
            self.refresh_bindings()
            return
        if not self.run.phase.active or self.run.cancel_requested:
            return
        process = self.run.cancel()
        self.state.status = self.run.label(self.state.status)
        view = self.query_one(TrainView)
        view.log_line("stopping dl-train…")
        view.draw(self.state)
        self.refresh_bindings()
        if process is not None:
            self.stop_trainer(process)

    @work(thread=True, group="train-cancel", exit_on_error=False)
    def stop_trainer(self, process: TrainerProcess) -> None:
        """Signal and wait off the UI thread; the run's worker reports the exit."""
        process.cancel()

    def on_unmount(self) -> None:
        """Do not leave a trainer running after the app quits, nor let one start."""
        self.run.cancel()
        if self.process is not None:
            self.process.cancel(grace=3.0)

    @on(TrainForm.PlaybackRequested)
    def _playback_requested(self, event: TrainForm.PlaybackRequested) -> None:
        """Replay the chosen model's history."""
        self.playback(event.options)

    def action_playback(self) -> None:
        """Replay the recorded history of the model chosen in the form."""
        if not self.running:
            self.playback(self.query_one(TrainForm).options())

    def playback(self, options: TrainOptions) -> None:
        """Load the model's history off the UI thread."""
        trainables = self.dl_app.trainables.known
        if trainables is not None:  # `all` has no history of its own: the default model's stands in
            self.load_history(*trainables.history(options))
        elif options.model:  # dl-train cannot say: the form lists the models files
            self.load_history(options.model, options.model)

    @work(thread=True, exclusive=True, group="train-history", exit_on_error=False)
    def load_history(self, model: str, source: str, replay: bool = True) -> None:
        """Read the `history` metadata of SOURCE, the file that records MODEL's run."""
        try:
            history = self.runtime.info(source).history
            self.post_message(self.HistoryLoaded(model, history, "", replay))
        except Exception as error:  # noqa: BLE001  no such model: say so in the log
            self.post_message(self.HistoryLoaded(model, [], one_line(error), replay))

    @on(HistoryLoaded)
    def _history_loaded(self, message: HistoryLoaded) -> None:
        """Replay the history one epoch per tick, through the same drawing as a live run; or
        draw it under the run that is starting (a model never trained has none: nothing to say)."""
        view = self.query_one(TrainView)
        if not message.replay:
            if self.running:
                view.show_previous(message.history)
            return
        view.show_previous([])
        if message.error or not message.history:
            view.log_line(message.error or f"{message.model} has no recorded history")
            return
        self._stop_playback()
        self.state = TrainingState(model=message.model, epochs=len(message.history), status="history")
        self._pending = deque(history_event(message.model, len(message.history), row) for row in message.history)
        # Replayed again (h twice): the curves play again, the log already holds these lines.
        self._log_playback = self._history_in_log != message.model
        if self._log_playback:
            view.log_line(f"recorded history of {message.model}: {plural(len(message.history), 'epoch')}")
        self._history_in_log = message.model
        view.draw(self.state)
        self._playback = self.set_interval(self.PLAYBACK_INTERVAL, self._play_one)

    def _play_one(self) -> None:
        if not self._pending:
            self._stop_playback()
            return
        view = self.query_one(TrainView)
        line = self.state.apply(self._pending.popleft())
        if self._log_playback:
            view.log_line(line)
        self.state.status = "history" if self._pending else "history (recorded)"
        view.draw(self.state)

    def action_smooth(self) -> None:
        """Cycle the smoothing of the batch curves."""
        weight = self.query_one(TrainView).cycle_smoothing()
        self.notify(f"smoothing {weight:g}" if weight else "smoothing off")

    def action_log_scale(self) -> None:
        """Toggle a log scale on the loss chart's y axis."""
        log = self.query_one(TrainView).toggle_log()
        self.notify("log scale" if log else "linear scale")

    def _stop_playback(self) -> None:
        # A stopped timer costs nothing; a running one would keep waking an idle app.
        if self._playback is not None:
            self._playback.stop()
            self._playback = None

