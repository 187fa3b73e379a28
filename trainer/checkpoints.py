"""Per-epoch checkpoints: the model's and optimizer's variables and the epoch history, in one file.

Weights and history live in one file written atomically, so a kill can never leave them
disagreeing; the previous file is kept in case the newest cannot be read.
Imports no TensorFlow itself, but works on built Keras models.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from contextlib import suppress
from pathlib import Path

import numpy as np

from trainer.data import DataError, one_line, plural
from trainer.outdir import write_atomic
from trainer.progress import Reporter

KEEP = 2  # the newest checkpoint and the one before it
NAME = re.compile(r"epoch-(0|[1-9][0-9]*)\.npz")  # what save writes; epoch-3.old.npz is someone else's file


class CheckpointError(DataError):
    """A checkpoint that must not be resumed from; one line for the user, exit 2 like bad data."""


def checkpoint_dir(out: Path, name: str) -> Path:
    return out / ".checkpoints" / name


def save(model, folder: Path, history: list[dict]) -> None:
    """Write the checkpoint after epoch len(HISTORY), then drop all but the newest KEEP."""
    arrays = {f"v{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(_variables(model))}
    buffer = io.BytesIO()
    np.savez(buffer, history=np.array(json.dumps(history)), **arrays)
    write_atomic(folder / f"epoch-{len(history)}.npz", buffer.getvalue())
    for old in _newest_first(folder)[KEEP:]:
        old.unlink(missing_ok=True)


def restore(model, folder: Path, name: str, reporter: Reporter, upto: int | None = None) -> list[dict]:
    """Load the newest readable checkpoint (after epoch UPTO at most) into MODEL and return its
    history; [] when there is none."""
    found = [path for path in _newest_first(folder) if upto is None or _epoch(path) <= upto]
    for i, path in enumerate(found):
        try:
            return _load(model, path)
        except CheckpointError:
            raise
        except Exception as exc:  # noqa: BLE001 (truncated, corrupt or from another model: all mean "try the one before")
            after = f"trying {found[i + 1].name}" if i + 1 < len(found) else f"starting {name} from epoch 1"
            reporter.info(f"checkpoint {path} cannot be read ({one_line(exc)}); {after}")
    return []


def finish(out: Path, name: str) -> None:
    """Drop a run's checkpoints once its model is exported."""
    shutil.rmtree(checkpoint_dir(out, name), ignore_errors=True)
    with suppress(OSError):  # other runs' checkpoints are still there
        (out / ".checkpoints").rmdir()


def _load(model, path: Path) -> list[dict]:
    # Read and check everything before assigning anything: a bad file must not leave half a model.
    with np.load(path, allow_pickle=False) as npz:
        history = json.loads(str(npz["history"]))
        arrays = [npz[key] for key in sorted(k for k in npz.files if k != "history")]
    epoch = _epoch(path)
    if not isinstance(history, list) or len(history) != epoch:
        raise ValueError(f"history has {plural(len(history), 'epoch')}, expected {epoch}")
    variables = _variables(model)
    shapes = [tuple(v.shape) for v in variables]
    if [a.shape for a in arrays] != shapes:
        raise ValueError("its variables do not fit this model")
    # A run that diverged (or a changed file) would go on from NaN silently, and export NaN; the one
    # before it diverges the same way, so it is no way out either.
    if not all(np.isfinite(a).all() for a in arrays if np.issubdtype(a.dtype, np.inexact)):
        raise CheckpointError(f"checkpoint {path} holds NaN or infinite values (training diverged, or the file was changed); "
                              "run the same command with --restart to start over")
    for variable, array in zip(variables, arrays, strict=False):
        variable.assign(array)
    return history


def _variables(model) -> list:
    """Everything training changes: weights, dropout's seed state, the optimizer's moments and step count."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    return [*model.variables, *model.optimizer.variables]


def _newest_first(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [path for path in folder.iterdir() if NAME.fullmatch(path.name) and path.is_file()]
    return sorted(found, key=_epoch, reverse=True)


def _epoch(path: Path) -> int:
    return int(NAME.fullmatch(path.name).group(1))
