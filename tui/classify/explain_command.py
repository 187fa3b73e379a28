"""`dl-tui explain PATH... -m NAME`: which pixels made an image classifier decide, headless.

Files are found as classify finds them (`tui.classify.sources`) and read as classify reads
them (`load_chunk`: the same decoders, limits and model inputs), one at a time; each model's
input is explained by `tui.runtime.explain` (a few batched model runs per image), drawn as a
PNG overlay on that input and described by one JSON line on stdout.
"""

from __future__ import annotations

import json
import math
import re
import sys
from io import BytesIO
from itertools import chain, islice
from pathlib import Path
from time import perf_counter
from typing import NoReturn

import click
import numpy as np

from tui.atomic import atomic_write
from tui.classify.choose import ALL, select_models
from tui.classify.command import (OK, SOME_FAILED, USAGE, Stopped, cut_short, nothing_found, settle_stdout,
                                  stop_on_signals)
from tui.classify.pipeline import load_chunk, quiet_pillow
from tui.classify.plan import Prep, prep_for
from tui.classify.report import ProgressBar
from tui.classify.sources import Source, count_files, iter_files
from tui.classify.writers import Lines, OutputError
from tui.options import command, device_option, max_file_size_option, models_option, precision_option
from tui.runtime import DeviceError, ModelError, ModelInfo, Runtime
from tui.runtime.choices import Device, Polarity, Precision
from tui.runtime.explain import DEFAULT_METHOD, METHODS, Explanation, explain, overlay
from tui.text import clean, one_line

PROG = "dl-tui explain"
SCALE = 8  # overlay pixels per model-input pixel: a 28x28 input becomes 224x224
REGIONS = 3
NAME_BYTES = 120  # of a file's stem in an output name: room for -N, the model and .png in 255

HELP = (
    "Show which pixels made an image classifier decide: for each image and model, a PNG "
    "overlay of the evidence on the model's input (what the model saw, enlarged 8 times, warm "
    "where pixels speak for the class) and one JSON line on stdout. "
    "For the mistakes `dl-tui evaluate` finds, over SSH.\n\n"
    "Files and folders are found and read as `dl-tui classify` finds and reads them (-r, -L, "
    "--polarity, --normalize, --max-file-size alike). The class explained is the model's top "
    "class, or --class LABEL.\n\n"
    "Overlays: OUT/STEM.MODEL.png, STEM the file's name without its ending. Maps (--maps DIR): "
    "DIR/STEM.npy, float32 at the model's input height x width, aligned pixel for pixel with "
    "it, higher = more evidence for the class (with more than one model: DIR/STEM.MODEL.npy). "
    "A stem met again in the run (a.png in two folders) becomes STEM-2, STEM-3 ...; characters "
    "that cannot be in a file name (/, \\, control characters) become _. Files of the same name "
    "from an earlier run are replaced.\n\n"
    "JSON keys: path, model, label (the class explained), confidence (the model's probability of "
    "it), regions [{x, y, width, height, share}] (the biggest areas of evidence, in model-input "
    "pixels, with their share of it), method, overlay, map (with --maps), error (null, or why "
    "the file could not be explained: then only path, model, method and error).\n\n"
    "Exit code 0: every file explained (a folder with no image files is not an error: one line "
    "on stderr says so); 1: some files failed (each has an error line); 2: usage error (no such "
    "path, unknown model or class, not an image classifier, CUDA unavailable), or the run "
    "stopped (a model failed, an output cannot be written); 128+N: stopped by signal N."
)


