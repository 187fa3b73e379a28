"""What runs on the Ray workers: our decoding and our models, on batches of file names.

Nothing here imports Ray at module level: the driver hands these to `map_batches`, and a
worker imports this module from the code the driver shipped. A file that cannot be read
is an error in its row, never an exception; anything that must stop the run (a model that
will not load or run, an output that cannot be written) travels back in the `fatal`
column, so the driver reports it as the local engine does and Ray does not retry what
would only fail again. Rows are made by the local engine's own code (`done_of`, then
tui.classify.runner), on the driver or, with --output, on the workers.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np

from tui.atomic import atomic_path, atomic_write
from tui.classify.pipeline import Done, Loaded, infer, load_chunk, quiet_pillow
from tui.classify.plan import Plan, Prep
from tui.classify.report import Stats
from tui.classify.rows import Row
from tui.classify.runner import _write as write_done  # the local engine's rows and counts
from tui.runtime.ood import Ood, calibration
from tui.text import one_line

# A batch is a dict of numpy columns, one row a file. In: `index` (the file's place in our
# listing), `path` (bytes, as given: os.fsencode), `error` (why it cannot be read, "" if it
# can; see _objects). Out of the models, also: `seconds` (load+preprocess), `infer` (its
# share of the batch's model time), `node`, `pid`, `provider`, `fatal` ("" or why the run
# must stop), and per model NAME: `p:NAME` [n, C] probabilities, `o:NAME` OOD score and
# `f:NAME` OOD flag (1, 0, or -1 where there is none), NaN and -1 for a file that failed.
# Between decoding tasks and GPU actors, `image0`, `image1`... [n, *shape]: one per view of the Prep.
PROBS, SCORES, FLAGS = "p:", "o:", "f:"
IMAGE = "image"
CANNOT_WRITE = "cannot write output: "  # a fatal reason that is the output's, not a model's


def sources(batch: dict[str, np.ndarray], cwd: str) -> list[tuple[Path, str | None]]:
    """The batch's files as the local engine's sources, opened from the driver's folder
    (a worker's own working folder is elsewhere); rows show the path as given."""
    return [(Path(cwd, os.fsdecode(path)), text_or_none(error))
            for path, error in zip(batch["path"], batch["error"], strict=False)]


def decode(batch: dict[str, np.ndarray], prep: Prep, cwd: str) -> dict[str, np.ndarray]:
    """A decoding task beside GPU actors: each file's model inputs, one column per view of
    the Prep (`image0`, `image1`...; zeros where it failed)."""
    quiet_pillow()
    loaded = load_chunk(sources(batch, cwd), prep)
    out = {"index": batch["index"], "path": batch["path"],
           "error": _objects([item.error for item in loaded]),
           "seconds": np.array([item.seconds for item in loaded])}
    for v, view in enumerate(prep.views):
        images = np.zeros((len(loaded), *view.shape), np.float32)
        for i, item in enumerate(loaded):
            if item.image is not None:
                images[i] = item.image[v].reshape(view.shape)
        out[f"{IMAGE}{v}"] = images
    return out


class Classifier:
    """A stateful Ray actor: opens its onnxruntime sessions once, then classifies batches.

    The model files come as bytes (the workers need not see the driver's models folder)
    and are written to a folder of the actor's own, so twins and metadata read as there.
    """

    def __init__(self, files: dict[str, bytes], names: list[str], prep: Prep, device: str,
                 precision: str, threads: int | None, cwd: str) -> None:
        quiet_pillow()
        self.prep, self.cwd = prep, cwd
        self.fatal = ""
        self.widths: dict[str, int] = {}  # labels per model: the same columns in every batch
        self.folder = tempfile.TemporaryDirectory(prefix="dl-tui-models-")
        try:
            from tui.runtime import Runtime

            for name, blob in files.items():
                Path(self.folder.name, name).write_bytes(blob)
            self.runtime = Runtime([Path(self.folder.name)], device, interactive=True,
                                   threads=threads, precision=precision)
            self.models = [self.runtime.info(name) for name in names]
            self.widths = {info.name: self.runtime.predict(
                info.name, np.zeros((1, *prep.views[prep.view_of(info)].shape), np.float32)).shape[1]
                for info in self.models}
            self.provider = self.runtime.provider
        except Exception as error:  # noqa: BLE001  reported by the driver as the local engine would
            self.fatal = one_line(error)
            self.models, self.provider = [], ""
        import ray

        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.fatal:
            return self._out(batch, None, self.fatal)
        if f"{IMAGE}0" in batch:  # decoded by a task already
            columns = [batch[f"{IMAGE}{v}"] for v in range(len(self.prep.views))]
            loaded = [Loaded(Path(), None if text_or_none(error) else tuple(column[i] for column in columns),
                             text_or_none(error), float(seconds))
                      for i, (error, seconds) in enumerate(zip(batch["error"], batch["seconds"], strict=False))]
        else:
            loaded = load_chunk(sources(batch, self.cwd), self.prep)
        try:
            done = infer(loaded, self.runtime, self.models, self.prep)
        except Exception as error:  # noqa: BLE001  a ModelError: a model that breaks its contract
            return self._out(batch, None, one_line(error))
        return self._out(batch, done, "")

    def _out(self, batch: dict[str, np.ndarray], done: Done | None,
             fatal: str) -> dict[str, np.ndarray]:
        n = len(batch["index"])
        out = {"index": batch["index"], "path": batch["path"],
               "error": _objects([text_or_none(error) for error in batch["error"]]),
               "seconds": np.zeros(n), "infer": np.zeros(n),
               "node": _objects([self.node] * n), "pid": np.full(n, os.getpid()),
               "provider": _objects([self.provider] * n), "fatal": _objects([fatal] * n)}
        for name, width in self.widths.items():
            out[PROBS + name] = np.full((n, width), np.nan, np.float32)
            out[SCORES + name] = np.full(n, np.nan)
            out[FLAGS + name] = np.full(n, -1, np.int8)
        if done is None:
            return out
        good = np.array([item.error is None for item in done.files], bool)
        out["error"] = _objects([item.error for item in done.files])
        out["seconds"] = np.array([item.seconds for item in done.files])
        out["infer"][:] = done.infer_seconds / max(n, 1)
        for name, probs in done.probs.items():
            out[PROBS + name][good] = probs
        for name, ood in done.ood.items():
            out[SCORES + name][good] = ood.scores
            out[FLAGS + name][good] = ood.flags
        return out


def done_of(batch: dict[str, np.ndarray], plan: Plan) -> Done:
    """A classified batch as the local engine's Done: its files (named as given), each
    model's probabilities and OOD scores for the good ones, the model time."""
    errors = [text_or_none(error) for error in batch["error"]]
    good = np.array([error is None for error in errors], bool)
    files = [Loaded(Path(os.fsdecode(path)), None, error, float(seconds))
             for path, error, seconds in zip(batch["path"], errors, batch["seconds"], strict=False)]
    probs = {info.name: batch[PROBS + info.name][good] for info in plan.models}
    oods = {}
    for info in plan.models:
        flags = batch[FLAGS + info.name][good]
        if len(flags) and (flags >= 0).all():  # the model gave OOD scores for this batch
            method, threshold = calibration(info.ood) or ("", float("nan"))
            oods[info.name] = Ood(batch[SCORES + info.name][good], flags == 1, threshold, method)
    return Done(files, probs, float(batch["infer"].sum()), oods)


class Rows:
    """A writer that keeps what it is given, for the files written by a worker."""

    def __init__(self) -> None:
        self.files: list[list[Row]] = []

    def write(self, batch: list[list[Row]]) -> None:
        self.files.extend(batch)


def write_shard(batch: dict[str, np.ndarray], plan: Plan, folder: str, fmt: str,
                top: int | None) -> dict[str, np.ndarray]:
    """Write a batch's rows as one file in `folder`, named by its first file's place in
    the listing: a task Ray runs again writes the same name, so no row is written twice.
    Returns per file what the driver counts: `failed`, `flagged`, `checked` (OOD)."""
    n = len(batch["index"])
    fatal = next(filter(None, map(text_or_none, batch["fatal"])), None)
    rows = Rows()
    if fatal is None:
        write_done(done_of(batch, plan), plan, rows, Stats())
        try:
            write_rows(Path(folder, f"part-{int(batch['index'].min()):012d}.{fmt}"), rows.files,
                       fmt, plan, top)
        except OSError as error:
            fatal = CANNOT_WRITE + (error.strerror or str(error))
    keep = ("index", "path", "error", "seconds", "infer", "node", "pid", "provider")
    marks = {"failed": [], "flagged": [], "checked": []}
    for file in rows.files or [[]] * n:
        oods = [row.ood for row in file if row.ood is not None]
        marks["failed"].append(any(row.error is not None for row in file))
        marks["flagged"].append(any(ood["flagged"] for ood in oods))
        marks["checked"].append(bool(oods))
    return {**{key: batch[key] for key in keep},
            **{key: np.array(values, bool) for key, values in marks.items()},
            "fatal": _objects([fatal] * n)}


def write_rows(path: Path, rows: list[list[Row]], fmt: str, plan: Plan, top: int | None) -> None:
    """The rows as one file, written whole or not at all (a temporary name, then a rename)."""
    if fmt != "parquet":
        atomic_write(path, _text(rows, fmt, plan, top))
        return
    import pyarrow.parquet as pq

    with atomic_path(path) as temporary:
        pq.write_table(_table(rows), temporary)


def _text(rows: list[list[Row]], fmt: str, plan: Plan, top: int | None) -> str:
    """The rows exactly as the streaming writers print them (CSV with its header)."""
    from tui.classify.writers import CsvWriter, JsonlWriter, Lines

    labels = list(dict.fromkeys(label for info in plan.models for label in info.labels))
    buffer = io.StringIO()
    out = Lines(buffer)
    writer = CsvWriter(out, labels, top) if fmt == "csv" else JsonlWriter(out, top)
    writer.write(rows)
    return buffer.getvalue()


def _table(rows: list[list[Row]]):  # -> pyarrow.Table
    """The JSON lines' fields as columns: probabilities a map from label to p, ood a
    struct {score, flagged} (null without an OOD calibration)."""
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
        "ood": pa.array([row.ood for row in flat],
                        pa.struct([("score", pa.float64()), ("flagged", pa.bool_())])),
        "error": pa.array([row.error for row in flat], pa.string()),
    })


def _objects(values: list) -> np.ndarray:
    """Text that may be None, as a column Arrow reads as strings: "" stands for None (an
    all-None column would come back as a column of NaN)."""
    array = np.empty(len(values), object)
    array[:] = [value or "" for value in values]
    return array


def text_or_none(value: object) -> str | None:
    """A value of a text column: None for "" (see _objects), for None and for NaN."""
    return value if isinstance(value, str) and value else None
