"""`dl-train folder` with its defaults against the Keras tutorial path, side by side on the same folders.

    nice -n 10 python bench/folder_vs_keras.py [--sets letters,imbalanced,digits8,fashion] [--work DIR]

For each set: the folder is written (seeded, no downloads; Fashion-MNIST from the Debian
package's IDX files, bench/fashion_folders.py), `dl-train folder` trains it with its defaults
(a subprocess, JSON-lines progress) and writes its split manifest; the Keras path then trains on
the same train/val/test files (symlinked into three folders): `image_dataset_from_directory`
with `.cache()`, the notebook's CNN (four 5x5 conv + max-pool, dense 128, dropout 0.4) behind a
Rescaling(1/255), Adam 1e-3, 10 epochs, the best validation-accuracy epoch's weights kept.
Both are tested on the same held-out test files. Prints one row per set and path: test
accuracy, macro-F1, epochs, median seconds per epoch after the first (the first fills Keras's
cache; both include their validation pass, ours its checkpoints too), wall and CPU (user + sys
of the training process: the machine may be shared, so CPU is the fairer figure; on an idle
2-core machine wall is about CPU / 2), and the input alone: each path's training input run once
without any model (Keras's with its cache full; ours from the decoded arrays with the
augmentation its defaults chose for the set), wall and CPU. --json writes the rows too
(bench/results/folder_vs_keras.json).

Sets:
- letters: 10 capital letters in colour (random ink and paper colours, fonts, sizes, turns),
  32x32, 100 a class;
- imbalanced: 8 grey letters at 32x32, half the classes with 10 times the pictures of the other half (150 and 15);
- digits8: scikit-learn's 8x8 digits (1,797);
- fashion: the first N (--fashion-count, 12,000) Fashion-MNIST training pictures.

--fair measures issue 20's target instead ("an epoch costs no more than Keras's
image_dataset_from_directory pipeline with .cache() on the same folder"): the SAME model, ours
and then the notebook CNN, fed one epoch at a time by our uint8 cache pipeline (with the
augmentation the defaults choose, ours-aug, and without, ours-plain) and by
image_dataset_from_directory(...).cache() (keras-cache), on the split dl-train folder makes, each
with its own validation pass (ours: _Monitor's, best weights saved on a better epoch; Keras's:
validation_data), in turns after a warm-up epoch each; median CPU and wall seconds an epoch and
the ratios ours / Keras. Also the validation pass alone (val_cpu_s), where the two tools differ.
    nice -n 10 python bench/folder_vs_keras.py --fair --sets letters,digits8 --json bench/results/folder_vs_keras_fair_small.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
LETTERS = "ABCDEFGHIJ"


def _fonts() -> list:
    found = sorted(Path("/usr/share/fonts").rglob("*.ttf"))[:40] if Path("/usr/share/fonts").is_dir() else []
    return [str(path) for path in found if "Math" not in path.name] or [None]


def _letter(letter: str, size: int, rng: np.random.Generator, fonts: list, colour: bool) -> Image.Image:
    scale = 4
    side = size * scale
    paper = rng.integers(0, 256, 3)
    ink = rng.integers(0, 256, 3)
    while np.abs(ink.astype(int) - paper.astype(int)).sum() < 200:  # readable: ink unlike the paper
        ink = rng.integers(0, 256, 3)
    if not colour:  # dark on light or light on dark, at random
        grey = int(rng.integers(0, 90)) if rng.random() < 0.5 else int(rng.integers(165, 256))
        paper, ink = np.full(3, grey), np.full(3, 255 - grey)
    canvas = Image.new("RGB", (side, side), tuple(int(v) for v in paper))
    font_name = fonts[int(rng.integers(0, len(fonts)))]
    points = int(side * rng.uniform(0.55, 0.85))
    font = ImageFont.truetype(font_name, points) if font_name else ImageFont.load_default(points)
    glyph = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(glyph)
    box = draw.textbbox((0, 0), letter, font=font)
    x = (side - (box[2] - box[0])) / 2 - box[0] + rng.uniform(-0.12, 0.12) * side
    y = (side - (box[3] - box[1])) / 2 - box[1] + rng.uniform(-0.12, 0.12) * side
    draw.text((x, y), letter, fill=255, font=font)
    glyph = glyph.rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BILINEAR)
    canvas.paste(Image.new("RGB", (side, side), tuple(int(v) for v in ink)), mask=glyph)
    small = np.asarray(canvas.resize((size, size), Image.Resampling.BOX), dtype=np.int16)
    small = np.clip(small + rng.integers(-15, 16, small.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(small if colour else small[..., 0])


def letters(root: Path, counts: dict[str, int], colour: bool, size: int = 32, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    fonts = _fonts()
    for letter, count in counts.items():
        (root / letter).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            _letter(letter, size, rng, fonts, colour).save(root / letter / f"{letter}_{i:04d}.png")
    return root


def digits8(root: Path) -> Path:
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * (255 / 16)).round().astype(np.uint8)).save(root / str(label) / f"{i:04d}.png")
    return root


def fashion(root: Path, count: int) -> Path:
    subprocess.run([sys.executable, str(ROOT / "bench" / "fashion_folders.py"), str(root), "--train", str(count)], check=True)
    return root


def make(name: str, root: Path, fashion_count: int) -> Path:
    if root.is_dir():
        return root
    if name == "letters":
        return letters(root, dict.fromkeys(LETTERS, 100), colour=True)
    if name == "imbalanced":
        return letters(root, {letter: 150 if i < 4 else 15 for i, letter in enumerate(LETTERS[:8])}, colour=False, seed=1)
    if name == "digits8":
        return digits8(root)
    if name == "fashion":
        return fashion(root, fashion_count)
    raise SystemExit(f"unknown set {name!r}")


def macro_f1(y: np.ndarray, predicted: np.ndarray, classes: int) -> float:
    f1s = []
    for c in range(classes):
        tp, said, support = np.sum((predicted == c) & (y == c)), np.sum(predicted == c), np.sum(y == c)
        if support:
            precision, recall = (tp / said if said else 0.0), tp / support
            f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return float(np.mean(f1s))


def cpu_seconds(pid: int | None = None) -> float:
    """User + sys CPU seconds of this process (all its threads), or of process PID (from /proc)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ours(folder: Path, out: Path, extra: list[str]) -> dict:
    """dl-train folder with its defaults; its figures from the events (the process's CPU read at each epoch's end)."""
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as errors:  # a file, not a pipe: stdout is read as it comes, stderr could fill a pipe
        proc = subprocess.Popen([sys.executable, "-m", "trainer.cli", "folder", str(folder), "--name", "bench", "--out", str(out),
                                 "--progress", "jsonl", "--no-int8", "--restart", *extra], stdout=subprocess.PIPE,
                                stderr=errors, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        events, cpu_marks = [], []
        assert proc.stdout is not None
        for line in proc.stdout:
            if not line.strip():
                continue
            events.append(json.loads(line))
            if events[-1]["event"] in ("start", "epoch_end"):
                cpu_marks.append(cpu_seconds(proc.pid))
        code = proc.wait()
        errors.seek(0)
        stderr = errors.read()
    if code:
        raise SystemExit(f"dl-train folder failed ({proc.returncode}): {stderr[-2000:]}")
    epochs = [event["seconds"] for event in events if event["event"] == "epoch_end"]
    epoch_cpu = [b - a for a, b in itertools.pairwise(cpu_marks)]
    first = next(event for event in events if event["event"] == "start")
    done = events[-1]
    config = first["config"]
    decoded = next((line for line in stderr.splitlines() if line.startswith("decoded ")), "")
    return {"accuracy": done["metrics"]["test_accuracy"], "macro_f1": done["metrics"]["test_macro_f1"], "epochs": len(epochs),
            "epoch_s": statistics.median(epochs[1:] or epochs), "epoch_cpu_s": statistics.median(epoch_cpu[1:] or epoch_cpu),
            "total_s": time.monotonic() - started, "size": config["size"], "channels": config["channels"],
            "augment": config["augment_used"], "decode": decoded}


def _link_splits(folder: Path, manifest: dict, work: Path) -> dict[str, Path]:
    parts = {}
    for part in ("train", "val", "test"):
        target = work / part
        for rel, label in manifest["files"][part]:
            link = target / manifest["classes"][label] / rel.replace("/", "__")
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(folder / rel)
        for name in manifest["classes"]:  # every class folder, so the label indices agree
            (target / name).mkdir(parents=True, exist_ok=True)
        parts[part] = target
    return parts


def notebook_cnn(size: tuple[int, int], channels: int, classes: int):
    import keras
    from keras import layers

    blocks = []
    for filters in (16, 32, 64, 128):
        blocks += [layers.Conv2D(filters, 5, padding="same", activation="relu"), layers.MaxPool2D(2, 2, padding="same")]
    return keras.Sequential([keras.Input((*size, channels)), layers.Rescaling(1 / 255), *blocks, layers.Flatten(),
                             layers.Dense(128, activation="relu"), layers.Dropout(0.4),
                             layers.Dense(classes, activation="softmax")])


def keras_path(folder: Path, manifest: dict, size: tuple[int, int], channels: int, work: Path, epochs: int = 10) -> dict:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    parts = _link_splits(folder, manifest, work)
    mode = "rgb" if channels == 3 else "grayscale"

    def load(part, shuffle):
        return keras.utils.image_dataset_from_directory(parts[part], image_size=size, color_mode=mode, batch_size=32,
                                                        shuffle=shuffle, seed=0, class_names=manifest["classes"],
                                                        verbose=False).cache().prefetch(tf.data.AUTOTUNE)

    train, val, test = load("train", True), load("val", False), load("test", False)
    model = notebook_cnn(size, channels, len(manifest["classes"]))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    times, cpu = [], []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started, self.cpu = time.monotonic(), cpu_seconds()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.monotonic() - self.started)
            cpu.append(cpu_seconds() - self.cpu)

    best = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=epochs, restore_best_weights=True)
    model.fit(train, validation_data=val, epochs=epochs, verbose=0, callbacks=[Clock(), best])
    started, used = time.monotonic(), cpu_seconds()
    for _ in train:  # the input alone, its cache full: what an epoch costs before the model
        pass
    pipeline_s, pipeline_cpu_s = time.monotonic() - started, cpu_seconds() - used
    y = np.concatenate([labels.numpy() for _, labels in test])
    predicted = model.predict(test, verbose=0).argmax(axis=1)
    return {"accuracy": float(np.mean(predicted == y)), "macro_f1": macro_f1(y, predicted, len(manifest["classes"])),
            "epochs": epochs, "epoch_s": statistics.median(times[1:]), "epoch_cpu_s": statistics.median(cpu[1:]),
            "first_epoch_s": times[0], "pipeline_s": pipeline_s, "pipeline_cpu_s": pipeline_cpu_s}