@command(name="explain", help=HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@click.option("--model", "-m", "model", multiple=True, required=True, metavar="NAME",
              help="cnn, cnn-invert, vae-classifier, another image classifier in the models "
              "folder, or all. Give -m again for more models (one overlay and line each).")
@click.option("--class", "label", metavar="LABEL",
              help="Explain this class instead of the top one: a label of every model named "
              "(with -m all, models without it are left out, one line each).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("explain"), show_default=True,
              metavar="DIR", help="Where the PNG overlays go (made if missing).")
@click.option("--maps", type=click.Path(path_type=Path), metavar="DIR",
              help="Also write each raw map as DIR/STEM.npy (made if missing).")
@click.option("--method", type=click.Choice(METHODS), default=DEFAULT_METHOD, show_default=True,
              help="How the evidence is found (docs/explain.md).")
@click.option("--recursive", "-r", is_flag=True, help="Go into folders inside folders (as classify).")
@click.option("--follow", "-L", is_flag=True, help="With -r, follow symbolic links to folders too.")
@click.option("--polarity", type=click.Choice(Polarity), default=None,
              help="As classify's: by default the model's own (auto for MNIST models, keep for "
              "folder models).")
@click.option("--normalize/--no-normalize", default=None, help="As classify's: by default the model's own.")
@models_option
@device_option
@precision_option
@max_file_size_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary line on stderr.")
def app(paths: tuple[Path, ...], model: tuple[str, ...], label: str | None, out: Path,
        maps: Path | None, method: str, recursive: bool, follow: bool, polarity: Polarity | None,
        normalize: bool | None, models: Path | None, device: Device, precision: Precision,
        max_file_size: int, quiet: bool) -> int:
    """Explain files and folders; see HELP."""
    quiet_pillow()
    for path in paths:
        if not path.exists():
            fail(f"no such path: {clean(path)}")
    try:
        runtime = Runtime(models, device.value, interactive=True, precision=precision.value)
        infos = select_models(runtime, list(model), lambda message: say("warning", message))
        provider = runtime.provider
    except (ModelError, DeviceError) as error:
        fail(str(error))
    infos, indices = class_indices(infos, label, ALL in model)
    for folder in (out, maps):
        if folder is not None:
            make_folder(folder)
    sources = iter_files(list(paths), recursive, follow)
    head = list(islice(sources, 1))
    if not head:  # every path is a folder with no image files
        say("warning", nothing_found(list(paths), recursive, follow))
        return OK
    prep = prep_for(infos, polarity and polarity.value, normalize, max_bytes=max_file_size)
    job = Job(runtime, infos, indices, prep, method, out, maps)
    bar = ProgressBar(not quiet, lambda: count_files(list(paths), recursive, follow))
    start = perf_counter()
    try:
        with stop_on_signals():
            for source in chain(head, sources):
                job.run(source)
                bar.advance(1)
    except ModelError as error:
        bar.close()
        say("error", str(error))
        return USAGE
    except (OutputError, Stopped) as error:
        bar.close()
        return cut_short(error)
    finally:
        bar.close()
    if not quiet:
        print(job.summary(perf_counter() - start, provider), file=sys.stderr)
    settle_stdout()
    return SOME_FAILED if job.failed else OK


def class_indices(infos: list[ModelInfo], label: str | None, every: bool) -> tuple[list[ModelInfo], list[int | None]]:
    """The models to run and each one's index of --class LABEL (None: its top class). A model
    named that has no such class is a usage error naming its labels; with `-m all` (`every`)
    such models are left out with one line each, and only none left is an error."""
    if label is None:
        return infos, [None] * len(infos)
    kept = [info for info in infos if label in info.labels]
    for info in infos:
        if label in info.labels:
            continue
        labels = ", ".join(clean(each) for each in info.labels)
        problem = f"unknown class {clean(label)!r} for model {clean(info.name)}: its labels are {labels}"
        if not every or not kept:
            fail(problem)
        say("warning", f"{problem}; left out")
    return kept, [info.labels.index(label) for info in kept]


def make_folder(folder: Path) -> None:
    """Make an output folder, or a usage error saying why it cannot be."""
    if folder.exists() and not folder.is_dir():
        fail(f"not a folder: {clean(folder)}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"cannot make folder {clean(folder)}: {error.strerror or error}")


class Job:
    """One run: the models, their classes, how files are read, where the pictures go; what
    it has done so far."""

    def __init__(self, runtime: Runtime, infos: list[ModelInfo], indices: list[int | None],
                 prep: Prep, method: str, out: Path, maps: Path | None) -> None:
        self.runtime, self.infos, self.indices, self.prep = runtime, infos, indices, prep
        self.method, self.out, self.maps = method, out, maps
        self.names = Names()
        self.files = self.failed = 0
        self.stdout = Lines.stdout()

    def run(self, source: Source) -> None:
        """Explain one file with every model: its pictures written, then its lines printed.
        ModelError if a model fails to run, OutputError if an output cannot be written."""
        (loaded,) = load_chunk([source], self.prep)
        self.files += 1
        path = str(loaded.path)
        if loaded.error is not None or loaded.image is None:
            self.failed += 1
            self.emit([error_line(path, info.name, self.method, loaded.error or "not read")
                       for info in self.infos])
            return
        stem = self.names.stem(loaded.path)
        lines, bad = [], False
        for info, index in zip(self.infos, self.indices, strict=True):
            x = loaded.image[self.prep.view_of(info)]
            try:
                found = explain(self.runtime, info, x, index, self.method)
            except ModelError:
                raise
            except Exception as error:  # noqa: BLE001 - onnxruntime's own types: the model broke its contract
                raise ModelError(f"model {info.name} failed to run: {one_line(error)}") from None
            if problem := heat_problem(found):
                bad = True
                lines.append(error_line(path, info.name, self.method, problem))
                continue
            lines.append(self.write(path, stem, info, x, found))
        self.failed += bad
        self.emit(lines)

    def write(self, path: str, stem: str, info: ModelInfo, x: np.ndarray, found: Explanation) -> str:
        """Write one explanation's overlay (and map): its JSON line."""
        model = safe_name(info.name)
        picture = self.out / f"{stem}.{model}.png"
        buffer = BytesIO()
        overlay(x, found.heat, SCALE).save(buffer, format="PNG")
        record = {"path": path, "model": info.name, "label": found.label,
                  "confidence": round(found.confidence, 6), "regions": found.regions(REGIONS),
                  "method": found.method, "overlay": str(picture)}
        try:
            atomic_write(picture, buffer.getvalue())
            if self.maps is not None:
                where = self.maps / (f"{stem}.npy" if len(self.infos) == 1 else f"{stem}.{model}.npy")
                data = BytesIO()
                np.save(data, np.ascontiguousarray(found.heat, np.float32), allow_pickle=False)
                atomic_write(where, data.getvalue())
                record["map"] = str(where)
        except OSError as error:
            raise OutputError(error) from None
        record["error"] = None
        return json.dumps(record) + "\n"

    def emit(self, lines: list[str]) -> None:
        """One file's JSON lines on stdout, whole."""
        try:
            self.stdout.write_lines("".join(lines))
        except OSError as error:
            raise OutputError(error) from None

    def summary(self, seconds: float, provider: str) -> str:
        """The line on stderr at the end."""
        names = ", ".join(clean(info.name) for info in self.infos)
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"{PROG}: {self.files} files with {names} ({self.method}) in {seconds:.2f} s "
                f"on {clean(provider)}{failed}; overlays in {clean(self.out)}")


def heat_problem(found: Explanation) -> str | None:
    """Why an explanation cannot be used (a model that answers NaN), or None."""
    if not math.isfinite(found.confidence):
        return f"the model's probability of {clean(found.label)} is not a number"
    if not np.isfinite(found.heat).all():
        return "the explanation is not a number everywhere (the model answers NaN)"
    return None


def error_line(path: str, model: str, method: str, error: str) -> str:
    """The JSON line of a file that could not be explained."""
    return json.dumps({"path": path, "model": model, "method": method, "error": one_line(error)}) + "\n"


# Characters no output name may hold: path separators, controls (C0, DEL, C1), the bidi
# overrides, and lone surrogates (bytes of a name that are not UTF-8).
_UNSAFE = re.compile("[/\\\\\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\udc80-\udcff]")


def safe_name(name: str, limit: int = NAME_BYTES) -> str:
    """NAME fit for a file name: unsafe characters as `_`, at most LIMIT bytes of UTF-8, never
    empty, `.` or `..`, never hidden."""
    name = _UNSAFE.sub("_", name)
    name = name.encode("utf-8", "surrogatepass")[:limit].decode("utf-8", "ignore")
    if name.strip(".") == "" or name.startswith("."):
        name = "_" + name
    return name


class Names:
    """Output stems, each once per run: the file's stem made safe, then -2, -3 ... where it
    repeats (compared without case, for file systems that ignore it)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def stem(self, path: Path) -> str:
        base = safe_name(path.stem)
        name, n = base, 1
        while name.casefold() in self.used:
            n += 1
            name = f"{base}-{n}"
        self.used.add(name.casefold())
        return name


def say(level: str, message: str) -> None:
    """One line on stderr: `dl-tui explain: LEVEL: MESSAGE`."""
    print(f"{PROG}: {level}: {one_line(message)}", file=sys.stderr)


def fail(message: str) -> NoReturn:
    """A usage error: one line on stderr and exit code 2."""
    say("error", message)
    raise click.exceptions.Exit(USAGE)
