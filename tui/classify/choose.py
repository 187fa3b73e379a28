"""Which models `--model` names: image classifiers only, each once, whatever their input sizes.

The catalogue (which models are image classifiers, which are left out and why) is
`tui.runtime.classifier`'s, shared with the app.

A model off the contract (docs/model-contract.md) is refused when it loads: named alone or
among others it is a usage error (exit 2); `all` skips it with one line, as if it were absent.
"""

from __future__ import annotations

from collections.abc import Callable

from tui.paths import describe_folders, no_models_reason
from tui.runtime import ModelError, ModelInfo, Runtime
from tui.runtime.classifier import classifiers
from tui.text import clean

ALL = "all"


def select_models(runtime: Runtime, wanted: list[str], warn: Callable[[str], None]) -> list[ModelInfo]:
    """The image classifiers `-m` names, in the order given (`all`: every one that loads,
    each that does not named through `warn`). ModelError (exit 2) for anything else."""
    if problem := no_models_reason(runtime.available(), runtime.folders):
        raise ModelError(problem)
    if ALL in wanted:
        infos = classifiers(runtime, warn)
        if not infos:
            raise ModelError(f"no image classifiers in {describe_folders(runtime.folders)}")
    else:
        infos = [_one(runtime, name) for name in dict.fromkeys(wanted)]
    return infos  # each model gets its own input (size, channels, fit): tui.classify.plan.prep_for


def _one(runtime: Runtime, name: str) -> ModelInfo:
    if name not in runtime.available():
        from difflib import get_close_matches  # a typo: name the nearest (`cnn-invrt`)

        near = get_close_matches(name, [info.name for info in classifiers(runtime)] + [ALL], 1)
        hint = f"did you mean {clean(near[0])}? " if near else ""
        raise ModelError(f"unknown model {clean(name)!r}; {hint}{_choices(runtime)}")
    info = runtime.info(name)
    if not info.is_image_classifier:
        raise ModelError(f"{clean(name)} is not an image classifier (task: "
                         f"{clean(info.task) or 'none'}); {_choices(runtime)}")
    return info


def _choices(runtime: Runtime) -> str:
    """What `--model` could have said instead, for an error message."""
    names = ", ".join(clean(info.name) for info in classifiers(runtime))
    return f"image classifiers: {names}, or {ALL}" if names else "no image classifiers here"
