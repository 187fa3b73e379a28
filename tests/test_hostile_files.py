"""Files made to hurt: PostScript that runs or prints, pictures that unpack into gigabytes,
formats Pillow names but cannot open, and folder trees too deep or looping."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tui.classify.sources import iter_files
from tui.runtime import ImageError, load_image, prepare
from tui.runtime.preprocess import IMAGE_SUFFIXES, MAX_PIXELS

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
        check=False, capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=env,
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
        with pytest.raises(ImageError, match=r"^unsupported format EPS \(supported: PNG, JPEG"):
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


def test_every_picture_file_is_opened_in_one_place():
    # open_image: one open, checked with fstat, sizes checked, never mapped into memory.
    files = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "tui").rglob("*.py")
        for line in path.read_text().splitlines()
        if "Image.open(" in line
    ]
    assert files == ["tui/runtime/preprocess.py"]


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
    proc = subprocess.run([sys.executable, "-c", PEAK, *map(str, files)], check=False,
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
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


# --- files that change while read, or lie about their size ----------------------------

CHANGING = """
import sys, time
from tui.runtime.preprocess import ImageError, load_image

ok, failed = 0, set()
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        load_image(sys.argv[1])
        ok += 1
    except ImageError as error:
        failed.add(str(error))
print(ok, len(failed), sorted(failed)[:3], sep="\\t")
"""


def spawn(script: str, *args, data_limit: int = 1536 << 20) -> subprocess.Popen:
    """A fresh interpreter running `script`, its data segment capped so that a file that
    still unpacks into gigabytes fails there, not on the machine."""
    cap = f"import resource\nresource.setrlimit(resource.RLIMIT_DATA, ({data_limit}, {data_limit}))\n"
    return subprocess.Popen([sys.executable, "-c", cap + script, *map(str, args)], cwd=ROOT,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.skipif(sys.platform != "linux", reason="truncating a file under a reader: Linux")
@pytest.mark.parametrize("suffix", [".pgm", ".bmp", ".tga"])
def test_a_file_cut_short_while_it_is_read_is_an_error_not_sigbus(tmp_path, suffix):
    # Raw PGM, BMP and TGA are what Pillow maps into memory when it opens them by name:
    # reading a page the file no longer has kills the process with SIGBUS.
    path = tmp_path / f"changing{suffix}"
    Image.new("L", (3000, 3000), 200).save(path)
    whole = path.read_bytes()
    reader = spawn(CHANGING, path, 3)
    deadline = time.monotonic() + 30
    while reader.poll() is None and time.monotonic() < deadline:
        os.truncate(path, 100)  # another program rewrites the file as we read it
        time.sleep(0.001)
        with open(path, "r+b") as file:
            file.write(whole)
        time.sleep(0.001)
    out, err = reader.communicate(timeout=30)
    assert reader.returncode == 0, (reader.returncode, err)  # -7 is SIGBUS
    ok, kinds, said = out.rstrip("\n").split("\t")
    assert int(ok) > 0 and int(kinds) > 0, out  # the race was run: some reads met a short file
    assert "cannot decode" in said, said


FIFO_RACE = """
import sys, time
from tui.runtime.preprocess import ImageError, load_image

seen = set()
end = time.monotonic() + 2
while time.monotonic() < end:
    try:
        load_image(sys.argv[1])
        seen.add("ok")
    except ImageError as error:
        seen.add(str(error))
print(sorted(seen))
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_swapped_in_after_the_check_does_not_hang(tmp_path):
    # The name is a picture when it is checked and a FIFO when it is opened: opening a FIFO
    # to read waits for a writer that never comes.
    regular, fifo, path = tmp_path / "regular", tmp_path / "fifo", tmp_path / "x.png"
    digit(tmp_path / "d.png").rename(regular)
    os.mkfifo(fifo)
    os.link(regular, path)
    reader = spawn(FIFO_RACE, path)
    deadline = time.monotonic() + 10
    try:
        while reader.poll() is None and time.monotonic() < deadline:
            for source in (fifo, regular):
                os.link(source, tmp_path / "new")
                os.replace(tmp_path / "new", path)
        assert reader.poll() is not None, "hung on the FIFO"
    finally:
        if reader.poll() is None:
            reader.kill()
    out, err = reader.communicate(timeout=10)
    assert reader.returncode == 0, err
    assert "'ok'" in out and "not a regular file" in out, out


