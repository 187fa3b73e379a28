"""The Train screen on a folder of the user's images: pick it with the browser, see `dl-train check`'s report,
then train with `dl-train folder` (the fake trainer) and keep the new model beside its split manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import SIZE, screen_text, wait_for
from fake_trainer import fake_check_command
from test_app_train import log_text, open_train
from textual.widgets import Input, Select

import onnx_models
from tui.screens.keep_model import KeepModelScreen
from tui.screens.pick_folder import PickFolderScreen
from tui.screens.train import TrainScreen
from tui.trainer_client import (FOLDER, FolderCheck, TrainOptions, default_name, dl_train_check_command, dl_train_command,
                                name_problem, read_check)


@pytest.fixture
def digits(tmp_path: Path) -> Path:
    """`my digits/zero` and `my digits/one`, 3 PNGs each (one a copy of another), and a README."""
    root = tmp_path / "my digits"
    onnx_models.digit_pngs(root / "zero", 3, distinct=2)  # the third is the first again: a duplicate
    onnx_models.digit_pngs(root / "one", 3, name="one-{i}.png")
    (root / "zero" / "README.txt").write_text("not a picture")
    return root


@pytest.fixture
def user(tmp_path: Path) -> Path:
    return tmp_path / "user"


@pytest.fixture
def exported(tmp_path: Path, monkeypatch) -> Path:
    """What the fake `dl-train folder` exports: a 20x16 classifier, named as the run's --name."""
    path = onnx_models.build_sized(tmp_path / "trained", filename="my-digits")
    monkeypatch.setenv("FAKE_TRAINER_EXPORT", str(path))
    return path


def folder_app(make_app, models):
    app = make_app(models=models)
    app.trainer_check = fake_check_command
    return app


async def pick(pilot, screen: TrainScreen, folder: Path) -> None:
    """b, then the browser's folder, then u."""
    await pilot.press("b")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, PickFolderScreen))
    pilot.app.screen.choose(folder)
    await pilot.press("u")
    await wait_for(pilot, lambda: pilot.app.screen is screen)


def test_folder_command_line_and_names():
    options = TrainOptions(model=FOLDER, epochs=0, folder="/data/leaves", name="leaves")
    argv = dl_train_command(options, Path("/m/.staging"))
    assert argv[-8:] == ["folder", "/data/leaves", "--name", "leaves", "--out", "/m/.staging", "--progress", "jsonl"]
    assert "--epochs" not in argv  # dl-train stops early by itself
    assert "--epochs" in dl_train_command(TrainOptions(model=FOLDER, epochs=5, folder="d", name="n"), Path("o"))
    assert default_name("/x/my digits (2)") == "my-digits-2"
    assert name_problem("ok_name-2") == "" and name_problem("all") and name_problem("a b")


def test_check_summary_names_every_problem():
    # The shape of `dl-train check --format json` (trainer/folder_check.py), cut down.
    check = FolderCheck("d", 0, {
        "classes": ["a", "b"], "counts": {"a": 10, "b": 3}, "splits": {"train": {"a": 8, "b": 2}, "test": {"a": 2, "b": 1}},
        "split": {"given": True}, "images": 13, "skipped": 1, "sizes": {"min": [8, 8], "max": [640, 480]},
        "modes": {"grey": 3, "RGB": 10, "alpha": 0}, "imbalance": {"ratio": 3.3, "largest": "a", "smallest": "b",
                                                                  "imbalanced": True},
        "problems": [{"path": "d/a/x.jpg", "kind": "truncated", "detail": "cut short", "severity": "skipped"}],
        "duplicates": [{"kind": "near", "files": [{"path": "d/a/1.png", "split": "train"}, {"path": "d/b/1.png", "split": "test"}]}],
        "leaks": []})
    assert check.summary() == [
        "classes: 2: a 10, b 3", "split (given): train 10 · test 3",
        "images: 13, 1 skipped · sizes 8×8 to 640×480 · grey 3, RGB 10", "imbalanced: a has 3.3× the images of b",
        "1 problem:", "  a/x.jpg: truncated cut short", "1 duplicate:", "  a/1.png (train) = b/1.png (test): near"]


