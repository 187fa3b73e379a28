"""The `dl-train` subprocess and its JSON-lines progress events (docs/model-contract.md), with no Textual in it."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.contract import DEFAULT_EPOCHS, INT8_MODEL_SUFFIX, ContractError, event_from_json
from tui.extras import TRAIN_EXTRA as INSTALL_HINT  # noqa: F401  (the Train screen's; dl-train says the same)
from tui.text import clean, one_line


@dataclass(frozen=True)
class TrainOptions:
    """One run's choices, as dl-train's command line takes them."""

    model: str
    epochs: int
    invert: bool = False
    restart: bool = False
    data: str = ""  # --data: an mnist.npz or IDX folder, for machines that cannot download MNIST
    folder: str = ""  # `dl-train folder DIR`: the labelled folder a classifier is trained on (model FOLDER)
    name: str = ""  # --name: the model `dl-train folder` makes


# The Train form's choice that trains a classifier on the user's own folder of images.
FOLDER = "folder"
# What `dl-train folder --name` accepts: a plain file name.
MODEL_NAME = re.compile(r"[A-Za-z0-9_-]+")


# Builds argv from the options and the models folder; tests swap in a scripted fake trainer.
CommandBuilder = Callable[[TrainOptions, Path], list[str]]


def have_tensorflow() -> bool:
    """Whether the `train` extra is installed, found without importing TensorFlow."""
    return importlib.util.find_spec("tensorflow") is not None


def trainer_argv() -> list[str]:
    """How to start the trainer: the `dl-train` script beside this Python, on PATH, else `python -m`."""
    beside = Path(sys.executable).with_name("dl-train")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("dl-train")
    return [found] if found else [sys.executable, "-m", "trainer.cli"]


def dl_train_command(options: TrainOptions, out: Path) -> list[str]:
    """The real `dl-train` command line for one run, writing into OUT (OPTIONS as `Trainables.resolve`
    leaves them: only what the model takes is set)."""
    if options.model == FOLDER:  # epochs 0: dl-train's own choice (early stopping)
        argv = [*trainer_argv(), FOLDER, options.folder, "--name", options.name,
                *(["--restart"] if options.restart else []), *(["--epochs", str(options.epochs)] if options.epochs else [])]
        return [*argv, "--out", str(out), "--progress", "jsonl"]
    argv = [*trainer_argv(), options.model]
    if options.invert:
        argv.append("--invert")
    if options.restart:
        argv.append("--restart")
    if options.data:
        argv += ["--data", options.data]
    return [*argv, "--epochs", str(options.epochs), "--out", str(out), "--progress", "jsonl"]


def dl_train_check_command(folder: Path) -> list[str]:
    """`dl-train check DIR --format json`: the folder's report, before training on it (no TensorFlow)."""
    return [*trainer_argv(), "check", str(folder), "--format", "json"]


