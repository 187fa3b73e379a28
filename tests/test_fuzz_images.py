"""Fuzzing the decoders we allow: thousands of files in every supported format, mode and
size, with truncated and bit-flipped copies, through `prepare` and `dl-tui classify`.

Fixed seed and about 3,000 files by default; DL_TUI_FUZZ_FILES=20000 (and
DL_TUI_FUZZ_SEED) for a longer run. Each run is a fresh interpreter with a time limit, so
a decoder stuck in C fails the test instead of hanging it.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tui.runtime.preprocess import IMAGE_SUFFIXES, SUPPORTED_FORMATS

ROOT = Path(__file__).resolve().parents[1]
FILES = int(os.environ.get("DL_TUI_FUZZ_FILES", "3000"))
SEED = int(os.environ.get("DL_TUI_FUZZ_SEED", "0"))
SECONDS_PER_FILE = 2.0  # any one file; a 40 MP picture takes well under a second

# (format, suffix, modes, save options to pick from): what Pillow can write of each.
# Formats we do not open are in too: each must be an error row, and stay silent.
KINDS = [
    ("PNG", ".png", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"], [{}, {"optimize": True}]),
    ("PNG", ".apng", ["RGBA", "P"], [{"save_all": True}]),
    ("JPEG", ".jpg", ["L", "RGB", "CMYK"],
     [{}, {"progressive": True}, {"quality": 5, "subsampling": 0}, {"exif": "turn"}]),
    ("MPO", ".mpo", ["RGB"], [{"save_all": True}]),
    ("GIF", ".gif", ["L", "P", "RGBA"], [{}, {"save_all": True}, {"interlace": False}]),
    ("BMP", ".bmp", ["1", "L", "P", "RGB", "RGBA"], [{}]),
    ("WEBP", ".webp", ["RGB", "RGBA"], [{}, {"lossless": True}, {"save_all": True}]),
    ("PPM", ".pbm", ["1"], [{}, {"plain": True}]),
    ("PPM", ".pgm", ["L", "I;16"], [{}, {"plain": True}]),
    ("PPM", ".ppm", ["RGB"], [{}, {"plain": True}]),
    ("PPM", ".pfm", ["F"], [{}]),
    ("TGA", ".tga", ["L", "LA", "P", "RGB", "RGBA"], [{}, {"compression": "tga_rle"}]),
    ("TIFF", ".tif", ["1", "L", "RGB", "I;16", "F"], [{}, {"compression": "tiff_lzw"}]),
    ("TIFF", ".tif", ["1"], [{"compression": "group4"}]),
    ("TIFF", ".tiff", ["L", "RGB"], [{"compression": "jpeg"}]),
    ("EPS", ".eps", ["L", "RGB"], [{}]),
    ("PDF", ".pdf", ["RGB"], [{}]),
    ("ICO", ".ico", ["RGBA"], [{}]),
    ("PCX", ".pcx", ["L", "RGB"], [{}]),
    ("JPEG2000", ".jp2", ["RGB"], [{}]),
]
OURS = [kind for kind in KINDS if kind[0] in (*SUPPORTED_FORMATS, "MPO")]
FOREIGN = [kind for kind in KINDS if kind not in OURS]
MUTATIONS = ["truncate", "flip", "flip-header", "big-word"]


def picture(rng: random.Random, mode: str) -> Image.Image:
    """A light or dark bar on noise, some sizes tiny, some a few hundred pixels."""
    big = rng.random() < 0.05
    width, height = (rng.randint(1, 700), rng.randint(1, 700)) if big else (
        rng.randint(1, 90), rng.randint(1, 90))
    noise = np.random.default_rng(rng.getrandbits(32)).integers(0, 256, (height, width, 4), np.uint8)
    img = Image.fromarray(noise, "RGBA")
    ImageDraw.Draw(img).rectangle((width // 3, height // 6, width // 2, height * 5 // 6),
                                  fill=(255, 255, 255, 255) if rng.random() < 0.5 else (0, 0, 0, 255))
    if mode in ("I;16", "I", "F"):
        scale = {"I;16": 257, "I": 257, "F": 1 / 255}[mode]
        return Image.fromarray((np.asarray(img.convert("L"), np.float32) * scale).astype(
            {"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]))
    return img.convert(mode)


def encode(rng: random.Random, kind: tuple) -> tuple[bytes, str]:
    """One valid file of a kind: its bytes and a name for it."""
    fmt, suffix, modes, options = kind
    mode, option = rng.choice(modes), dict(rng.choice(options))
    img = picture(rng, mode)
    if option.pop("plain", False):
        return plain_pnm(img, suffix), f"{fmt}-{mode}-plain{suffix}"
    if option.get("exif") == "turn":
        option["exif"] = Image.Exif()
        option["exif"][0x0112] = rng.randint(1, 8)  # orientation
    if option.get("save_all"):
        option["append_images"] = [picture(rng, mode).resize(img.size)]
    if mode == "P" and not option.get("save_all") and rng.random() < 0.5:
        option["transparency"] = 0
    out = io.BytesIO()
    img.save(out, "JPEG" if fmt == "MPO" and not option else fmt, **option)
    return out.getvalue(), f"{fmt}-{mode.replace(';', '')}{suffix}"


def plain_pnm(img: Image.Image, suffix: str) -> bytes:
    """P1, P2 or P3: numbers as text, which Pillow reads but does not write."""
    a = np.asarray(img)
    if suffix == ".pbm":
        magic, maxval, values = "P1", None, (~a.astype(bool)).astype(int)  # 1 is black
    else:
        magic, maxval, values = ("P2" if suffix == ".pgm" else "P3"), int(a.max()) or 1, a
    head = f"{magic}\n{img.width} {img.height}\n" + (f"{maxval}\n" if maxval else "")
    return (head + " ".join(map(str, values.ravel().tolist())) + "\n").encode()


def mutate(rng: random.Random, data: bytes, how: str) -> bytes:
    data = bytearray(data)
    if how == "truncate":
        return bytes(data[: rng.randrange(1, len(data))]) if len(data) > 1 else b"\0"
    if how == "big-word":  # often lands on a width, height, offset or length
        at = rng.randrange(0, max(1, min(len(data), 200) - 4))
        data[at : at + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\0\0\x7f\xff",
                                        b"\0\0\0\0", b"\x00\x01\x00\x00"])
        return bytes(data)
    span = min(len(data), 100) if how == "flip-header" else len(data)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(span)] ^= 1 << rng.randrange(8)
    return bytes(data)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The folder of files, and what each is: `good`, `foreign` (a format we do not open,
    unharmed) or `mutated`."""
    rng = random.Random(SEED)
    folder = tmp_path_factory.mktemp("fuzz")
    what: dict[str, str] = {}
    bases: list[tuple[bytes, str, str]] = []
    for i in range(FILES):
        if i < len(KINDS) * 3 or rng.random() < 0.25:
            ours = i < len(KINDS) * 3 or rng.random() < 0.9
            kind = KINDS[i % len(KINDS)] if i < len(KINDS) * 3 else rng.choice(OURS if ours else FOREIGN)
            data, name = encode(rng, kind)
            label = "good" if kind in OURS else "foreign"
            bases.append((data, name, label))
        else:
            data, name, _ = rng.choice(bases)
            label = rng.choice(MUTATIONS)
            data = mutate(rng, data, label)
        stem, suffix = os.path.splitext(name)
        name = f"{i:05d}-{stem}-{label}{suffix}"
        (folder / name).write_bytes(data)
        what[name] = label if label in ("good", "foreign") else "mutated"
    return folder, what


