"""Files made to hurt: PostScript that runs or prints, pictures that unpack into gigabytes,
formats Pillow names but cannot open, and folder trees too deep or looping."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tui.classify.sources import iter_files
from tui.runtime import ImageError, prepare
from tui.runtime.preprocess import IMAGE_SUFFIXES, MAX_PIXELS, SUPPORTED_FORMATS

ROOT = Path(__file__).resolve().parents[1]
EPS_HEADER = "%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\n"
HANGS = EPS_HEADER + "{} loop\n"  # Ghostscript runs this for ever
INJECTS = EPS_HEADER + '({"path": "injected", "error": null}\\n) print flush\n'


def digit(path: Path, size: int = 60) -> Path:
    img = Image.new("L", (size, size), 0)
    ImageDraw.Draw(img).rectangle((size // 2 - 4, 5, size // 2 + 4, size - 5), fill=255)
    img.save(path)
    return path


def classify(*args, env=None, timeout=60) -> tuple[list[dict], subprocess.CompletedProcess]:
    """`dl-tui classify -f jsonl` in a fresh interpreter: its rows and the finished process."""
    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "classify", "-f", "jsonl", *map(str, args)],
        capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=env,
    )
    return [json.loads(line) for line in proc.stdout.splitlines()], proc


# --- PostScript: Ghostscript is never started ---------------------------------------


@pytest.fixture
def postscript(tmp_path):
    """A folder with a digit and EPS dressed as a PNG; two more EPS files beside it."""
    folder = tmp_path / "in"
    folder.mkdir()
    digit(folder / "a.png")
    (folder / "b.png").write_text(INJECTS)  # picked from the folder by its name
    (tmp_path / "loop.eps").write_text(HANGS)
    (tmp_path / "print.eps").write_text(INJECTS)
    return folder, [tmp_path / "loop.eps", tmp_path / "print.eps"]


def fake_ghostscript(tmp_path: Path) -> tuple[dict, Path]:
    """An environment whose `gs` leaves a mark and prints a forged row, as a real one would."""
    bin_dir, marker = tmp_path / "bin", tmp_path / "gs-ran"
    bin_dir.mkdir()
    gs = bin_dir / "gs"
    gs.write_text(f'#!/bin/sh\ntouch "{marker}"\necho \'{{"path": "injected"}}\'\n')
    gs.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, marker


def test_eps_is_refused_without_running_anything(postscript, monkeypatch, capfd):
    folder, named = postscript

    def no_process(*args, **kwargs):
        raise AssertionError(f"a process was started: {args}")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    for path in [folder / "b.png", *named]:
        with pytest.raises(ImageError, match="^unsupported format EPS \\(supported: PNG, JPEG"):
            prepare(path)
    assert capfd.readouterr() == ("", "")


def test_classify_gives_eps_an_error_row_and_never_runs_ghostscript(postscript, tmp_path, tiny_models):
    folder, named = postscript
    env, marker = fake_ghostscript(tmp_path)
    rows, proc = classify(folder, *named, "--models", tiny_models, env=env, timeout=60)
    assert not marker.exists()
    assert "injected" not in proc.stdout
    assert [Path(row["path"]).name for row in rows] == ["a.png", "b.png", "loop.eps", "print.eps"]
    assert rows[0]["error"] is None
    assert all(row["error"].startswith("unsupported format EPS (") for row in rows[1:])
    assert proc.returncode == 1


def test_every_open_in_tui_names_its_formats():
    calls = [
        f"{path}:{number}"
        for path in (ROOT / "tui").rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "Image.open(" in line and "formats=" not in line
    ]
    assert calls == []


# --- formats Pillow names but does not open -------------------------------------------


def test_mpo_opens_by_either_name(tmp_path):
    frames = [Image.open(digit(tmp_path / f"{i}.png")).convert("RGB") for i in range(2)]
    frames[0].save(tmp_path / "pair.mpo", save_all=True, append_images=frames[1:])
    (tmp_path / "pair.jpg").write_bytes((tmp_path / "pair.mpo").read_bytes())
    for name in ("pair.mpo", "pair.jpg"):
        assert prepare(tmp_path / name).max() > 0.5, name


def test_misnamed_png_opens_by_its_content(tmp_path):
    data = digit(tmp_path / "x.png").read_bytes()
    for name in ("x.pdf", "x.palm", "x.eps"):
        (tmp_path / name).write_bytes(data)
        assert prepare(tmp_path / name).max() > 0.5, name


@pytest.mark.parametrize("name, content, said", [
    ("page.pdf", "pdf", "unsupported format PDF ("),
    ("notes.palm", "text", "unsupported format PALM ("),
    ("notes.png", "text", "not an image in a supported format (PNG, JPEG"),
    ("pic.ico", "ico", "unsupported format ICO ("),
    ("scan.tif", "tiff", "unsupported format TIFF ("),  # libtiff prints to stderr
    ("scan.png", "tiff", "unsupported format TIFF ("),
    ("broken.jpg", "broken", "cannot decode: damaged JPEG header"),
])
def test_unsupported_formats_are_named_in_one_short_line(tmp_path, name, content, said):
    path = tmp_path / name
    if content == "text":
        path.write_text("hello\n")
    elif content == "broken":
        path.write_bytes(b"\xff\xd8\xff" + bytes(20))
    elif content == "tiff":
        Image.open(digit(tmp_path / "d.png")).save(path, "TIFF")
    else:
        Image.open(digit(tmp_path / "d.png")).save(path)
    with pytest.raises(ImageError) as error:
        prepare(path)
    assert str(error.value).startswith(said)
    assert len(str(error.value)) < 100 and "\n" not in str(error.value)


def test_folders_offer_only_supported_suffixes():
    suffixes = IMAGE_SUFFIXES
    assert {".png", ".jpg", ".mpo", ".webp", ".tga"} <= suffixes
    assert not {".eps", ".ps", ".pdf", ".palm", ".tif"} & suffixes
    assert all(suffix == suffix.lower() for suffix in suffixes)


# --- pictures that unpack into gigabytes ---------------------------------------------

# The child's own high-water mark: ru_maxrss would also count the parent it was forked
# from, which holds these pictures.
PEAK = """
import sys, time
from tui.runtime.preprocess import ImageError, prepare