def default_name(folder: str | os.PathLike[str]) -> str:
    """A model name from a folder's name: its letters, digits, - and _ (others become -)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(folder).name).strip("-")
    return name or "my-images"


def name_problem(name: str) -> str:
    """Why NAME cannot be a `dl-train folder --name` (one line), or ""."""
    if not MODEL_NAME.fullmatch(name):
        return "the model's name takes letters, digits, - and _ only"
    if name == "all" or name.endswith(INT8_MODEL_SUFFIX):
        return f"{name} is not a model name dl-train takes"
    return ""


@dataclass(frozen=True)
class FolderCheck:
    """What `dl-train check DIR --format json` said: its exit code (0: it can train), its report and
    its last stderr lines."""

    folder: str
    code: int | None  # None: it did not run
    report: dict[str, Any] = field(default_factory=dict)
    stderr: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether dl-train can train on the folder."""
        return self.code == 0

    def summary(self, limit: int = 20) -> list[str]:
        """The report as log lines: classes and counts, the split, sizes and modes, imbalance, then the
        problems, duplicates and leaks (LIMIT of each), paths written from the folder."""
        report, lines = self.report, []
        counts = report.get("counts") or {}
        classes = [str(c) for c in report.get("classes") or counts]
        if classes:
            lines.append(f"classes: {len(classes)}: " + ", ".join(f"{c} {_count(counts, c)}" for c in classes))
        splits = report.get("splits")
        if isinstance(splits, dict) and splits:
            given = (report.get("split") or {}).get("given")
            totals = " · ".join(f"{name} {sum(c.values()) if isinstance(c, dict) else c}" for name, c in splits.items())
            lines.append(f"split ({'given' if given else 'stratified'}): {totals}")
        if isinstance(report.get("images"), int):
            sizes, modes = report.get("sizes") or {}, report.get("modes") or {}
            line = f"images: {report['images']}, {report.get('skipped', 0)} skipped"
            if sizes.get("min") and sizes.get("max"):
                line += f" · sizes {_size(sizes['min'])} to {_size(sizes['max'])}"
            shown = [f"{mode} {n}" for mode, n in modes.items() if isinstance(n, int) and n]
            lines.append(line + (" · " + ", ".join(shown) if shown else ""))
        imbalance = report.get("imbalance") or {}
        if imbalance.get("imbalanced"):
            lines.append(f"imbalanced: {imbalance.get('largest')} has {imbalance.get('ratio')}× the images of "
                         f"{imbalance.get('smallest')}")
        for key, title in (("problems", "problem"), ("duplicates", "duplicate"), ("leaks", "leak")):
            items = report.get(key) or []
            if not isinstance(items, list) or not items:
                continue
            lines.append(plural(len(items), title) + ":")
            lines += [f"  {_item(item, self.folder)}" for item in items[:limit]]
            if len(items) > limit:
                lines.append(f"  … and {len(items) - limit} more")
        return [clean(line) for line in lines]  # folder names: no control characters reach the log

    def refusal(self) -> list[str]:
        """Why dl-train cannot train on the folder, in lines (its stderr, else what the report says)."""
        if self.stderr:
            return list(self.stderr)
        classes = self.report.get("classes")
        if isinstance(classes, list) and len(classes) < 2:
            return [f"{plural(len(classes), 'class', 'classes')} with images: at least two are needed"]
        return [f"dl-train check exited with code {self.code}"]


def _size(value: Any) -> str:
    return "×".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _count(counts: dict[str, Any], name: str) -> str:
    """A class's images: a number, or per split (`train 80 / val 10 / test 10`)."""
    value = counts.get(name)
    if isinstance(value, dict):
        return " / ".join(f"{k} {v}" for k, v in value.items())
    if value is None:  # counts by split, then class
        by_split = {split: c.get(name) for split, c in counts.items() if isinstance(c, dict) and name in c}
        return " / ".join(f"{k} {v}" for k, v in by_split.items())
    return str(value)


def _item(item: Any, root: str) -> str:
    """One problem, duplicate or leak as a line: `path: kind detail`, or its files joined by `=` (each
    with its split); paths inside ROOT written from there."""
    inside = root.rstrip(os.sep) + os.sep

    def short(path: Any) -> str:
        return str(path).removeprefix(inside) if root else str(path)

    def member(entry: Any) -> str:
        if isinstance(entry, dict):
            split = f" ({entry['split']})" if entry.get("split") else ""
            return short(entry.get("path", "?")) + split
        return short(entry)

    if isinstance(item, dict):
        members = item.get("files") or item.get("paths") or ([item["path"]] if "path" in item else [])
        head = " = ".join(member(m) for m in members) if isinstance(members, list) else short(members)
        rest = [str(item[k]) for k in ("kind", "detail") if item.get(k)]
        return one_line(f"{head}: {' '.join(rest)}" if head and rest else head or " ".join(rest) or json.dumps(item), 1000)
    if isinstance(item, list):
        return one_line(" = ".join(member(m) for m in item), 1000)
    return one_line(item, 1000)


