"""A scripted stand-in for `dl-train ... --progress jsonl`: prints the contract's events with short sleeps.

FAKE_TRAINER_MODE: `ok` (default), `garbage` (a line that is not JSON, a traceback, exit 1),
`slow` (batches until interrupted; SIGINT gives an `error` event and exit 130, as dl-train does),
`stop-after-1` (exits 137 after epoch 1, as if killed).
FAKE_TRAINER_START_DELAY: seconds before the `start` event (dl-train importing TensorFlow).
`models --format json` prints MODELS, dl-train's answer (tests/test_trainer_client.py checks they agree);
FAKE_TRAINER_MODELS: a file whose text it prints instead, or `fail` (exit 2, as a dl-train without it).
Like dl-train it resumes: each finished epoch leaves `<--out>/.checkpoints/<model>/epoch-N`, a run
starts after the newest (`--restart` drops them), and an export removes them.
`check DIR --format json` prints a report of DIR's class folders (classes, counts, problems for files that
are not .png, duplicates, leaks) and exits 0 with two classes or more, else 2 (FAKE_TRAINER_CHECK_DELAY:
seconds first). `folder DIR --name NAME` trains as a model named NAME and also writes `NAME.split.json`.
FAKE_TRAINER_EXPORT: an .onnx file copied (atomically) to `<--out>/<model>.onnx` at export, or a
folder whose every file is copied into `--out` (the VAE's encoder, decoder and weights), after
FAKE_TRAINER_EXPORT_DELAY seconds, or once the file FAKE_TRAINER_EXPORT_GATE exists (a test lets the
export go on when it has seen what it waits for, however slow the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

STEPS = 4
MODELS = {"default": "cnn", "models": [
    {"name": "iris", "description": "Iris MLP (4-10-10-3) -> iris.onnx.", "epochs": 10, "needs_mnist": False,
     "needs": [], "options": ["restart", "epochs"], "files": ["iris.onnx"]},
    {"name": "cnn", "description": "MNIST CNN -> cnn.onnx, or cnn-invert.onnx with --invert.", "epochs": 10,
     "needs_mnist": True, "needs": [], "options": ["invert", "data", "restart", "epochs"],
     "files": ["cnn.onnx", "cnn.int8.onnx"],
     "variant": {"flag": "invert", "models": ["cnn-invert"], "files": ["cnn-invert.onnx", "cnn-invert.int8.onnx"]}},
    {"name": "vae", "description": "Convolutional VAE with a 2-D latent space.", "epochs": 10, "needs_mnist": True,
     "needs": [], "options": ["data", "restart", "epochs"],
     "files": ["vae-encoder.onnx", "vae-decoder.onnx", "vae-decoder.int8.onnx", "vae.weights.h5",
               "vae-latent-map.npz"]},
    {"name": "vae-classifier", "description": "MLP on the trained VAE's latent encoding.", "epochs": 10,
     "needs_mnist": True, "needs": ["vae"], "options": ["data", "restart", "epochs"],
     "files": ["vae-classifier.onnx", "vae-classifier.int8.onnx"]},
    {"name": "all", "description": "Every model in order.", "epochs": 10, "needs_mnist": True, "needs": [],
     "options": ["data", "restart", "epochs"],
     "files": ["iris.onnx", "cnn.onnx", "cnn.int8.onnx", "cnn-invert.onnx", "cnn-invert.int8.onnx",
               "vae-encoder.onnx", "vae-decoder.onnx", "vae-decoder.int8.onnx", "vae.weights.h5",
               "vae-latent-map.npz", "vae-classifier.onnx", "vae-classifier.int8.onnx"]},
]}


def fake_command(options, out: Path) -> list[str]:
    """This script's command line for a run: dl-train's, with the script in place of dl-train."""
    from tui.trainer_client import dl_train_command

    argv = dl_train_command(options, out)
    return [sys.executable, str(Path(__file__).resolve()), *argv[argv.index(options.model):]]


def fake_check_command(folder: Path) -> list[str]:
    """This script's `dl-train check DIR --format json`."""
    return [sys.executable, str(Path(__file__).resolve()), "check", str(folder), "--format", "json"]


def check(folder: Path) -> int:
    """A small `dl-train check`: class folders and their .png files; anything else is a problem."""
    time.sleep(float(os.environ.get("FAKE_TRAINER_CHECK_DELAY", "0")))
    classes, counts, problems, seen, duplicates = [], {}, [], {}, []
    for entry in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(p for p in entry.rglob("*") if p.is_file())
        images = [p for p in files if p.suffix == ".png"]
        problems += [{"path": str(p), "kind": "not-image", "detail": "not an image", "severity": "skipped"}
                     for p in files if p.suffix != ".png"]
        for path in images:
            data = path.read_bytes()
            if data in seen:
                duplicates.append({"kind": "exact", "distance": 0, "files": [
                    {"path": seen[data], "class": Path(seen[data]).parent.name, "split": "train"},
                    {"path": str(path), "class": entry.name, "split": "train"}]})
            seen.setdefault(data, str(path))
        if images:
            classes.append(entry.name)
            counts[entry.name] = len(images)
        else:
            problems.append({"path": str(entry), "kind": "empty-class", "detail": "no images: left out",
                             "severity": "warning"})
    print(json.dumps({"root": str(folder), "layout": "classes", "can_train": len(classes) >= 2, "classes": classes,
                      "counts": counts, "images": sum(counts.values()), "skipped": len(problems),
                      "problems": problems, "duplicates": duplicates, "leaks": []}))
    if len(classes) < 2:
        return 2  # dl-train check says why in its report, not on stderr
    return 0


