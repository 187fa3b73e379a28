"""Train into a staging folder, then keep the new model or the old one; a replaced model stays restorable.

The models folder (the Runtime's first) holds `.staging/` for runs and `previous/` for what the
last kept run replaced. Both sit inside it, so every move is a rename on one file system. No Textual here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tui.contract import ONNX_SUFFIX, float_model_of, int8_name, is_int8_file
from tui.paths import model_source
from tui.runtime import Runtime

STAGING = ".staging"
PREVIOUS = "previous"
VAE_WEIGHTS = "vae.weights.h5"
# Files one dl-train command writes together: replaced and restored together, never mixed.
TOGETHER = (("vae-encoder.onnx", "vae-decoder.onnx", VAE_WEIGHTS, "vae-latent-map.npz"),)


@dataclass(frozen=True)
class Comparison:
    """One staged model's test metrics beside those of the model it would replace."""

    name: str
    new: dict
    old: dict | None  # None: no model of that name yet
    old_source: str = ""


def together(filename: str) -> tuple[str, ...]:
    """FILENAME and the files that belong with it, the int8 twins of its models included."""
    # An int8 twin is made from its float model and kept with it (tui/contract.py).
    model = float_model_of(filename) + ONNX_SUFFIX if is_int8_file(filename) else filename
    group = next((group for group in TOGETHER if model in group), (model,))
    twins = tuple(int8_name(name) for name in group if name.endswith(ONNX_SUFFIX))
    return group + twins


class Staging:
    """One run's staging folder inside the models folder FOLDERS[0]."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = [Path(folder) for folder in folders]
        self.target = self.folders[0]
        self.folder = self.target / STAGING
        self._before: dict[str, tuple[int, int]] = {}

    def prepare(self, given: Sequence[str] = ()) -> None:
        """Clear an earlier run's models (its checkpoints stay, so a cancelled run resumes); copy in
        the GIVEN files a run builds on (`vae-classifier`: the VAE's weights), each from the first
        models folder that has it (the user's before the shipped)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in self._files():
            path.unlink()
        for name in given:
            found = next((f / name for f in self.folders if (f / name).is_file()), None)
            if found is not None:
                shutil.copy2(found, self.folder / name)
        self._before = self._stamps()

    def outputs(self) -> list[Path]:
        """The files this run wrote (exported models, VAE weights), not those `prepare` put there."""
        return [self.folder / name for name, stamp in self._stamps().items() if self._before.get(name) != stamp]

    def compare(self, runtime: Runtime, outputs: Sequence[Path]) -> list[Comparison]:
        """Each new model's test metrics beside the current one's (from whichever folder it is read)."""
        staged = Runtime(self.folder, device="cpu", precision=runtime.precision)
        current = set(runtime.available())
        rows = []
        for path in outputs:
            if path.suffix != ONNX_SUFFIX or is_int8_file(path.name):  # a twin goes with its model
                continue
            old = runtime.info(path.stem) if path.stem in current else None
            rows.append(Comparison(path.stem, staged.info(path.stem).metrics, old and old.metrics,
                                   model_source(old.path, runtime.folders) if old else ""))
        return rows

    def keep_new(self, outputs: Sequence[Path]) -> None:
        """Move each new file in with one rename; the file it replaces goes to `previous/`."""
        previous = self.target / PREVIOUS
        for path in outputs:
            current, kept = self.target / path.name, previous / path.name
            kept.unlink(missing_ok=True)
            if current.exists():
                previous.mkdir(exist_ok=True)
                _link_or_copy(current, kept)
            os.replace(path, current)  # readers see the old file or the new one, never neither

    def discard(self, outputs: Sequence[Path]) -> None:
        """Drop the new files; the models folder is untouched."""
        for path in outputs:
            path.unlink(missing_ok=True)

    def _files(self) -> list[Path]:
        # Dot files are the trainer's own (its lock, checkpoints, temporary files).
        return sorted(p for p in self.folder.iterdir() if p.is_file() and not p.name.startswith("."))

    def _stamps(self) -> dict[str, tuple[int, int]]:
        stats = {path.name: path.stat() for path in self._files()}
        return {name: (stat.st_size, stat.st_mtime_ns) for name, stat in stats.items()}


def can_restore(name: str, folders: Sequence[Path]) -> bool:
    """Whether NAME has a model to go back to: one in `previous/`, or a shipped one the user's hides."""
    target = Path(folders[0])
    filename = f"{name}.onnx"
    if any((target / PREVIOUS / f).is_file() for f in together(filename)):
        return True
    return (target / filename).is_file() and any((Path(f) / filename).is_file() for f in folders[1:])


def restore(name: str, folders: Sequence[Path]) -> list[str]:
    """Swap NAME (and the files that go with it) with what it replaced; returns the files swapped.

    Swapping again undoes it. With nothing in `previous/`, the user's file moves there and the
    shipped model of the same name shows through.
    """
    target = Path(folders[0])
    previous = target / PREVIOUS
    previous.mkdir(exist_ok=True)
    swapped = []
    for filename in together(f"{name}.onnx"):
        current, kept = target / filename, previous / filename
        if current.exists() or kept.exists():
            _swap(current, kept)
            swapped.append(filename)
    return swapped


def _swap(current: Path, kept: Path) -> None:
    if not kept.exists():
        os.replace(current, kept)
    elif not current.exists():
        os.replace(kept, current)
    else:
        spare = kept.with_name(f".{kept.name}.swap")
        spare.unlink(missing_ok=True)
        _link_or_copy(current, spare)
        os.replace(kept, current)  # one rename: CURRENT is always a whole model
        os.replace(spare, kept)


def _link_or_copy(source: Path, destination: Path) -> None:
    # A hard link costs nothing and keeps the bytes; a file system without links gets a copy.
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