def read_check(argv: Sequence[str], folder: str, cancelled: Callable[[], bool]) -> FolderCheck | None:
    """Run `dl-train check` (ARGV) and read its JSON report; None if CANCELLED() turned true first
    (the process is stopped). A report it cannot read is said in the stderr lines."""
    try:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, encoding="utf-8", errors="replace", start_new_session=True)
    except OSError as error:
        return FolderCheck(folder, None, {}, (f"cannot run {argv[0]}: {one_line(error)}",))
    result: dict[str, str] = {}
    reader = threading.Thread(target=lambda: result.update(zip(("out", "err"), proc.communicate(), strict=True)),
                              daemon=True)
    reader.start()
    while reader.is_alive():
        reader.join(0.05)
        if cancelled():
            proc.kill()
            reader.join(2)
            return None
    stderr = tuple(line.rstrip() for line in result.get("err", "").splitlines() if line.strip())[-12:]
    report: dict[str, Any] = {}
    out = result.get("out", "").strip()
    if out:
        try:
            parsed = json.loads(out)
            report = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            stderr = (*stderr, f"dl-train check printed something else: {one_line(out, 120)}")
    return FolderCheck(folder, proc.returncode, report, stderr)


def dl_train_models_command() -> list[str]:
    """`dl-train models --format json`: the models it trains (it imports no TensorFlow)."""
    return [*trainer_argv(), "models", "--format", "json"]


@dataclass(frozen=True)
class Trainable:
    """One model `dl-train` trains, as `dl-train models --format json` describes it."""

    name: str
    description: str = ""
    epochs: int = DEFAULT_EPOCHS  # where dl-train models leaves it out
    options: tuple[str, ...] = ()  # the Train form's fields it takes: epochs, invert, data, restart, ...
    needs: tuple[str, ...] = ()  # models whose outputs it builds on (vae-classifier: vae)
    files: tuple[str, ...] = ()  # what it writes; the first .onnx records its history
    variants: dict[str, tuple[str, ...]] = field(default_factory=dict)  # flag -> the models it makes instead

    def takes(self, option: str) -> bool:
        """Whether the form's OPTION applies to this model."""
        return option in self.options

    def history(self, invert: bool = False) -> tuple[str, str]:
        """The run's name and the model file whose `history` records it: (cnn-invert, cnn-invert)
        for cnn --invert, (vae, vae-encoder) for vae: its first ONNX file."""
        made = self.variants.get("invert") if invert else None
        if made:
            return made[0], made[0]
        return self.name, next((f.removesuffix(".onnx") for f in self.files if f.endswith(".onnx")), self.name)


class TrainablesError(ValueError):
    """`dl-train models` could not say which models it trains (one line)."""


