"""After a run: old and new test metrics side by side, Keep new or Keep old; new models go to the user folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import SIZE, screen_text, wait_for
from test_app_train import log_text, open_train
from textual.widgets import DataTable, Select, Static

import onnx_models
from tui.screens.keep_model import KeepModelScreen
from tui.screens.train import TrainScreen


@pytest.fixture
def user(tmp_path: Path) -> Path:
    """The user's models folder, in front of the tiny models standing in for the shipped ones."""
    return tmp_path / "user"


@pytest.fixture
def new_iris(tmp_path: Path, monkeypatch) -> Path:
    """What the fake trainer exports: an iris that tests worse than the 75% tiny one."""
    path = onnx_models.build("iris", tmp_path / "trained", metrics={"test_accuracy": 0.6})
    monkeypatch.setenv("FAKE_TRAINER_EXPORT", str(path))
    return path


async def train_iris(pilot) -> KeepModelScreen:
    """Train iris for an epoch and wait for the question."""
    screen = await open_train(pilot, epochs=1)
    screen.query_one("#train-model", Select).value = "iris"
    await pilot.pause()
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, KeepModelScreen))
    await wait_for(pilot, lambda: "iris" in screen_text(pilot.app))  # drawn (a loaded machine takes a moment)
    return pilot.app.screen


def table_text(prompt: KeepModelScreen) -> str:
    return screen_text(prompt.app)


async def test_keep_new_puts_the_model_in_the_user_folder_not_the_shipped_one(make_app, tiny_models, user,
                                                                               new_iris):
    shipped = (tiny_models / "iris.onnx").read_bytes()
    app = make_app(models=[user, tiny_models])
    async with app.run_test(size=SIZE) as pilot:
        prompt = await train_iris(pilot)
        text = table_text(prompt)
        assert "iris" in text and "acc 75.00% (shipped)" in text and "acc 60.00%" in text
        assert not (user / "iris.onnx").exists()  # nothing replaced before the answer
        await pilot.click("#keep-new")
        train = app.screen
        assert isinstance(train, TrainScreen)
        await wait_for(pilot, lambda: not train.running)
        assert (user / "iris.onnx").read_bytes() == new_iris.read_bytes()
        assert (tiny_models / "iris.onnx").read_bytes() == shipped
        assert app.runtime.info("iris").metrics == {"test_accuracy": 0.6}
        assert "kept the new iris.onnx" in log_text(train)
        await pilot.press("4")
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 6)
        sources = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(6)}
        assert sources["iris"] == "user" and sources["cnn"] == "shipped"


async def test_keep_old_leaves_the_old_model_byte_identical(make_app, tiny_models, user, new_iris):
    old = onnx_models.build("iris", user, metrics={"test_accuracy": 0.9}).read_bytes()
    app = make_app(models=[user, tiny_models])
    async with app.run_test(size=SIZE) as pilot:
        prompt = await train_iris(pilot)
        assert "acc 90.00% (user)" in table_text(prompt)
        await pilot.click("#keep-old")
        train = app.screen
        await wait_for(pilot, lambda: not train.running)
        assert "kept the old models" in log_text(train)
    assert (user / "iris.onnx").read_bytes() == old
    assert not (user / "previous").exists()
    assert not (user / ".staging" / "iris.onnx").exists()


async def test_escape_at_the_question_keeps_the_old(make_app, tiny_models, user, new_iris):
    app = make_app(models=[user, tiny_models])
    async with app.run_test(size=SIZE) as pilot:
        await train_iris(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen) and not app.screen.running)
    assert not (user / "iris.onnx").exists()


async def test_keep_new_keeps_the_old_one_and_the_models_screen_restores_it(make_app, tiny_models, user,
                                                                            new_iris):
    old = onnx_models.build("iris", user, metrics={"test_accuracy": 0.9}).read_bytes()
    app = make_app(models=[user, tiny_models])
    async with app.run_test(size=SIZE) as pilot:
        await train_iris(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen) and not app.screen.running)
        assert (user / "iris.onnx").read_bytes() == new_iris.read_bytes()
        assert (user / "previous" / "iris.onnx").read_bytes() == old
        await pilot.press("4")
        models = app.screen
        table = models.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 6 and "iris" in models.restorable)
        table.move_cursor(row=[str(table.get_row_at(i)[0]) for i in range(6)].index("iris"))
        await pilot.pause()
        assert "p restores it" in str(models.query_one("#model-details", Static).render())
        await pilot.press("p")
        await wait_for(pilot, lambda: app.runtime.info("iris").metrics == {"test_accuracy": 0.9})
    assert (user / "iris.onnx").read_bytes() == old
    assert (user / "previous" / "iris.onnx").read_bytes() == new_iris.read_bytes()


async def test_a_run_that_exports_nothing_asks_nothing(make_app, tiny_models, user):
    app = make_app(models=[user, tiny_models])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot, epochs=1)
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.state.status == "finished" and not screen.running)
        assert app.screen is screen
        assert (user / ".staging").is_dir() and not (user / "cnn.onnx").exists()


async def test_the_question_says_when_the_new_model_is_worse(make_app, tiny_models, user, new_iris):
    app = make_app(models=[user, tiny_models])
    async with app.run_test(size=SIZE) as pilot:
        prompt = await train_iris(pilot)
        warning = str(prompt.query_one("#keep-verdict", Static).render())
        assert "The new iris is worse than the one it replaces (60.0% vs 75.0% test accuracy)" in warning
        assert prompt.query_one("#keep-verdict").display
        assert app.focused is prompt.query_one("#keep-old")  # Enter keeps the better one
        await pilot.press("escape")


async def test_a_better_model_gets_no_warning(make_app, tiny_models, user, tmp_path, monkeypatch):
    better = onnx_models.build("iris", tmp_path / "better", metrics={"test_accuracy": 0.9})
    monkeypatch.setenv("FAKE_TRAINER_EXPORT", str(better))
    app = make_app(models=[user, tiny_models])
    async with app.run_test(size=SIZE) as pilot:
        prompt = await train_iris(pilot)
        assert not prompt.query_one("#keep-verdict").display
        assert "worse" not in screen_text(app)
        await pilot.press("escape")


def test_worse_compares_the_headline_metric():
    from tui.screens.keep_model import worse
    from tui.staging import Comparison

    assert worse([Comparison("vae", {"test_elbo": -160.0}, {"test_elbo": -155.5})]) == [
        "The new vae is worse than the one it replaces (ELBO -160.0 vs -155.5)."]
    assert worse([Comparison("cnn", {"test_accuracy": 0.971}, {"test_accuracy": 0.993})]) == [
        "The new cnn is worse than the one it replaces (97.1% vs 99.3% test accuracy)."]
    assert worse([Comparison("cnn", {"test_accuracy": 0.99}, None)]) == []  # nothing to replace
    assert worse([Comparison("cnn", {}, {"test_accuracy": 0.9})]) == []  # nothing to compare