def test_a_linked_picture_is_read_and_a_link_to_a_fifo_or_device_is_refused(tmp_path):
    # A link to a file is read: folders of pictures often hold some. A link is followed
    # for the last time only after its target is known to be a plain file.
    os.symlink(digit(tmp_path / "d.png"), tmp_path / "link.png")
    assert prepare(tmp_path / "link.png").max() > 0.5
    os.mkfifo(tmp_path / "pipe")
    for target in (tmp_path / "pipe", Path("/dev/zero"), tmp_path):
        link = tmp_path / f"to-{target.name or 'root'}.png"
        os.symlink(target, link)
        with pytest.raises(ImageError, match=r"regular file|folder"):
            prepare(link)
    os.symlink("loop.png", tmp_path / "loop.png")
    with pytest.raises(ImageError, match=r"^cannot read: "):
        prepare(tmp_path / "loop.png")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_chunk(path: Path, declared: int, present: int | None = None) -> None:
    """A 28x28 PNG with a private chunk `prVt` that declares `declared` bytes before its
    pixels; `present` of them are in the file (all by default, as a hole: the file is sparse,
    a few KB on disk whatever it says)."""
    digit(path, 28)
    data = path.read_bytes()
    at = data.index(b"IDAT") - 4
    with open(path, "wb") as file:
        file.write(data[:at] + struct.pack(">I", declared) + b"prVt")
        if present is None:  # the data, zeros, then its right CRC: a valid PNG
            crc, zeros = zlib.crc32(b"prVt"), bytes(1 << 20)
            for start in range(0, declared, len(zeros)):
                crc = zlib.crc32(zeros[: declared - start], crc)
            file.seek(declared, os.SEEK_CUR)
            file.write(struct.pack(">I", crc) + data[at:])
        else:
            file.write(bytes(present))


