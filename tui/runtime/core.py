"""The Runtime: the exported models in one or more folders, run with onnxruntime.

A model may have a quantised twin beside it (`cnn.int8.onnx` beside `cnn.onnx`, same
contract). With precision "auto" (the default) the Runtime runs the twin in place of the
float model on the CPU, where it is faster, if it was made from that very float file and its
recorded test metrics are within BARS of the float model's; "float" never uses it, "int8"
uses it wherever one was made from the float file, even outside the bar, and on CUDA too.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort

from tui.contract import INT8_MODEL_SUFFIX, ContractError, batch_of, check_probabilities
from tui.paths import find_models, model_folders
from tui.runtime.choices import PRECISION_ENV, Precision
from tui.runtime.errors import DeviceError, ModelError, UnusableModel
from tui.runtime.info import ModelInfo, meets_bar, read_info
from tui.runtime.ood import Ood, from_outputs
from tui.runtime.sessions import (
    CPU,
    cores,
    open_session,
    providers_for,
    session_options,
)

PRECISIONS = tuple(p.value for p in Precision)
# Bigger batches run in pieces of this many: a 10,000-image batch at once spills the caches
# (measured: int8 CNN 0.78 s whole, 0.45 s in pieces of 512; float 1.10 s against 0.87 s).
# On the CPU the pieces run side by side, one thread each: no per-layer hand-over between
# threads (bench/README.md).
BATCH_PIECE = 512
# A batch this small runs on a one-thread session of its own: handing a few images' work to
# another thread costs more than it saves (int8 CNN, batch 1: 0.10 ms on one thread against
# 0.16 ms on two without spinning, bench/README.md).
SMALL_BATCH = 4


class Runtime:
    """Loads models lazily by name and runs them; safe to call from worker threads."""

    def __init__(
        self,
        models_dir: str | os.PathLike[str] | Sequence[Path] | None = None,
        device: str = "auto",
        interactive: bool = False,
        threads: int | None = None,
        precision: str | None = None,
    ) -> None:
        # One folder, or several where a name in an earlier one hides the same name in a later one.
        folders = model_folders() if models_dir is None else (
            [models_dir] if isinstance(models_dir, (str, os.PathLike)) else models_dir)
        self.folders = tuple(Path(folder) for folder in folders)
        self.models_dir = self.folders[0]  # where new models go
        self.device = device
        self.precision = precision or os.environ.get(PRECISION_ENV) or "auto"
        if self.precision not in PRECISIONS:
            raise ModelError(f"unknown precision {self.precision!r}: use auto, float or int8")
        self._providers = providers_for(device)  # DeviceError now, not at first use
        self._options = session_options(interactive, threads)
        self._one_thread = None if threads == 1 else session_options(interactive, 1)
        self._lock = threading.Lock()
        self._sessions: dict[str, ort.InferenceSession] = {}
        self._small: dict[str, ort.InferenceSession] = {}  # one-thread sessions for SMALL_BATCH
        self._infos: dict[str, ModelInfo] = {}
        self._files: dict[str, Path] = {}
        self._used: dict[str, Path] = {}  # the file each loaded name really runs
        self._names = self._scan()

    @property
    def provider(self) -> str:
        """The execution provider that really runs (onnxruntime may have fallen back)."""
        with self._lock:
            loaded = next(iter(self._sessions.values()), None)
        if loaded is None and self._names:
            loaded = self._session(self._names[0])
        return loaded.get_providers()[0] if loaded is not None else self._providers[0]

    @property
    def session_options(self) -> ort.SessionOptions:
        """The options every session is created with."""
        return self._options

    def available(self) -> list[str]:
        """Names of the `.onnx` models in the folders, sorted; quantised twins are not listed
        (their float model's name runs them), though `info` and `run` take their names too."""
        return list(self._names)

    def info(self, name: str) -> ModelInfo:
        """The model's metadata and signature (loads the model on first use)."""
        session = self._session(name)
        with self._lock:
            if name not in self._infos:
                self._infos[name] = read_info(name, self._used[name], session)
            return self._infos[name]

    def run(self, name: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model on raw inputs; its outputs by name. A batch bigger than BATCH_PIECE
        runs in pieces of that size (same results, faster); a model with a fixed batch size
        runs in pieces of that size, the last one padded."""
        session = self._session(name)
        names = [out.name for out in session.get_outputs()]
        sizes = {len(value) if np.ndim(value) else -1 for value in feeds.values()}
        size = sizes.pop() if len(sizes) == 1 else -1
        if 0 < size <= SMALL_BATCH:
            session = self._small_session(name, session)
        if (fixed := _fixed_batch(session)) is not None and size > 0:
            return _run_fixed(self._small_session(name, session), names, feeds, size, fixed)
        if size <= BATCH_PIECE or not _batched(session):
            return dict(zip(names, session.run(names, feeds), strict=False))
        one_thread = self._small_session(name, session)
        starts = range(0, size, BATCH_PIECE)

        def piece(start: int) -> list[np.ndarray]:
            return one_thread.run(names, {k: v[start : start + BATCH_PIECE] for k, v in feeds.items()})

        if one_thread is session:  # CUDA, or a Runtime told to use one thread
            pieces = [piece(start) for start in starts]
        else:
            with ThreadPoolExecutor(min(cores(), len(starts))) as pool:  # onnxruntime frees the GIL
                pieces = list(pool.map(piece, starts))
        return {out: np.concatenate([piece[j] for piece in pieces]) for j, out in enumerate(names)}

    def predict(self, name: str, batch: np.ndarray) -> np.ndarray:
        """Class probabilities [N, C] for a batch, preprocessed as the metadata says.

        Image models take [N, H, W] or [N, H, W, 1] in [0, 1], white on black; what the
        model's metadata asks for (its polarity, its `binarize` threshold) is applied here,
        and only here. Feature models take [N, F].
        """
        return self.predict_ood(name, batch)[0]

    def ood(self, name: str, batch: np.ndarray) -> Ood | None:
        """Out-of-distribution scores and flags for a batch (same input as `predict`):
        `.scores` [N] (higher = less like the training digits), `.flags` [N] bool (score
        above the model's calibrated threshold), `.item(i)` -> {"score", "flagged"}.
        None for a model without an `ood` calibration in its metadata."""
        return self.predict_ood(name, batch)[1]

    def predict_ood(self, name: str, batch: np.ndarray) -> tuple[np.ndarray, Ood | None]:
        """`predict` and `ood` from one run of the model: (probabilities [N, C], Ood or None)."""
        info = self.info(name)
        if info.task != "classification":
            raise ValueError(f"model {name} ({info.task or 'no task'}) is not a classifier: use run()")
        (input_name, shape, _), = info.inputs
        x = np.asarray(batch, dtype=np.float32)
        prep = info.preprocessing
        if prep.is_image:
            if tuple(x.shape[1:3]) != prep.size:
                raise ValueError(f"model {name} takes images of {list(prep.size)}, not {list(x.shape[1:3])}")
            x = prep.model_view(x.reshape(len(x), *prep.size, -1))
            if x.shape[-1] == 1 and prep.channels > 1:  # a grey image for a colour model: grey in every channel
                x = np.repeat(x, prep.channels, axis=-1)
            x = x.reshape(len(x), *prep.size, prep.channels) if len(shape) == 4 else x.reshape(len(x), *prep.size)
        outputs = self.run(name, {input_name: np.ascontiguousarray(x)})
        probs = outputs.get("probabilities", next(iter(outputs.values())))
        try:  # a dynamic axis in the signature is only known now
            check_probabilities(probs, len(x), len(info.labels))
        except ContractError as error:
            raise UnusableModel(name, str(error)) from None
        return probs, from_outputs(info.ood, outputs, probs)

    def reload(self) -> None:
        """Rescan the folder and drop cached sessions, e.g. after a model was trained."""
        with self._lock:
            self._sessions.clear()
            self._small.clear()
            self._infos.clear()
            self._used.clear()
            self._names = self._scan()

    def _scan(self) -> list[str]:
        self._files = find_models(self.folders)
        return sorted(name for name in self._files if not name.endswith(INT8_MODEL_SUFFIX))

    def _path(self, name: str) -> Path:
        return self._files[name]

    def _session(self, name: str) -> ort.InferenceSession:
        with self._lock:
            if name in self._sessions:
                return self._sessions[name]
            if name not in self._files:
                found = ", ".join(self._names) or "none"
                raise ModelError(f"no model {name!r} in {self.models_dir} (found: {found})")
            # Loading under the lock: two threads asking for one model load it once.
            path = self._path(name)
            session, used = self._quantized(name, path), path
            if session is not None:
                used = self._files[name + INT8_MODEL_SUFFIX]
            else:
                session = open_session(path, self._providers, self._options, self.device)
            self._sessions[name], self._used[name] = session, used
            return session

    def _small_session(self, name: str, session: ort.InferenceSession) -> ort.InferenceSession:
        """The model's one-thread session on the CPU (small batches, pieces side by side);
        else `session`."""
        if self._one_thread is None or session.get_providers()[0] != CPU:
            return session
        with self._lock:
            if name not in self._small:
                self._small[name] = open_session(self._used[name], self._providers, self._one_thread,
                                                 self.device)
            return self._small[name]

    def _quantized(self, name: str, float_path: Path) -> ort.InferenceSession | None:
        """The quantised twin's session where the precision asks for it and it may stand in
        for the float model; None to run the float model."""
        twin = self._files.get(name + INT8_MODEL_SUFFIX)
        if (self.precision == "float" or name.endswith(INT8_MODEL_SUFFIX) or twin is None
                or twin.parent != float_path.parent
                or (self.precision == "auto" and self._providers[0] != CPU)):
            return None
        try:
            session = open_session(twin, self._providers, self._options, self.device)
        except (ModelError, DeviceError):  # a broken twin: the float model still runs
            return None
        try:
            info = read_info(name, twin, session)
        except ModelError:  # off the contract: the float model still runs
            return None
        if session.get_modelmeta().custom_metadata_map.get("float_sha256") != _sha256(float_path):
            return None  # made from another float model (the float one was retrained since)
        if self.precision == "auto" and not meets_bar(info.metrics, info.float_metrics or {}):
            return None
        return session


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _fixed_batch(session: ort.InferenceSession) -> int | None:
    """The batch size a model with a fixed batch axis takes (such as 1), or None."""
    inputs = session.get_inputs()
    return batch_of(inputs[0].shape) if len(inputs) == 1 else None


def _run_fixed(session: ort.InferenceSession, names: list[str], feeds: dict[str, np.ndarray],
               size: int, fixed: int) -> dict[str, np.ndarray]:
    """Run a model with a fixed batch size on `size` rows, `fixed` at a time; the last piece is
    padded with copies of its first row, and what they give is dropped."""
    pieces = []
    for start in range(0, size, fixed):
        piece = {k: v[start : start + fixed] for k, v in feeds.items()}
        short = fixed - min(fixed, size - start)
        if short:
            piece = {k: np.concatenate([v, np.repeat(v[:1], short, axis=0)]) for k, v in piece.items()}
        pieces.append([np.asarray(out)[: fixed - short] for out in session.run(names, piece)])
    return {out: np.concatenate([piece[j] for piece in pieces]) for j, out in enumerate(names)}


def _batched(session: ort.InferenceSession) -> bool:
    """Whether every input and output has a free first (batch) axis, so pieces can be joined."""
    return all(arg.shape and not isinstance(arg.shape[0], int)
               for arg in [*session.get_inputs(), *session.get_outputs()])
