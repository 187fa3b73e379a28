"""How a run is shared out: worker processes or none, what they do, and files per task.

Decided once, by `make_plan`, from the first files found; the rest of the run follows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from tui.runtime import ModelInfo
from tui.runtime.preprocess import DECODE_MEMORY, MAX_FILE_BYTES
from tui.runtime.preprocessing import View
from tui.runtime.sessions import cores

CHUNK = 64  # files per decoding task sent to a worker: big enough to hide the hand-over cost
INFER_CHUNK = 128  # at most this many per task when the workers run the models too
HEAD = max(CHUNK, INFER_CHUNK) + 1  # files read before planning: enough to tell a short run


@dataclass(frozen=True)
class Prep:
    """How to turn a file into model inputs: it is read once (in colour if a view needs it),
    then each distinct view the models take is made once."""

    polarity: str | None = None  # --polarity as given; None: each model's own default
    normalize: bool | None = None  # --normalize/--no-normalize as given; None: each model's own
    views: tuple[View, ...] = (View(),)  # every distinct input the models take (default: MNIST's)
    max_bytes: int = MAX_FILE_BYTES  # --max-file-size: bigger files get an error row
    memory: int = DECODE_MEMORY  # the most one file's decoding may add to a process

    @property
    def colour(self) -> bool:
        """Whether files are read in colour (some view is)."""
        return any(view.colour for view in self.views)

    def view_of(self, info: ModelInfo) -> int:
        """Which of `views` the model takes."""
        return self.views.index(info.preprocessing.view(self.polarity, self.normalize))


def prep_for(models: Sequence[ModelInfo], polarity: str | None = None, normalize: bool | None = None,
             **limits: int) -> Prep:
    """The Prep for these models: one view per distinct input they take, in their order."""
    views = tuple(dict.fromkeys(info.preprocessing.view(polarity, normalize) for info in models))
    return Prep(polarity, normalize, views or (View(),), **limits)


@dataclass(frozen=True)
class Plan:
    """Everything a run needs, already checked."""

    models: list[ModelInfo]
    prep: Prep
    batch_size: int = 256
    workers: int = 1  # processes; 1 runs everything here
    # On the CPU the workers run the models too; a GPU stays with this process.
    infer_in_workers: bool = False

    @property
    def chunk(self) -> int:
        """Files per task sent to a worker. Running the models, one model run per task: no
        bigger than a batch, small enough to share the work out evenly at the end of a run."""
        return min(self.batch_size, INFER_CHUNK) if self.infer_in_workers else CHUNK


def make_plan(models: list[ModelInfo], prep: Prep, batch_size: int, workers: int | None,
              on_cpu: bool, head: Sequence[object]) -> Plan:
    """The run's plan: `workers` processes (default: `default_workers`), unless the first
    files found (`head`, up to HEAD of them) fit in one task: a short run starts none."""
    plan = Plan(models, prep, batch_size, workers or default_workers(on_cpu), infer_in_workers=on_cpu)
    return plan if len(head) > plan.chunk else replace(plan, workers=1)


def max_workers() -> int:
    """The most worker processes worth starting: a few per core can help when reading
    waits on a slow disk; beyond that they only queue for the same cores, each holding
    its own copy of the models."""
    return min(64, 4 * cores())


def default_workers(on_cpu: bool) -> int:
    """Worker processes: on the CPU one per core, each decoding and running the models;
    beside a GPU a third of the cores, decoding only (the GPU needs feeding), at least two."""
    if on_cpu:
        return max(1, min(cores(), 8))  # beyond that, writing the results here is the limit
    return max(1, min(cores(), 8, max(2, cores() // 3)))