def fake_models_command() -> list[str]:
    """This script's `dl-train models --format json`."""
    return [sys.executable, str(Path(__file__).resolve()), "models", "--format", "json"]


def models() -> int:
    source = os.environ.get("FAKE_TRAINER_MODELS", "")
    if source == "fail":
        print("Error: No such command 'models'.", file=sys.stderr)
        return 2
    print(Path(source).read_text() if source else json.dumps(MODELS))
    return 0


def emit(**event: object) -> None:
    print(json.dumps(event), flush=True)


def main() -> int:
    if sys.argv[1:2] == ["models"]:
        return models()
    if sys.argv[1:2] == ["check"]:
        return check(Path(sys.argv[2]))
    # SIGINT may land at any moment, even before training starts: always answer with an error event.
    try:
        return train()
    except KeyboardInterrupt:
        emit(event="error", message="interrupted; run the same command again to resume from the last finished epoch")
        return 130


def train() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("folder", nargs="?", type=Path)  # `folder DIR`
    parser.add_argument("--name", default="")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument("--progress", default="jsonl")
    parser.add_argument("--invert", action="store_true")
    parser.add_argument("--restart", action="store_true")
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    mode = os.environ.get("FAKE_TRAINER_MODE", "ok")
    time.sleep(float(os.environ.get("FAKE_TRAINER_START_DELAY", "0")))
    # dl-train throttles batch events to a few a second; a flood would also keep Pilot from settling.
    delay = float(os.environ.get("FAKE_TRAINER_DELAY", "0.1" if mode == "slow" else "0.01"))
    model = "cnn-invert" if args.invert else args.name if args.model == "folder" else args.model
    checkpoints = args.out / ".checkpoints" / model
    if args.restart:
        shutil.rmtree(checkpoints, ignore_errors=True)
    checkpoints.mkdir(parents=True, exist_ok=True)
    done = max((int(path.name.removeprefix("epoch-")) for path in checkpoints.glob("epoch-*")), default=0)
    emit(event="start", model=model, epochs=args.epochs, batch_size=128, steps=STEPS, train_size=512,
         config={"invert": args.invert})
    if done:
        print(f"resuming {model} after epoch {done} (use --restart to start over)", file=sys.stderr, flush=True)
    if mode == "garbage":
        print("Traceback (most recent call last):", flush=True)
        print("RuntimeError: out of cheese", file=sys.stderr, flush=True)
        return 1
    for epoch in range(done + 1, args.epochs + 1):
        emit(event="epoch_start", model=model, epoch=epoch, epochs=args.epochs)
        step = 0
        while step < STEPS or mode == "slow":
            step = step % STEPS + 1
            time.sleep(delay)
            emit(event="batch", model=model, epoch=epoch, step=step, steps=STEPS,
                 loss=1.0 / (epoch + step / STEPS), metrics={"accuracy": 0.5 + 0.1 * epoch})
        (checkpoints / f"epoch-{epoch}").touch()  # before epoch_end, as dl-train saves before it reports
        emit(event="epoch_end", model=model, epoch=epoch, epochs=args.epochs, loss=1.0 / (epoch + 1),
             metrics={"accuracy": 0.5 + 0.1 * epoch}, val_metrics={"loss": 1.2 / (epoch + 1),
             "accuracy": 0.45 + 0.1 * epoch}, seconds=0.1)
        if mode == "stop-after-1" and epoch == 1:  # a run killed between epochs
            return 137
    source = os.environ.get("FAKE_TRAINER_EXPORT")
    copies = {}
    if source and Path(source).is_dir():
        copies = {path: args.out / path.name for path in sorted(Path(source).iterdir())}
    elif source:
        copies = {Path(source): args.out / f"{model}.onnx"}
    time.sleep(float(os.environ.get("FAKE_TRAINER_EXPORT_DELAY", "0")))  # dl-train tests, then exports
    if gate := os.environ.get("FAKE_TRAINER_EXPORT_GATE"):
        deadline = time.monotonic() + 60  # a hang guard: the test opens the gate long before
        while not Path(gate).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    for origin, path in copies.items():
        temporary = path.with_name(f".{path.name}.tmp")
        shutil.copyfile(origin, temporary)
        os.replace(temporary, path)
        if path.suffix == ".onnx":
            emit(event="export", model=path.stem, path=str(path), parity=1e-7)
    if args.model == "folder":  # the split manifest, beside the model
        (args.out / f"{model}.split.json").write_text(json.dumps({"version": 1, "root": str(args.folder)}))
    shutil.rmtree(checkpoints, ignore_errors=True)
    emit(event="done", model=model, metrics={"test_accuracy": 0.9}, seconds=0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
