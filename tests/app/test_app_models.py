"""The Models screen (restoring is in test_app_train_keep.py), the command palette, and import hygiene."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from app_helpers import SIZE, screen_text, wait_for
from textual.widgets import DataTable, Static

import onnx_models
from tui.commands import DlTuiCommands
from tui.model_text import dataset, metrics, readable, signature, size
from tui.runtime import ModelError


def test_cell_formatting():
    assert signature([("image", ["N", 28, 28, 1], "tensor(float)")]) == "image [N,28,28,1]"
    assert size(1536) == "1.5 KiB" and size(12) == "12 B"
    assert metrics({"test_accuracy": 0.9917, "test_elbo": -156.1}) == "acc 99.17% ELBO -156.1"
    assert readable({"size": [28, 28], "binarize": None, "invert": False, "lr": 0.001}) == (
        "size 28, 28 · binarize none · invert no · lr 0.001")
    assert dataset({"name": "mnist", "source": "../shared/data/mnist.npz", "train": 60000, "test": 10000}) == (
        "mnist · 60,000 train · 10,000 test")


async def test_table_lists_every_model_with_its_source_and_figures(make_app, tiny_models, tmp_path):
    (tiny_models / "broken.onnx").write_bytes(b"not onnx")
    user = tmp_path / "user"
    onnx_models.build("iris", user, metrics={"test_accuracy": 0.5})
    app = make_app(models=[user, tiny_models])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 7)
        rows = {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)] for i in range(7)}
        assert rows["cnn"][1:4] == ["shipped", "classification", "image [N,28,28,1]"]
        assert rows["iris"][1] == "user" and rows["iris"][5] == "acc 50.00%"  # the user's hides the shipped
        assert rows["cnn-invert"][5] == "acc 70.00% orig 75.00% inv 65.00%"
        assert rows["vae-decoder"][5] == "ELBO -160.5"
        assert rows["cnn"][6] == "2024-01-01 00:00"
        assert rows["broken"][2] == "unreadable"  # its error is in the details
        # Every column fits at 140: the last one is on screen.
        assert "trained" in screen_text(app).splitlines()[1]
        table.move_cursor(row=[*rows].index("broken"))
        await pilot.pause()
        details = str(app.screen.query_one("#model-details", Static).render())
        with pytest.raises(ModelError) as error:
            app.runtime.info("broken")
        assert details == f"broken\n{error.value}"
        assert str(error.value).startswith(f"cannot load model {tiny_models / 'broken.onnx'}: ")
        table.move_cursor(row=[*rows].index("cnn"))
        await pilot.pause()
        details = str(app.screen.query_one("#model-details", Static).render())
        assert "Tiny test cnn" in details and "batch_size 128" in details
        assert "outputs: probabilities [N,10]" in details and "runs on: CPUExecutionProvider" in details
        assert "dataset: mnist · 400 train · 200 test" in details
        assert not any(c in details for c in '{}"') and "mnist-sample.npz" not in details  # no JSON, no source path


async def test_reload_finds_new_files(make_app, tiny_models):
    (tiny_models / "iris.onnx").rename(tiny_models / "iris.bak")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 5)
        (tiny_models / "iris.bak").rename(tiny_models / "iris.onnx")
        await pilot.press("r")
        await wait_for(pilot, lambda: table.row_count == 6)


async def test_header_shows_the_provider_and_palette_runs_commands(make_app, tiny_models):
    (tiny_models / "[red]odd.onnx").write_bytes((tiny_models / "cnn.onnx").read_bytes())
    (tiny_models / "decoder-2.onnx").write_bytes((tiny_models / "vae-decoder.onnx").read_bytes())
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "CPUExecutionProvider" in app.sub_title)
        provider = DlTuiCommands(app.screen)
        await provider.startup()
        names = [name for name, _, _ in provider.commands()]
        # Image classifiers by their metadata, whatever their names.
        assert [name for name in names if name.startswith("Classify with ") and "side by side" not in name] == [
            f"Classify with {name}" for name in ("[red]odd", "cnn", "cnn-invert", "vae-classifier")]
        assert "Train: start vae" in names
        await pilot.press("i")  # the iris tab: "Classify with" goes back to the images
        await pilot.press("ctrl+p")
        await pilot.press(*"with cnn-invert")
        await wait_for(pilot, lambda: app.screen.query("CommandList") and app.screen.query_one("CommandList").option_count)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "classify" and app.screen.model == "cnn-invert")
        assert app.screen.query_one("TabbedContent").active == "images-tab"
        await app.on_screen("train", "train('iris')")
        await wait_for(pilot, lambda: app.screen.state.model == "iris")


def test_running_app_never_imports_tensorflow(tiny_models, images):
    """Every screen shown in a fresh process: no TensorFlow, Keras or tf2onnx (the time to the first
    paint is measured by bench/bench_app_timing.py)."""
    code = textwrap.dedent(f"""
        import asyncio, sys
        from pathlib import Path
        from tui.app import DlTuiApp
        from tui.runtime import Runtime

        async def main():
            app = DlTuiApp(Runtime(Path({str(tiny_models)!r}), interactive=True), Path({str(images)!r}),
                           graphics="halfcell")
            async with app.run_test(size=(120, 40)) as pilot:
                await pilot.pause()
                for key, mode in zip("2341", ("latent", "train", "models", "classify")):
                    await pilot.press(key)
                    while app.current_mode != mode:  # the screen shown (the test's timeout stops a hang)
                        await pilot.pause(0.02)
                    await pilot.pause()
        asyncio.run(main())
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf2onnx")))
    """)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


async def test_at_80x24_every_model_its_source_and_its_metrics_are_in_view(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: app.screen.query_one("#models-table").row_count == 6
                       and "test metrics: acc 75.00%" in screen_text(app))  # the table and the details drawn
        text = screen_text(app)
    for name in ("cnn", "cnn-invert", "iris", "vae-classifier", "vae-decoder", "vae-encoder"):
        assert f" {name} " in text
    assert "user" in text  # the source column
    assert "test metrics: acc 75.00%" in text  # the selected model's details
    assert "Restore previous" in text and "Help" in text  # the footer, whole
