"""The Runtime: the exported models in one or more folders, run with onnxruntime."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from tui.paths import find_models, model_folders
from tui.runtime.errors import ModelError
from tui.runtime.info import ModelInfo, read_info
from tui.runtime.sessions import open_session, providers_for, session_options


class Runtime:
    """Loads models lazily by name and runs them; safe to call from worker threads."""

    def __init__(
        self,
        models_dir: str | os.PathLike[str] | Sequence[Path] | None = None,
        device: str = "auto",
        interactive: bool = False,
        threads: int | None = None,
    ) -> None:
        # One folder, or several where a name in an earlier one hides the same name in a later one.
        folders = model_folders() if models_dir is None else (
            [models_dir] if isinstance(models_dir, (str, os.PathLike)) else models_dir)
        self.folders = tuple(Path(folder) for folder in folders)
        self.models_dir = self.folders[0]  # where new models go
        self.device = device
        self._providers = providers_for(device)  # DeviceError now, not at first use
        self._options = session_options(interactive, threads)
        self._lock = threading.Lock()
        self._sessions: dict[str, ort.InferenceSession] = {}
        self._infos: dict[str, ModelInfo] = {}
        self._files: dict[str, Path] = {}
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
        """Names of the `.onnx` models in the folders, sorted."""
        return list(self._names)

    def info(self, name: str) -> ModelInfo:
        """The model's metadata and signature (loads the model on first use)."""
        session = self._session(name)
        with self._lock:
            if name not in self._infos:
                self._infos[name] = read_info(name, self._path(name), session)
            return self._infos[name]

    def run(self, name: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model on raw inputs; its outputs by name."""
        session = self._session(name)
        names = [out.name for out in session.get_outputs()]
        return dict(zip(names, session.run(names, feeds)))

    def predict(self, name: str, batch: np.ndarray) -> np.ndarray:
        """Class probabilities [N, C] for a batch, preprocessed as the metadata says.

        Image models take [N, H, W] or [N, H, W, 1] in [0, 1], white on black; the
        model's `binarize` threshold is applied here. Feature models take [N, F].
        """
        info = self.info(name)
        if info.task != "classification":
            raise ValueError(f"model {name} ({info.task or 'no task'}) is not a classifier: use run()")
        (input_name, shape, _), = info.inputs
        x = np.asarray(batch, dtype=np.float32)
        prep = info.preprocessing
        if prep.get("kind") == "image":
            if list(x.shape[1:3]) != list(prep.get("size", x.shape[1:3])):
                raise ValueError(f"model {name} takes images of {prep['size']}, not {x.shape[1:3]}")
            x = x.reshape(len(x), *[d if isinstance(d, int) else -1 for d in shape[1:]])
            x = binarised(x, prep)
        outputs = self.run(name, {input_name: np.ascontiguousarray(x)})
        return outputs.get("probabilities", next(iter(outputs.values())))

    def reload(self) -> None:
        """Rescan the folder and drop cached sessions, e.g. after a model was trained."""
        with self._lock:
            self._sessions.clear()
            self._infos.clear()
            self._names = self._scan()

    def _scan(self) -> list[str]:
        self._files = find_models(self.folders)
        return sorted(self._files)

    def _path(self, name: str) -> Path:
        return self._files[name]

    def _session(self, name: str) -> ort.InferenceSession:
        with self._lock:
            if name in self._sessions:
                return self._sessions[name]
            if name not in self._names:
                found = ", ".join(self._names) or "none"
                raise ModelError(f"no model {name!r} in {self.models_dir} (found: {found})")
            # Loading under the lock: two threads asking for one model load it once.
            session = open_session(self._path(name), self._providers, self._options, self.device)
            self._sessions[name] = session
            return session


def binarised(images: np.ndarray, preprocessing: dict) -> np.ndarray:
    """IMAGES as the model sees them: thresholded where its metadata says `binarize`."""
    threshold = preprocessing.get("binarize")
    if threshold is None:
        return images
    return (images > float(threshold)).astype(np.float32)
