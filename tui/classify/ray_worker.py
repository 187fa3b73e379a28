"""What runs on the Ray workers: our decoding and our models, on batches of file names.

Nothing here imports Ray at module level: the driver hands these to `map_batches`, and a
worker imports this module from the code the driver shipped. A batch is a dict of numpy
columns; see COLUMNS. A file that cannot be read is an error in its row, never an
exception; anything that must stop the run (a model that will not load or run, an output
that cannot be written) travels back in the `fatal` column, so the driver reports it as
the local engine does, and Ray does not retry what would fail again.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np

from tui.classify.pipeline import Loaded, infer, load_chunk, quiet_pillow
from tui.classify.plan import Prep
from tui.classify.rows import Row, classified, failed
from tui.text import one_line

# In: `index` (the file's place in our listing), `path` (bytes, as given: os.fsencode), `error`
# (str or None: a folder that could not be read). Out, one row a file: those, `seconds`
# (load+preprocess), `infer` (its share of the batch's model time), `node`, `pid`,
# `provider`, `fatal` (None, or why the run must stop), and per model `p:NAME` [n, C]
# (NaN for a file that failed). Between decoding tasks and GPU actors, `image` [n, H, W].
PROBS = "p:"
CANNOT_WRITE = "cannot write output: "  # a fatal reason that is the output's, not a model's


def sources(batch: dict[str, np.ndarray], cwd: str) -> list[tuple[Path, str | None]]:
    """The batch's files as the local engine's sources, opened from the driver's folder
    (a worker's own working folder is elsewhere); rows show the path as given."""
    return [(Path(cwd, os.fsdecode(path)), text_or_none(error))
            for path, error in zip(batch["path"], batch["error"])]


def decode(batch: dict[str, np.ndarray], prep: Prep, cwd: str) -> dict[str, np.ndarray]:
    """A decoding task beside GPU actors: each file's model input (zeros where it failed)."""
    quiet_pillow()
    loaded = load_chunk(sources(batch, cwd), prep)
    images = np.zeros((len(loaded), *prep.size), np.float32)
    for i, item in enumerate(loaded):
        if item.image is not None:
            images[i] = item.image.reshape(prep.size)
    return {"index": batch["index"], "path": batch["path"], "error": _errors(loaded),
            "seconds": np.array([item.seconds for item in loaded]), "image": images}


class Classifier:
    """A stateful Ray actor: opens its onnxruntime sessions once, then classifies batches.

    The model files come as bytes (the workers need not see the driver's models folder)
    and are written to a folder of the actor's own, so twins and metadata read as there.
    """

    def __init__(self, files: dict[str, bytes], names: list[str], prep: Prep, device: str,
                 precision: str, threads: int | None, cwd: str) -> None:
        quiet_pillow()
        self.prep, self.cwd, self.names = prep, cwd, names
        self.fatal: str | None = None
        self.labels: dict[str, int] = {}
        self.folder = tempfile.TemporaryDirectory(prefix="dl-tui-models-")
        try:
            from tui.runtime import Runtime

            for name, blob in files.items():
                Path(self.folder.name, name).write_bytes(blob)
            self.runtime = Runtime([Path(self.folder.name)], device, interactive=True,
                                   threads=threads, precision=precision)
            self.models = [self.runtime.info(name) for name in names]
            self.provider = self.runtime.provider
        except Exception as error:  # reported by the driver as the local engine would
            self.fatal = one_line(error)
            self.models, self.provider = [], ""
        import ray

        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["index"])
        if self.fatal is not None:
            return self._out(batch, [None] * n, np.zeros(n), {}, 0.0, self.fatal)
        if "image" in batch:  # decoded by a task already
            loaded = [Loaded(Path(), None if text_or_none(error) else image, text_or_none(error), seconds)
                      for image, error, seconds in zip(batch["image"], batch["error"],
                                                       batch["seconds"])]
        else:
            loaded = load_chunk(sources(batch, self.cwd), self.prep)
        try:
            done = infer(loaded, self.runtime, self.models)
        except Exception as error:  # a ModelError: a model that breaks its contract
            return self._out(batch, [None] * n, np.zeros(n), {}, 0.0, one_line(error))
        good = np.array([item.error is None for item in loaded], bool)
        probs = {}
        for info in self.models:
            got = done.probs.get(info.name)
            full = np.full((n, got.shape[1] if got is not None else len(info.labels)), np.nan,
                           np.float32)
            if got is not None:
                full[good] = got
            probs[PROBS + info.name] = full
        return self._out(batch, _errors(loaded), np.array([item.seconds for item in loaded]),
                         probs, done.infer_seconds, None)

    def _out(self, batch: dict[str, np.ndarray], errors: list[str | None], seconds: np.ndarray,
             probs: dict[str, np.ndarray], infer_seconds: float,
             fatal: str | None) -> dict[str, np.ndarray]:
        n = len(batch["index"])
        return {"index": batch["index"], "path": batch["path"], "error": _objects(errors),
                "seconds": seconds, "infer": np.full(n, infer_seconds / max(n, 1)),
                "node": _objects([self.node] * n), "pid": np.full(n, os.getpid()),
                "provider": _objects([self.provider] * n), "fatal": _objects([fatal] * n),
                **probs}