def jpeg_with_segments(path: Path, marker: int, total: int) -> None:
    """A 28x28 JPEG with `total` bytes of APPn or COM segments before its frame, each the
    largest a segment can be; the file is sparse, each segment's zeros a hole."""
    out = io.BytesIO()
    Image.new("L", (28, 28)).save(out, "JPEG")
    data = out.getvalue()
    with open(path, "wb") as file:
        file.write(data[:2])
        for _ in range(total // 65533):
            file.write(struct.pack(">BBH", 0xFF, marker, 65535))
            file.seek(65533, os.SEEK_CUR)
        file.write(data[2:])


def jpeg_with_scans(path: Path, extra: int) -> None:
    """A progressive JPEG with `extra` copies of its first scan added: every scan is a
    pass over the whole picture's coefficients."""
    img = Image.new("L", (2048, 2048), 0)
    ImageDraw.Draw(img).ellipse((500, 500, 1500, 1500), fill=255)
    out = io.BytesIO()
    img.save(out, "JPEG", progressive=True)
    head, *scans = out.getvalue()[:-2].split(b"\xff\xda")  # entropy data never holds FF DA
    body = b"".join(b"\xff\xda" + scan for scan in scans + [scans[0]] * extra)
    path.write_bytes(head + body + b"\xff\xd9")


def tall_png(path: Path, width: int, height: int) -> None:
    """A grey PNG `width` x `height`, written without ever holding its pixels."""
    z = zlib.compressobj(9)
    row = b"\x00" + b"\x80" * width  # filter byte, then the row
    body = b"".join(z.compress(row * 100_000) for _ in range(height // 100_000))
    body += z.compress(row * (height % 100_000)) + z.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body)
                     + png_chunk(b"IEND", b""))


# Per file: how much the process grew while reading it (VmHWM after, less VmRSS before;
# writing 5 to clear_refs starts the high-water mark again), how long it took, what was said.
GROWTH = """
import sys, time
from tui.runtime.preprocess import ImageError, prepare

def status(field):
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) // 1024

for path in sys.argv[1:]:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    before, start = status("VmRSS"), time.perf_counter()
    try:
        prepare(path)
        said = "ok"
    except ImageError as error:
        said = str(error)
    except MemoryError:
        said = "MemoryError"
    print(path.rsplit("/", 1)[-1], status("VmHWM") - before, round(time.perf_counter() - start, 2),
          said, sep="\\t", flush=True)
"""


@pytest.fixture(scope="module")
def lying_files(tmp_path_factory):
    """Small files (sparse: a few KB on disk) that declare or hold hundreds of MB."""
    folder = tmp_path_factory.mktemp("lying")
    png_with_chunk(folder / "private-2GB.png", 2**31 - 1)  # 2 GB long, over the file limit
    png_with_chunk(folder / "private-150MB.png", 150 << 20)  # under it: its metadata is not
    png_with_chunk(folder / "private-claims-2GB.png", 2**31 - 1, present=8000)  # 8 KB long
    jpeg_with_segments(folder / "app-150MB.jpg", 0xE5, 150 << 20)
    jpeg_with_segments(folder / "com-150MB.jpg", 0xFE, 150 << 20)
    jpeg_with_scans(folder / "scans-300.jpg", 300)
    tall_png(folder / "tall-1x39M.png", 1, 39_000_000)
    return folder


METADATA = "too large: over 16 MB of metadata in a {}, more than any picture needs"
REFUSED = {
    "private-2GB.png": "too large: 2 GB file, over the 200 MB limit (--max-file-size)",
    "private-150MB.png": METADATA.format("PNG"),
    "private-claims-2GB.png": "cannot decode: truncated PNG: a chunk declares more bytes than "
                              "the file has",
    "app-150MB.jpg": METADATA.format("JPEG"),
    "com-150MB.jpg": METADATA.format("JPEG"),
    "scans-300.jpg": "too many scans: a JPEG of over 100 scans (each is a pass over the whole "
                     "picture; encoders write about 10)",
    "tall-1x39M.png": "too large: 1x39000000 pixels, a side over the 65536-pixel limit",
}


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc")
def test_small_files_that_declare_gigabytes_are_refused_at_once(lying_files):
    files = sorted(lying_files.iterdir())
    assert sum(path.stat().st_blocks * 512 for path in files) < 40 << 20  # mostly holes
    reader = spawn(GROWTH, *files)
    out, err = reader.communicate(timeout=240)
    assert reader.returncode == 0, err
    report = {name: (int(grew), float(seconds), said) for name, grew, seconds, said
              in (line.split("\t") for line in out.splitlines())}
    assert {name: said for name, (_, _, said) in report.items()} == REFUSED
    for name, (grew, seconds, _) in report.items():
        assert grew < 50 and seconds < 1.0, (name, grew, seconds)


LIMITED = """
import sys
from tui.classify.pipeline import load_chunk
from tui.classify.plan import Prep

def status(field):
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) // 1024

big, small = sys.argv[1:]
before = status("VmRSS")
loaded = load_chunk([(big, None), (small, None)], Prep(memory=64 << 20))
print([item.error for item in loaded], status("VmHWM") - before)
bytearray(200 << 20)  # the limit was for decoding only
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="RLIMIT_DATA as Linux counts it")
def test_classify_decodes_under_a_memory_limit(tmp_path):
    # Whatever gets past the checks, one file's decoding may not make a worker (or the
    # process, or a Ray worker: all decode in load_chunk) grow past its limit.
    Image.new("RGBA", (4000, 4000), (0, 0, 0, 0)).save(tmp_path / "big.png", compress_level=1)
    digit(tmp_path / "small.png")
    proc = subprocess.run([sys.executable, "-c", LIMITED, str(tmp_path / "big.png"),
                           str(tmp_path / "small.png")], check=False, capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    errors, grew = proc.stdout.rsplit(" ", 1)
    assert errors.startswith("['too large: decoding needs over the ") and errors.endswith(", None]")
    assert int(grew) < 80


# --- --max-file-size ------------------------------------------------------------------


def test_classify_refuses_files_over_max_file_size(tmp_path, tiny_models):
    small, big = digit(tmp_path / "small.png", 28), tmp_path / "big.png"
    with open(big, "wb") as file:  # 250 MB, nearly all a hole: over the default limit
        file.write(small.read_bytes())
        file.truncate(250 << 20)
    rows, proc = classify(small, big, "--models", tiny_models)
    assert [row["error"] for row in rows] == [
        None, "too large: 250 MB file, over the 200 MB limit (--max-file-size)"]
    assert proc.returncode == 1
    rows, proc = classify(small, big, "--max-file-size", "50b", "--models", tiny_models)
    assert [row["error"] for row in rows] == [
        f"too large: {small.stat().st_size} bytes file, over the 50 bytes limit (--max-file-size)",
        "too large: 250 MB file, over the 50 bytes limit (--max-file-size)"]
    rows, proc = classify(small, big, "--max-file-size", "1G", "--models", tiny_models)
    assert [row["error"] for row in rows] == [None, None]  # a PNG, then zeros after its end


@pytest.mark.parametrize("given", ["lots", "-1", "0", "12X", ""])
def test_a_wrong_max_file_size_is_a_usage_error(tmp_path, given):
    rows, proc = classify(digit(tmp_path / "d.png"), "--max-file-size", given)
    assert (rows, proc.returncode) == ([], 2)
    assert proc.stderr.startswith("dl-tui classify: error: ") and "--max-file-size" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


# --- the app: a bounded, cancelled decoding while you browse ---------------------------

BROWSE = """
import asyncio, sys, time
from pathlib import Path
from tui.app import DlTuiApp
from tui.runtime import Runtime

models, folder, save, steps = sys.argv[1:5]
names = sorted(path.name for path in Path(folder).iterdir())

def status(field):
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) // 1024

