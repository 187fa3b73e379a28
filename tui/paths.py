"""Where models and sample images live: the shipped ones (checkout or wheel) and the user's own."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from platformdirs import user_data_dir as platform_data_dir

from tui.text import clean

MODELS_ENV = "DL_TUI_MODELS"
DATA_ENV = "DL_TUI_DATA"

_PACKAGE = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    # A wheel carries the folders inside the package (see pyproject's force-include);
    # a source checkout or editable install has them beside the package.
    inside = _PACKAGE / "_shipped" / name
    return inside if inside.is_dir() else _PACKAGE.parent / name


def shipped_models_dir() -> Path:
    """The `exported/` folder that ships with the project."""
    return _shipped("exported")


def shipped_images_dir() -> Path:
    """The `images/` folder of sample images that ships with the project."""
    return _shipped("images")


def user_data_dir() -> Path:
    """$DL_TUI_DATA, else the platform's per-user data folder (~/.local/share/dl-tui on Linux)."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platform_data_dir("dl-tui", appauthor=False))


def user_models_dir() -> Path:
    """Where the app's training runs put new models: never inside the installed package."""
    return user_data_dir() / "models"


def _chosen(option: str | os.PathLike[str] | None) -> Path | None:
    chosen = option or os.environ.get(MODELS_ENV)
    return Path(chosen).expanduser() if chosen else None


def models_dir(option: str | os.PathLike[str] | None = None) -> Path:
    """One folder: `--models`, else $DL_TUI_MODELS, else the shipped one."""
    return _chosen(option) or shipped_models_dir()


def model_folders(option: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders models are read from, first match wins: `--models` (or $DL_TUI_MODELS) alone,
    else the user's folder, then the shipped one. New models go to the first."""
    chosen = _chosen(option)
    return [chosen] if chosen else [user_models_dir(), shipped_models_dir()]


def find_models(folders: Sequence[Path]) -> dict[str, Path]:
    """Every `.onnx` file by name; a name in an earlier folder hides the same name in a later one."""
    found: dict[str, Path] = {}
    for folder in folders:
        try:
            files = sorted(p for p in Path(folder).iterdir() if p.suffix == ".onnx")
        except OSError:  # a folder not made yet (no model trained) holds no models
            continue
        for path in files:
            if path.is_file() and not path.name.startswith("."):
                found.setdefault(path.stem, path)
    return found


def model_source(path: Path, folders: Sequence[Path]) -> str:
    """"user" for a model in the folder new models go to, "shipped" for one that came with dl-tui."""
    writable = Path(folders[0])
    return "user" if path.parent == writable and writable != shipped_models_dir() else "shipped"


def describe_folders(folders: Sequence[Path]) -> str:
    """The folders models are read from, for a header or a message: the shipped one by name."""
    shipped = shipped_models_dir()
    return " + ".join("shipped" if Path(folder) == shipped else clean(folder) for folder in folders)


def no_models_reason(names: Sequence[str], folders: Sequence[Path]) -> str | None:
    """Why there is nothing to run (no folder, or no models in it), or None when there are models."""
    if names:
        return None
    if not any(Path(folder).is_dir() for folder in folders):
        return f"no models folder {describe_folders(folders)}: pass --models DIR"
    return f"no models in {describe_folders(folders)}: train them with `dl-train all`, or pass --models DIR"
