"""Where the shipped models and sample images live, in a checkout and in an installed wheel."""

from __future__ import annotations

import os
from pathlib import Path

MODELS_ENV = "DL_TUI_MODELS"

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


def models_dir(option: str | os.PathLike[str] | None = None) -> Path:
    """The models folder to use: `--models`, else $DL_TUI_MODELS, else the shipped one."""
    if option:
        return Path(option).expanduser()
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env).expanduser()
    return shipped_models_dir()