def shown():
    # The picture's answer is on screen: its error, or bars with probabilities (the decode
    # runs on the screen's own thread before the classify worker starts).
    from tui.widgets.probabilities import ProbabilityBars
    screen = app.screen
    # Only the picture's bars: the Iris tab's bars on the same screen have theirs from the start.
    predictions = screen.query_one("#predictions")
    return predictions.has_class("-failed") or any(
        bars.probabilities for bars in predictions.query(ProbabilityBars))

async def browse():
    global app
    app = DlTuiApp(Runtime(Path(models), device="cpu", interactive=True), Path(folder),
                   graphics="halfcell", can_train=False, save_dir=Path(save), **extra)
    async with app.run_test(size=(140, 45)) as pilot:
        while not app.screen.models:
            await pilot.pause(0.05)
        before = status("VmRSS")
        for _ in range(int(steps)):
            await pilot.press("down")  # on to the next file, not waiting for this one
            await pilot.pause(0.02)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (
                app.screen.current.name != names[-1]
                or any(worker.is_running and worker.group == "classify" for worker in app.workers)
                or not shown()):
            await pilot.pause(0.05)
        failed = app.screen.query_one("#predictions").has_class("-failed")
        said = app.screen.query_one("#file-error").visual if failed else ""
        print(app.screen.current.name, status("VmHWM"), status("VmHWM") - before, sep="\\t")
        print(str(getattr(said, "plain", said)).replace("\\n", " "))

extra = {"max_file_size": int(sys.argv[5])} if len(sys.argv) > 5 else {}
asyncio.run(browse())
"""


def browse(models: Path, folder: Path, save: Path, *extra) -> tuple[str, int, int, str]:
    """The app on `folder`, the cursor moved down through every file without waiting:
    the file shown at the end, the process's peak and growth in MB, the error line."""
    steps = len(list(folder.iterdir())) - 1
    reader = spawn(BROWSE, models, folder, save, steps, *extra, data_limit=3 << 30)
    out, err = reader.communicate(timeout=300)
    assert reader.returncode == 0, err[-3000:]
    (name, peak, grew), (said,) = (line.split("\t") for line in out.splitlines()[-2:])
    return name, int(peak), int(grew), said


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_the_app_decodes_one_file_at_a_time_while_you_browse(tmp_path, tiny_models):
    # Each of these takes about 300 MB to decode (and again in colour for the eye): the
    # app used to start a decoding for every file the cursor passed, and hold them all.
    folder = tmp_path / "heavy"
    folder.mkdir()
    Image.new("RGBA", (6000, 6000), (0, 0, 0, 0)).save(folder / "a0.png", compress_level=1)
    for index in range(1, 6):
        os.link(folder / "a0.png", folder / f"a{index}.png")
    png_with_chunk(folder / "b-private-150MB.png", 150 << 20)
    jpeg_with_segments(folder / "c-app-150MB.jpg", 0xE5, 150 << 20)
    digit(folder / "d-last.png")
    name, peak, grew, said = browse(tiny_models, folder, tmp_path)
    assert name == "d-last.png" and said == ""
    assert peak < 600, (peak, grew)  # 508 MB here, with 90 MB before browsing