def our_pipeline(folder: Path, manifest: dict, size: tuple[int, int], channels: int) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds to run dl-train folder's input once over the training part (decoded
    once, as it does), with augmentation (shift) and with none."""
    from trainer.folder_training import Arrays, train_pipeline
    from trainer.folders.cache import decode

    paths = [folder / rel for rel, _ in manifest["files"]["train"]]
    pictures, _ = decode(paths, size, channels)
    train = Arrays(pictures, np.array([label for _, label in manifest["files"]["train"]]))
    seconds = {}
    for augment in ("none", "shift"):
        data = train_pipeline(train, 32, 0, augment, None)
        for _ in data:  # once to trace
            pass
        started, used = time.monotonic(), cpu_seconds()
        for _ in data:
            pass
        seconds[augment] = (time.monotonic() - started, cpu_seconds() - used)
    return seconds


def fair_split(folder: Path) -> tuple[dict, tuple[int, int], int]:
    """The split manifest, size and channels `dl-train folder` would choose for FOLDER with its defaults (no training)."""
    from trainer.folder_command import scan_folder
    from trainer.folders.images import choose_channels, choose_size
    from trainer.folders.split import split as make_split

    found = scan_folder(folder)
    return make_split(found).manifest(), choose_size(found), choose_channels(found)


def fair(name: str, folder: Path, work: Path, rounds: int) -> list[dict]:
    """Issue 20's target, measured fairly: the SAME model (ours, then the notebook CNN) fitted one
    epoch at a time (validation included, as each tool does it) from (a) our uint8 cache pipeline
    with the augmentation the defaults choose (`ours-aug`) and (b) without (`ours-plain`), and (c)
    image_dataset_from_directory(...).cache() on the same files (`keras-cache`); in turns (a b c a
    b c ...), one warm-up epoch each first (tracing, Keras's cache filling), the median of ROUNDS."""
    import keras
    import tensorflow as tf

    from trainer.folder_model import build_folder_cnn
    from trainer.folder_training import Arrays, _Monitor, chosen_augment, predict, scores, train_pipeline
    from trainer.folders.cache import decode

    manifest, size, channels = fair_split(folder)
    classes = len(manifest["classes"])
    parts = _link_splits(folder, manifest, work / "links")
    arrays = {}
    for part in ("train", "val"):
        paths = [folder / rel for rel, _ in manifest["files"][part]]
        pictures, failed = decode(paths, size, channels)
        assert not failed, failed[:3]
        arrays[part] = Arrays(pictures, np.array([label for _, label in manifest["files"][part]], dtype=np.int64))
    train, val = arrays["train"], arrays["val"]
    augment = chosen_augment("auto", len(train), classes)
    mode = "rgb" if channels == 3 else "grayscale"

    def load(part, shuffle):
        return keras.utils.image_dataset_from_directory(parts[part], image_size=size, color_mode=mode, batch_size=32,
                                                        shuffle=shuffle, seed=0, class_names=manifest["classes"],
                                                        verbose=False).cache().prefetch(tf.data.AUTOTUNE)

    keras_train, keras_val = load("train", True), load("val", False)
    rows = []
    for model_name in ("folder-cnn", "notebook-cnn"):
        keras.utils.set_random_seed(0)
        if model_name == "folder-cnn":
            inner = build_folder_cnn(size, channels, classes)
        else:  # the notebook's, its Rescaling(1/255) taken out: both feeds give it [0, 1]
            inner = keras.Sequential(notebook_cnn(size, channels, classes).layers[1:])
            inner.build((None, *size, channels))
        scaled = keras.Sequential([keras.Input((*size, channels)), keras.layers.Rescaling(1 / 255), inner])  # Keras's 0..255 floats
        for model in (inner, scaled):
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        checkpoints = work / "checkpoints" / model_name
        checkpoints.mkdir(parents=True, exist_ok=True)
        feeds = {"ours-aug": train_pipeline(train, 32, 0, augment, None), "ours-plain": train_pipeline(train, 32, 0, "none", None),
                 "keras-cache": keras_train}
        if augment == "none":
            del feeds["ours-aug"]
        figures: dict[str, list[tuple[float, float]]] = {feed: [] for feed in feeds}
        histories: dict[str, list[dict]] = {feed: [] for feed in feeds}  # best weights saved on a better epoch only, as in a run

        def epoch(feed: str, inner=inner, scaled=scaled, feeds=feeds, checkpoints=checkpoints,
                  histories=histories) -> tuple[float, float]:
            started, used = time.monotonic(), cpu_seconds()
            if feed == "keras-cache":
                scaled.fit(keras_train, validation_data=keras_val, epochs=1, verbose=0)
            else:  # as fit_folder does: its validation pass and best-weights save in _Monitor
                monitor = _Monitor(val, classes, histories[feed], checkpoints, None)
                done = inner.fit(feeds[feed], epochs=1, verbose=0, callbacks=[monitor], shuffle=False)
                histories[feed].append({k: float(v[-1]) for k, v in done.history.items()})  # as ProgressCallback keeps it
            return time.monotonic() - started, cpu_seconds() - used

        for feed in feeds:  # warm-up
            epoch(feed)
        for _ in range(rounds):
            for feed in feeds:
                figures[feed].append(epoch(feed))
        started = cpu_seconds()
        for _ in range(rounds):
            scores(val.y, predict(inner, val.x), classes)
        ours_val = (cpu_seconds() - started) / rounds
        started = cpu_seconds()
        for _ in range(rounds):
            scaled.evaluate(keras_val, verbose=0)
        keras_val_cpu = (cpu_seconds() - started) / rounds
        keras_wall = statistics.median(w for w, _ in figures["keras-cache"])
        keras_cpu = statistics.median(c for _, c in figures["keras-cache"])
        for feed, measured in figures.items():
            wall, cpu = statistics.median(w for w, _ in measured), statistics.median(c for _, c in measured)
            row = {"set": name, "train": len(train), "val": len(val), "size": "x".join(map(str, size)) + ("c" if channels == 3 else ""),
                   "model": model_name, "pipeline": feed, "augment": augment if feed == "ours-aug" else "none",
                   "epoch_cpu_s": round(cpu, 3), "epoch_s": round(wall, 3), "cpu_ratio": round(cpu / keras_cpu, 3),
                   "wall_ratio": round(wall / keras_wall, 3), "rounds": rounds,
                   "val_cpu_s": round(keras_val_cpu if feed == "keras-cache" else ours_val, 3),
                   "cpu_each": [round(c, 3) for _, c in measured], "wall_each": [round(w, 3) for w, _ in measured]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main_fair(args) -> int:
    rows = []
    for name in args.sets.split(","):
        folder = make(name, args.work / "sets" / (name if name != "fashion" else f"fashion-{args.fashion_count}"),
                      args.fashion_count)
        rows += fair(name, folder, args.work / "fair" / name, args.rounds)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"load_average": os.getloadavg(), "cores": os.cpu_count(), "rows": rows}, indent=1) + "\n")
    print("\n| set | train | size | model | pipeline | CPU s/epoch | wall s/epoch | CPU ratio | wall ratio | validation CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['set']} | {row['train']} | {row['size']} | {row['model']} | {row['pipeline']} | {row['epoch_cpu_s']:.2f} "
              f"| {row['epoch_s']:.2f} | {row['cpu_ratio']:.2f} | {row['wall_ratio']:.2f} | {row['val_cpu_s']:.3f} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="letters,imbalanced,digits8", help="comma-separated: letters, imbalanced, digits8, fashion")
    parser.add_argument("--work", type=Path, default=Path("/tmp/dl-train-folder-bench"))
    parser.add_argument("--fashion-count", type=int, default=12000)
    parser.add_argument("--keras-epochs", type=int, default=10)
    parser.add_argument("--ours", default="", help="extra dl-train folder options, space-separated (default: none: its defaults)")
    parser.add_argument("--json", type=Path, help="also write the rows here, as JSON")
    parser.add_argument("--fair", action="store_true", help="the fair comparison instead: the same model from each pipeline (fair())")
    parser.add_argument("--rounds", type=int, default=3, help="--fair: measured epochs a pipeline, after its warm-up")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.fair:
        return main_fair(args)
    rows = []
    for name in args.sets.split(","):
        folder = make(name, args.work / "sets" / (name if name != "fashion" else f"fashion-{args.fashion_count}"),
                      args.fashion_count)
        out = args.work / "runs" / name
        mine = ours(folder, out, args.ours.split())
        manifest = json.loads((out / "bench.split.json").read_text())
        theirs = keras_path(folder, manifest, tuple(mine["size"]), mine["channels"], args.work / "keras" / name,
                            args.keras_epochs)
        inputs = our_pipeline(folder, manifest, tuple(mine["size"]), mine["channels"])
        mine["pipeline_s"], mine["pipeline_cpu_s"] = inputs[mine["augment"] if mine["augment"] in inputs else "shift"]
        mine["pipeline_plain_s"], mine["pipeline_plain_cpu_s"] = inputs["none"]
        count = sum(len(v) for v in manifest["files"].values())
        for path, figures in (("keras", theirs), ("dl-train", mine)):
            row = {"set": name, "images": count, "size": "x".join(map(str, mine["size"])) + ("c" if mine["channels"] == 3 else ""),
                   "path": path, **{k: v for k, v in figures.items() if k not in ("decode", "size")}}
            rows.append(row)
            print(json.dumps(row), flush=True)
        print(f"# {name}: {mine['decode']}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"load_average": os.getloadavg(), "cores": os.cpu_count(), "rows": rows}, indent=1) + "\n")
    print("\n| set | images | size | path | test accuracy | macro-F1 | epochs | s/epoch (CPU s) | input s/epoch (CPU s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['set']} | {row['images']} | {row['size']} | {row['path']} | {row['accuracy']:.3f} | {row['macro_f1']:.3f} "
              f"| {row['epochs']} | {row['epoch_s']:.2f} ({row['epoch_cpu_s']:.2f}) | {row['pipeline_s']:.3f} "
              f"({row['pipeline_cpu_s']:.3f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