async def test_pick_check_train_and_keep(make_app, tiny_models, user, digits, exported):
    app = folder_app(make_app, [user, tiny_models])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        await pick(pilot, screen, digits)
        await wait_for(pilot, lambda: screen.check is not None)
        assert screen.check.ok
        log = log_text(screen)
        assert "classes: 2: one 3, zero 3" in log
        assert "zero/README.txt: not-image not an image" in log  # paths from the folder
        assert "duplicates:" in log and "= zero/0002.png (train): exact" in log  # the fake names same bytes
        assert screen.query_one("#train-model", Select).value == FOLDER
        assert screen.query_one("#train-name", Input).value == "my-digits"
        assert screen.query_one("#train-folder", Input).display and not screen.query_one("#train-invert").display
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, KeepModelScreen))
        assert "my-digits" in screen_text(app)
        log = log_text(screen)
        assert screen.run.argv[2:6] == ["folder", str(digits), "--name", "my-digits"]
        assert "start my-digits" in log and "epoch 3/3" in log  # open_train typed 3 epochs
        await pilot.press("n")  # keep new
        await wait_for(pilot, lambda: app.screen is screen and not screen.running)
        assert (user / "my-digits.onnx").read_bytes() == exported.read_bytes()
        assert (user / "my-digits.split.json").is_file()  # the manifest moves in with its model
        assert "my-digits" in app.runtime.available()
        assert "6 evaluates it on its held-out test part" in log_text(screen)


async def test_a_folder_check_refuses_trains_nothing(make_app, tiny_models, user, digits, tmp_path):
    lonely = tmp_path / "lonely"
    onnx_models.digit_pngs(lonely / "only", 2)
    app = folder_app(make_app, [user, tiny_models])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        await pick(pilot, screen, lonely)
        await wait_for(pilot, lambda: screen.check is not None)
        assert not screen.check.ok and screen.check.code == 2
        errors = str(screen.query_one("#train-errors").render())
        assert "cannot train on this folder" in errors and "1 class with images: at least two are needed" in errors
        await pilot.press("s")
        await pilot.pause()
        assert not screen.running and not (user / ".staging").exists()


async def test_start_checks_a_typed_folder_first(make_app, tiny_models, user, digits, exported):
    app = folder_app(make_app, [user, tiny_models])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        screen.query_one("#train-model", Select).value = FOLDER
        await pilot.pause()
        screen.query_one("#train-folder", Input).value = str(digits)
        screen.query_one("#train-name", Input).value = "typed"
        screen.query_one("#train-epochs", Input).value = "1"
        await pilot.press("s")  # the check first, then the run
        await wait_for(pilot, lambda: isinstance(app.screen, KeepModelScreen))
        log = log_text(screen)
        assert screen.run.argv[2:8] == ["folder", str(digits), "--name", "typed", "--epochs", "1"]
        assert log.index("classes: 2") < log.index("start typed")
        assert "epoch 1/1" in log
        await pilot.press("o")  # keep old: the new model is dropped
        await wait_for(pilot, lambda: app.screen is screen and not screen.running)
        assert not (user / "typed.onnx").exists()


def test_the_real_dl_train_check_report_reads(tmp_path, digits):
    """dl-train check itself (no TensorFlow): its JSON report becomes the log's lines; a folder it refuses
    says why."""
    check = read_check(dl_train_check_command(digits), str(digits), lambda: False)
    assert check is not None and check.ok, check
    lines = check.summary()
    assert lines[0] == "classes: 2: one 3, zero 3"
    assert any(line.startswith("split (stratified): train ") for line in lines)
    assert "  zero/README.txt: not-image not an image" in lines
    assert any(line.startswith("  one/one-0.png (") and "zero/0000.png" in line for line in lines)  # a duplicate
    lonely = onnx_models.digit_pngs(tmp_path / "lonely" / "only", 2).parent
    refused = read_check(dl_train_check_command(lonely), str(lonely), lambda: False)
    assert refused is not None and refused.code == 2
    assert refused.refusal() == ["1 class with images: at least two are needed"]


async def test_x_stops_a_long_check(make_app, tiny_models, user, digits, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER_CHECK_DELAY", "60")
    app = folder_app(make_app, [user, tiny_models])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot)
        await pick(pilot, screen, digits)
        assert screen.checking
        await pilot.press("x")
        assert not screen.checking and screen.check is None
        await wait_for(pilot, lambda: not any(w.group == "train-check" and w.is_running for w in app.workers))
        assert "dl-train check stopped" in log_text(screen) and not screen.running