# Loads every file with `prepare` in a fresh interpreter that may not start a program;
# one JSON line per file to a results file, so that anything a decoder prints shows.
# Python's warnings are off (`-W ignore`), as `dl-tui classify` turns Pillow's off: what
# is left on stderr a decoder wrote itself.
PREPARE = """
import json, subprocess, sys, time
def refuse(*args, **kwargs):
    raise RuntimeError(f"a program was started: {args}")
subprocess.Popen = refuse
import numpy as np
from tui.runtime.preprocess import ImageError, prepare
folder, out = sys.argv[1], open(sys.argv[2], "w")
import os
for name in sorted(os.listdir(folder)):
    start, row = time.perf_counter(), {"name": name}
    try:
        a = prepare(os.path.join(folder, name))
        row["good"] = bool(a.shape == (28, 28) and a.dtype == np.float32
                           and np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1)
    except ImageError as error:
        row["error"] = str(error)
    except Exception as error:
        row["crash"] = f"{type(error).__name__}: {error}"
    row["seconds"] = time.perf_counter() - start
    out.write(json.dumps(row) + "\\n")
    out.flush()
"""


def test_every_file_prepares_or_fails_with_one_line(corpus, tmp_path):
    folder, what = corpus
    results = tmp_path / "prepared.jsonl"
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", PREPARE, str(folder), str(results)],
                          capture_output=True, text=True, cwd=ROOT,
                          timeout=30 + FILES * 0.02)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [row["name"] for row in rows] == sorted(what)
    assert [row for row in rows if "crash" in row] == []
    assert [row for row in rows if what[row["name"]] == "good" and not row.get("good")] == []
    assert [row for row in rows if what[row["name"]] == "foreign"
            and not row.get("error", "").startswith("unsupported format ")] == []
    assert all(row.get("good") or ("\n" not in row["error"] and row["error"]) for row in rows)
    slow = [(row["name"], round(row["seconds"], 2)) for row in rows if row["seconds"] > SECONDS_PER_FILE]
    assert slow == []
    # Not all rejects: the mutations must leave many files readable, and break many.
    good = sum(1 for row in rows if row.get("good"))
    assert 0.3 * len(rows) < good < 0.9 * len(rows)


def test_classify_gives_one_row_per_file(corpus, tiny_models):
    folder, what = corpus
    # Folders offer only our suffixes; the foreign files are named one by one.
    foreign = sorted(name for name in what if Path(name).suffix not in IMAGE_SUFFIXES)
    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "classify", str(folder),
         *[str(folder / name) for name in foreign], "--models", str(tiny_models), "-f", "jsonl"],
        capture_output=True, text=True, cwd=ROOT, timeout=60 + FILES * 0.02,
    )
    assert proc.returncode == 1  # some files failed
    assert len(proc.stderr.splitlines()) == 1 and " classified" in proc.stderr  # the summary
    rows = [json.loads(line) for line in proc.stdout.splitlines()]  # nothing else on stdout
    assert [Path(row["path"]).name for row in rows] == sorted(set(what) - set(foreign)) + foreign
    for row in rows:
        if row["error"] is None:
            total = sum(row["probabilities"].values())
            assert abs(total - 1) < 1e-4, row
        else:
            assert row["error"] and "\n" not in row["error"], row
    assert all(row["error"] is None for row in rows if what[Path(row["path"]).name] == "good")