def test_the_app_refuses_files_over_max_file_size(tmp_path, tiny_models):
    folder = tmp_path / "pictures"
    folder.mkdir()
    digit(folder / "a.png")
    _, _, _, said = browse(tiny_models, folder, tmp_path, 50)
    assert said == (f"⚠ a.png: too large: {(folder / 'a.png').stat().st_size} bytes file, "
                    "over the 50 bytes limit (--max-file-size)")


def test_the_apps_max_file_size_reaches_it(monkeypatch, tmp_path):
    import tui.app
    import tui.cli

    started = []
    monkeypatch.setattr(tui.cli, "interactive", lambda: True)
    monkeypatch.setattr(tui.app, "run_app", lambda *args, **options: started.append(options))
    assert tui.cli.app.main([str(tmp_path), "--max-file-size", "1.5K"], standalone_mode=False) == 0
    assert tui.cli.app.main([str(tmp_path)], standalone_mode=False) == 0
    assert started == [{"max_file_size": 1536}, {"max_file_size": 200 << 20}]


def test_a_decoding_given_up_while_waiting_never_starts(tmp_path):
    import threading

    from tui.runtime.display import DECODES, decode

    busy, release, ran, given_up = threading.Event(), threading.Event(), [], []
    waiting = [threading.Thread(target=decode, args=(lambda: busy.set() or release.wait(10), bool))
               for _ in range(DECODES)]  # every decoding thread taken
    for thread in waiting:
        thread.start()
    assert busy.wait(10)
    moved_on = threading.Event()
    late = threading.Thread(target=lambda: given_up.append(decode(lambda: ran.append(1), moved_on.is_set)))
    late.start()
    time.sleep(0.2)
    moved_on.set()  # the user is on another file: the caller stops waiting at once
    late.join(5)
    assert given_up == [None] and not late.is_alive()
    release.set()
    for thread in waiting:
        thread.join(10)
    assert decode(lambda: "next", bool) == "next" and ran == []  # the given-up job never ran
    with pytest.raises(ImageError, match=r"^cancelled$"):  # a running one stops at its next read
        load_image(digit(tmp_path / "d.png"), cancelled=lambda: True)


CHILDREN_PEAK = """
import resource, subprocess, sys
proc = subprocess.run([sys.executable, "-m", "tui.cli", "classify", "-f", "jsonl", *sys.argv[1:]],
                      capture_output=True, text=True)
sys.stderr.write(proc.stderr)
sys.stdout.write(proc.stdout)
print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_classify_workers_stay_small_on_files_that_declare_gigabytes(lying_files, tmp_path,
                                                                     tiny_models):
    # Enough files for worker processes; the largest any process of the run got, workers
    # included (RUSAGE_CHILDREN counts the children's children once they are reaped).
    folder = tmp_path / "mixed"
    folder.mkdir()
    for index in range(140):
        digit(folder / f"digit-{index:03d}.png", 28)
    for path in lying_files.iterdir():
        os.link(path, folder / path.name)
    reader = spawn(CHILDREN_PEAK, folder, "--workers", "2", "--models", tiny_models)
    out, err = reader.communicate(timeout=300)
    *lines, last = out.splitlines()
    code, peak = map(int, last.split())
    rows = [json.loads(line) for line in lines]
    assert code == 1, err
    assert {Path(row["path"]).name: row["error"] for row in rows if row["error"]} == REFUSED
    assert peak < 550, peak  # the parent, with its models, is about 150 MB