def peak_mb():
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) // 1024

for path in sys.argv[1:]:
    start = time.perf_counter()
    try:
        prepare(path)
        said = "ok"
    except ImageError as error:
        said = str(error)
    print(path.rsplit("/", 1)[-1], peak_mb(), round(time.perf_counter() - start, 2), said, sep="\\t")
"""


def png_claiming(path: Path, mode: str, side: int) -> None:
    """A tiny PNG whose header says `side` x `side`: all a refusal may read (saving a real
    9400x9400 one, 194 KB, takes seconds)."""
    out = io.BytesIO()
    Image.new(mode, (1, 1)).save(out, "PNG")
    data = bytearray(out.getvalue())
    data[16:24] = struct.pack(">II", side, side)  # IHDR's width and height
    data[29:33] = struct.pack(">I", zlib.crc32(data[12:29]))
    path.write_bytes(bytes(data))


def jpeg_claiming(path: Path, width: int, height: int) -> None:
    """A tiny progressive JPEG whose frame header says `width` x `height`."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG", progressive=True)
    data = bytearray(out.getvalue())
    at = data.index(b"\xff\xc2") + 5  # SOF2: marker, length, precision, then the size
    data[at : at + 4] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def big_files(tmp_path_factory):
    """Small files that decode into hundreds of MB: some over our limit, some just under."""
    folder = tmp_path_factory.mktemp("big")
    over, under = 9400, 6000  # 88 MP: under Pillow's limit, over ours; 36 MP: under both
    for mode in ("LA", "RGBA", "I;16"):
        png_claiming(folder / f"over-{mode.replace(';', '')}.png", mode, over)
        Image.new(mode, (under, under)).save(folder / f"under-{mode.replace(';', '')}.png",
                                             compress_level=1)
    bar = Image.new("RGB", (3000, 3000))
    ImageDraw.Draw(bar).rectangle((1400, 300, 1600, 2700), fill="white")
    bar.save(folder / "under-9MP.webp", lossless=True)
    # Full-colour progressive: libjpeg keeps 6 bytes a pixel of it, whatever the draft.
    bar.resize((5000, 5000)).save(folder / "under-progressive.jpg", progressive=True,
                                  subsampling=0)
    Image.new("RGBA", (3000, 3000)).save(folder / "under-9MP.tga", compression="tga_rle")
    jpeg_claiming(folder / "over-progressive.jpg", 7000, 5000)
    Image.new("RGB", (5000, 5000)).save(folder / "over-25MP.webp", lossless=True, method=0)
    return folder


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_big_pictures_stay_under_300_mb_or_are_refused_at_once(big_files):
    files = sorted(big_files.iterdir())
    proc = subprocess.run([sys.executable, "-c", PEAK, *map(str, files)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = [line.split("\t") for line in proc.stdout.splitlines()]
    assert len(report) == len(files)
    for name, peak_mb, seconds, said in report:
        assert int(peak_mb) < 300, (name, peak_mb, said)  # a running maximum: this file's or less
        if name.startswith("over"):
            assert said.startswith("too large: ") and " MP limit" in said, (name, said)
            assert float(seconds) < 0.5, (name, seconds)
        else:
            assert said == "ok", (name, said)


def test_the_limit_is_named_in_the_error(tmp_path):
    side = int(MAX_PIXELS**0.5) + 1
    Image.new("L", (side, side)).save(tmp_path / "big.png")
    with pytest.raises(ImageError, match=f"too large: {side}x{side} pixels, over the 40 MP limit$"):
        prepare(tmp_path / "big.png")


def test_big_transparent_picture_is_flattened_like_a_small_one(tmp_path):
    img = Image.new("RGBA", (4000, 3000), (0, 0, 0, 0))
    ImageDraw.Draw(img).rectangle((1800, 300, 2200, 2700), fill=(0, 0, 0, 255))  # dark ink
    img.save(tmp_path / "big.png")
    img.resize((400, 300)).save(tmp_path / "small.png")
    big, small = prepare(tmp_path / "big.png"), prepare(tmp_path / "small.png")
    assert np.abs(big - small).mean() < 0.02 and big[14, 14] > 0.8


def test_big_16_bit_picture_is_scaled_not_clamped(tmp_path):
    a = np.full((3000, 3000), 30000, np.uint16)
    a[:, 1000:2000] = 65535
    Image.fromarray(a).save(tmp_path / "deep.png")
    out = prepare(tmp_path / "deep.png", polarity="keep", normalize=False)
    assert abs(out[0, 0] - 30000 / 65535) < 0.01 and out[14, 14] > 0.99


# --- folder trees --------------------------------------------------------------------


@pytest.fixture(scope="module")
def deep_tree(tmp_path_factory):
    """1,000 nested folders named `d`, a digit at the bottom, a link from there back to the
    top, a digit at the top; removed bottom up (pytest's own clean-up recurses a level each)."""
    top = tmp_path_factory.mktemp("deep") / "top"
    path = top
    path.mkdir()
    levels = [top]
    for _ in range(1000):  # Path.mkdir(parents=True) recurses a level each too
        path = path / "d"
        path.mkdir()
        levels.append(path)
    (path / "loop").symlink_to(top, target_is_directory=True)
    yield top, [digit(path / "bottom.png"), digit(top / "z.png")]
    for path in reversed(levels):
        for child in path.iterdir():
            if child.is_symlink() or not child.is_dir():
                child.unlink()
        path.rmdir()


def test_a_tree_1000_deep_with_a_loop_is_walked_once(deep_tree):
    top, images = deep_tree
    assert list(iter_files([top], recursive=True)) == [(path, None) for path in images]


def test_classify_recursive_on_a_deep_tree(deep_tree, tiny_models):
    top, images = deep_tree
    rows, proc = classify("-r", top, "--models", tiny_models, "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert [row["path"] for row in rows] == [str(path) for path in images]


def walked_recursively(folder: Path) -> list[Path]:
    """The order the walk had when it was recursive: sorted names, folders entered in place."""
    found = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.is_dir():
            found += walked_recursively(path)
        elif path.suffix in IMAGE_SUFFIXES:
            found.append(path)
    return found


def test_walk_order_is_unchanged(tmp_path):
    rng = np.random.default_rng(7)
    folders = [tmp_path]
    for i in range(60):
        parent = folders[rng.integers(len(folders))]
        if rng.random() < 0.4:
            folders.append(parent / f"{i:02d}.d")
            folders[-1].mkdir()
        else:
            (parent / f"{i:02d}{rng.choice(['.png', '.txt', '.jpg'])}").write_bytes(b"x")
    found = [path for path, error in iter_files([tmp_path], recursive=True)]
    assert found == walked_recursively(tmp_path) and len(found) > 10