def rows_of(batch: dict[str, np.ndarray], models: list[tuple[str, list[str]]]) -> list[list[Row]]:
    """Each file's rows, one per model, from a classified batch: what the local engine
    writes for the same file (a failed file: an error row per model)."""
    out = []
    for i, (path, error) in enumerate(zip(batch["path"], map(text_or_none, batch["error"]))):
        shown = Path(os.fsdecode(path))
        if error is not None:
            out.append([failed(shown, name, error) for name, _ in models])
        else:
            out.append([classified(shown, name, labels, batch[PROBS + name][i])
                        for name, labels in models])
    return out


def write_shard(batch: dict[str, np.ndarray], models: list[tuple[str, list[str]]], folder: str,
                fmt: str, top: int | None) -> dict[str, np.ndarray]:
    """Write a batch's rows as one file in `folder`, named by its first file's place in
    the listing: a task Ray runs again writes the same name, so no row is written twice.
    Returns the batch without its probabilities, with `failed` per file, for the driver."""
    fatal = next(filter(None, map(text_or_none, batch["fatal"])), None)
    rows = rows_of(batch, models) if fatal is None else []
    if fatal is None:
        try:
            write_rows(Path(folder, f"part-{int(batch['index'].min()):012d}.{fmt}"), rows, fmt,
                       models, top)
        except OSError as error:
            fatal = CANNOT_WRITE + (error.strerror or str(error))
    keep = ("index", "path", "error", "seconds", "infer", "node", "pid", "provider")
    failures = [any(row.error is not None for row in file) for file in rows]
    return {**{key: batch[key] for key in keep},
            "failed": np.array(failures or [False] * len(batch["index"]), bool),
            "fatal": _objects([fatal] * len(batch["index"]))}


def write_rows(path: Path, rows: list[list[Row]], fmt: str, models: list[tuple[str, list[str]]],
               top: int | None) -> None:
    """The rows as one file, written whole or not at all (a temporary name, then a rename)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(_table(rows), temporary)
        else:
            temporary.write_text(_text(rows, fmt, models, top), encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _text(rows: list[list[Row]], fmt: str, models: list[tuple[str, list[str]]],
          top: int | None) -> str:
    """The rows exactly as the streaming writers print them (CSV with its header)."""
    from tui.classify.writers import CsvWriter, JsonlWriter

    labels = list(dict.fromkeys(label for _, names in models for label in names))
    writer = CsvWriter(labels, top) if fmt == "csv" else JsonlWriter(top)
    with contextlib.redirect_stdout(io.StringIO()) as buffer:  # the writers print to stdout
        writer.write(rows)
    return buffer.getvalue()


def _table(rows: list[list[Row]]):  # -> pyarrow.Table
    """The JSON lines' fields as columns; probabilities a map from label to p."""
    import pyarrow as pa

    flat = [row for file in rows for row in file]
    return pa.table({
        "path": pa.array([os.fsencode(row.path).decode("utf-8", "replace") for row in flat]),
        "model": pa.array([row.model for row in flat], pa.string()),
        "label": pa.array([row.label for row in flat], pa.string()),
        "confidence": pa.array([row.confidence for row in flat], pa.float64()),
        "probabilities": pa.array([None if row.probabilities is None
                                   else list(row.probabilities.items()) for row in flat],
                                  pa.map_(pa.string(), pa.float64())),
        "error": pa.array([row.error for row in flat], pa.string()),
    })


def _errors(loaded: list[Loaded]) -> np.ndarray:
    return _objects([item.error for item in loaded])


def _objects(values: list) -> np.ndarray:
    """Text that may be None, as a column Arrow reads as strings: "" stands for None (an
    all-None column would come back as a column of NaN)."""
    array = np.empty(len(values), object)
    array[:] = [value or "" for value in values]
    return array


def text_or_none(value: object) -> str | None:
    """A value of a text column: None for "" (see _objects), for None and for NaN."""
    return value if isinstance(value, str) and value else None