@dataclass(frozen=True)
class Trainables:
    """The models `dl-train` trains and its default one."""

    default: str
    models: tuple[Trainable, ...]

    def names(self) -> tuple[str, ...]:
        """The model names as the form lists them: the default first, then dl-train's order."""
        return (self.default, *(model.name for model in self.models if model.name != self.default))

    def given(self, name: str) -> list[str]:
        """The files a run of NAME builds on: those of the models it needs, other than ONNX models."""
        found = {model.name: model for model in self.models}
        return [file for need in self.get(name).needs if need in found
                for file in found[need].files if not file.endswith(".onnx")]

    def writes_default(self, name: str) -> bool:
        """Whether a run of NAME writes the default model among others (`all`)."""
        model, default = self.get(name), self.get(self.default)
        return model is not default and f"{default.history()[1]}.onnx" in model.files

    def history(self, options: TrainOptions) -> tuple[str, str]:
        """Trainable.history for a run of OPTIONS; a run that also writes the default model (`all`)
        has the default's."""
        model = self.get(options.model)
        if self.writes_default(model.name):
            return self.get(self.default).history()
        return model.history(options.invert and model.takes("invert"))

    def get(self, name: str) -> Trainable:
        """The model NAME, or the default one for a name dl-train does not know (or "")."""
        found = {model.name: model for model in self.models}
        return found.get(name) or found.get(self.default) or self.models[0]

    def resolve(self, options: TrainOptions) -> TrainOptions:
        """OPTIONS for the model they name (the default for none), with what it does not take cleared
        and epochs 0 (the form not filled in yet) its own default."""
        if options.model == FOLDER:  # not one of dl-train's models: its own command, as the form filled it
            return options
        model = self.get(options.model)
        return TrainOptions(
            model=model.name, epochs=options.epochs if options.epochs > 0 else model.epochs,
            invert=options.invert and model.takes("invert"), restart=options.restart and model.takes("restart"),
            data=options.data if model.takes("data") else "",
        )

    @classmethod
    def from_json(cls, text: str) -> Trainables:
        """Parse `dl-train models --format json`; unknown keys are ignored. TrainablesError if it is not that."""
        try:
            data = json.loads(text)
            models = tuple(_trainable(entry) for entry in data["models"])
            default = str(data.get("default") or models[0].name)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
            raise TrainablesError(f"dl-train models printed something else ({type(error).__name__}: "
                                  f"{str(error)[:80]})") from None
        if not models:
            raise TrainablesError("dl-train models named no models")
        return cls(default, models)


def _trainable(entry: dict[str, Any]) -> Trainable:
    def names(value: Any) -> tuple[str, ...]:
        return tuple(str(item) for item in value or ())

    variant = entry.get("variant") or {}
    variants = {str(variant["flag"]): names(variant.get("models"))} if variant.get("flag") else {}
    return Trainable(
        name=str(entry["name"]), description=str(entry.get("description", "")),
        epochs=max(1, int(entry.get("epochs") or 10)), options=names(entry.get("options")),
        needs=names(entry.get("needs")), files=names(entry.get("files")), variants=variants,
    )


def read_trainables(argv: Sequence[str], timeout: float = 60.0) -> Trainables:
    """Run `dl-train models --format json` (ARGV) and parse what it prints; TrainablesError if it fails."""
    try:
        done = subprocess.run(list(argv), check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              encoding="utf-8", errors="replace", timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TrainablesError(f"cannot run {argv[0]}: {str(error)[:120]}") from None
    if done.returncode != 0:
        last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "")
        raise TrainablesError(f"dl-train models exited with code {done.returncode}: {last[:120]}")
    return Trainables.from_json(done.stdout)


class TrainablesCache:
    """`dl-train models`, asked once per app run on a thread of its own; callers wait for the answer.

    The thread is a daemon and waiting can be given up (CANCELLED, or an asyncio task cancelled),
    so a slow or hung dl-train never holds up quitting."""

    def __init__(self, argv: Callable[[], list[str]] = dl_train_models_command) -> None:
        self._argv = argv
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._found: Trainables | None = None
        self.error = ""  # why there are none

    def start(self) -> None:
        """Ask dl-train, unless it is already being (or was) asked."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._ask, name="dl-train models", daemon=True)
                self._thread.start()

    def _ask(self) -> None:
        try:
            self._found = read_trainables(self._argv())
        except TrainablesError as error:
            self.error = str(error)
        finally:
            self._done.set()

    def get(self, cancelled: Callable[[], bool] | None = None) -> Trainables | None:
        """The models, or None if dl-train cannot say (`error` says why) or CANCELLED() turned true
        first. Blocks: call it off the UI thread."""
        self.start()
        while not self._done.wait(0.05):
            if cancelled is not None and cancelled():
                return None
        return self._found

    async def wait(self) -> Trainables | None:
        """`get` for a coroutine: the event loop runs on meanwhile."""
        self.start()
        while not self._done.is_set():
            await asyncio.sleep(0.05)
        return self._found

    @property
    def known(self) -> Trainables | None:
        """What dl-train said, without waiting: None until it has answered."""
        return self._found if self._done.is_set() else None


def plural(count: int, word: str, words: str = "") -> str:
    """`1 epoch`, `2 epochs`: COUNT and the word in the number it takes."""
    return f"{count} {word if count == 1 else words or word + 's'}"


class NotAnEvent(ValueError):
    """A stdout line that is not one of the trainer's JSON events."""


def parse_event(line: str) -> dict[str, Any]:
    """One stdout line as the contract's typed event (tui/contract.py), given as its JSON object with
    every field (a missing one at its default); NotAnEvent if it is not one."""
    try:
        return event_from_json(line).to_dict()
    except ContractError as error:
        raise NotAnEvent(line.strip()) from error


@dataclass
class Series:
    """One curve: x in epochs (fractional within an epoch), y the value."""

    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)

    def add(self, x: float, y: float | None) -> None:
        """Append a point, ignoring missing values."""
        if y is not None:
            self.xs.append(float(x))
            self.ys.append(float(y))


@dataclass
class TrainingState:
    """Everything the Train screen draws, folded from events one at a time."""

    model: str = ""
    epochs: int = 0
    epoch: int = 0
    steps: int = 0
    step: int = 0
    status: str = "idle"
    loss: Series = field(default_factory=Series)
    val_loss: Series = field(default_factory=Series)
    metric: Series = field(default_factory=Series)  # accuracy, or the VAE's ELBO (see metric_name)
    val_metric: Series = field(default_factory=Series)
    metric_name: str = "accuracy"
    # The run before this one: a run of the same model that resumes continues its finished epochs.
    earlier: TrainingState | None = field(default=None, repr=False, compare=False)

    @property
    def epochs_done(self) -> float:
        """Finished epochs plus the running one's share: the epoch bar's progress."""
        if not self.epoch:
            return 0.0
        # A replayed history has no batches: each of its epochs is whole.
        return self.epoch - 1 + (min(self.step, self.steps) / self.steps if self.steps else 1.0)

    def apply(self, event: dict[str, Any]) -> str:
        """Fold one event into the state and return a log line for it."""
        kind = event["event"]
        if kind == "start":
            # `dl-train all` sends one start per model: each starts fresh curves.
            fresh = TrainingState(model=event.get("model", ""), epochs=int(event.get("epochs", 0)))
            fresh.steps, fresh.status = int(event.get("steps", 0)), "training"
            if self.earlier is not None and self.earlier.model == fresh.model:
                fresh.earlier = self.earlier
            self.__dict__.update(fresh.__dict__)
            return f"start {self.model}: {plural(self.epochs, 'epoch')}, {plural(self.steps, 'batch', 'batches')} each"
        if kind == "epoch_start":
            self.epoch, self.step = int(event["epoch"]), 0
            self.epochs = int(event.get("epochs", self.epochs))
            resumed = ""
            if self.epoch > 1 and not self.loss.xs and not self.val_loss.xs:  # the run's first epoch: a resume
                resumed = f" (resuming after epoch {self.epoch - 1})"
                if self.earlier is not None:
                    self._continue(self.earlier, self.epoch - 1)
            self.earlier = None
            return f"epoch {self.epoch}/{self.epochs}{resumed}"
        if kind == "batch":
            self.epoch, self.step = int(event["epoch"]), int(event["step"])
            self.steps = int(event.get("steps", self.steps)) or 1
            x = self.epoch - 1 + self.step / self.steps
            self.loss.add(x, event.get("loss"))
            self.metric.add(x, self._metric(event.get("metrics")))
            return ""
        if kind == "epoch_end":
            return self._epoch_end(event)
        if kind == "export":
            return f"exported {event.get('path')} (parity {_num(event.get('parity'))})"
        if kind == "done":
            self.status = "done"
            return f"done {event.get('model', self.model)}: {_format(event.get('metrics'))}"
        if self.status == "cancelling":  # the trainer's answer to our SIGINT, not a failure
            self.status = "cancelled"
            return ""
        self.status = "error"
        return f"error: {event.get('message', '')}"

    def _continue(self, earlier: TrainingState, done: int) -> None:
        """Start from EARLIER's curves up to epoch DONE, the last one the resumed run kept: what came
        after it (the interrupted epoch's batches) is replaced by this run's, never drawn twice."""
        for name in ("loss", "val_loss", "metric", "val_metric"):
            old: Series = getattr(earlier, name)
            kept = [(x, y) for x, y in zip(old.xs, old.ys, strict=False) if x <= done]
            setattr(self, name, Series([x for x, _ in kept], [y for _, y in kept]))
        self.metric_name = earlier.metric_name

    def _metric(self, metrics: dict[str, Any] | None) -> float | None:
        # The second chart's value: Keras's "accuracy", or the VAE's ELBO, which then names the chart.
        metrics = metrics or {}
        if "elbo" in metrics:
            self.metric_name = "elbo"
            return metrics["elbo"]
        return metrics.get("accuracy")

    def _epoch_end(self, event: dict[str, Any]) -> str:
        self.epoch, self.step = int(event["epoch"]), self.steps
        val = event.get("val_metrics") or {}
        self.loss.add(self.epoch, event.get("loss"))
        self.metric.add(self.epoch, self._metric(event.get("metrics")))
        self.val_loss.add(self.epoch, val.get("loss"))
        self.val_metric.add(self.epoch, self._metric(val))
        if self.epoch >= self.epochs and self.status == "training":
            self.status = "testing and exporting…"  # dl-train evaluates, then writes and checks each ONNX file
        seconds = event.get("seconds")
        took = f" in {seconds:.1f}s" if isinstance(seconds, (int, float)) else ""
        train = {"loss": event.get("loss"), **(event.get("metrics") or {})}
        shown_val = {f"val {k}": v for k, v in val.items()}
        return f"epoch {self.epoch}/{self.epochs}: {_format(train)} · {_format(shown_val)}{took}"


def history_event(model: str, epochs: int, row: dict[str, Any]) -> dict[str, Any]:
    """One `history` metadata row as the `epoch_end` event the trainer would have sent."""
    val = {k[4:]: v for k, v in row.items() if k.startswith("val_")}
    metrics = {k: v for k, v in row.items() if k not in {"epoch", "loss", "seconds"} and not k.startswith("val_")}
    return {
        "event": "epoch_end", "model": model, "epoch": row.get("epoch", 0), "epochs": epochs,
        "loss": row.get("loss"), "metrics": metrics, "val_metrics": val, "seconds": row.get("seconds"),
    }


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)


def _format(metrics: Any) -> str:
    if not isinstance(metrics, dict):
        return str(metrics)
    return ", ".join(f"{k} {_num(v)}" for k, v in metrics.items())


class TrainerProcess:
    """A running trainer: its stdout lines as they come, its stderr tail, and a clean cancel."""

    def __init__(self, argv: Sequence[str], cwd: Path | None = None, tail: int = 12) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # Its own session: a cancel can signal the whole group, and terminal signals meant for us miss it.
        self.proc = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace", bufsize=1,
            start_new_session=True,
        )
        self.stderr_tail: deque[str] = deque(maxlen=tail)
        self.cancelled = False
        self._stderr = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr.start()

    def _drain_stderr(self) -> None:
        # Drained on its own thread, or a chatty TensorFlow fills the pipe and the trainer blocks.
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if line.strip():
                self.stderr_tail.append(line.rstrip())

    def lines(self) -> Iterator[str]:
        """Stdout lines until the trainer closes it."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                yield line

    def wait(self) -> int:
        """Wait for exit (and the stderr reader) and return the exit code."""
        code = self.proc.wait()
        self._stderr.join(timeout=2)
        return code

    def cancel(self, grace: float = 10.0) -> None:
        """SIGINT first so the trainer can stop cleanly; terminate, then kill, if it lingers."""
        self.cancelled = True
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            if self.proc.poll() is not None:
                return
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue
