"""Names and metadata that look like markup are shown literally, exactly as written, on every
screen: no style applied, no backslash added, nothing after a bracket lost, no crash."""

from __future__ import annotations

import re

import numpy as np
import onnx_models
from app_helpers import SIZE, screen_text, wait_for
from PIL import Image

from tui.app import DlTuiApp
from tui.runtime import Runtime, latent

MARKUP_LABELS = [f"[b]{digit}" for digit in range(10)]
# Every label is a way markup could eat, style or escape it: shown in any other form, it is not in
# this list (no label is a bare digit, none holds a backslash).
LABELS = ["[red]0[/red]", "d[1", "2 [ b]", "lone [3", "[bold]4[/]", "[5]", "six [/]", "[i]7", "8 [ b]",
          "[@click=app.quit]9[/]"]
DESCRIPTION = "a [ b] [red]markup[/red] lone [ and [bold]x[/]"
NAME = "x[red]y a [ b]"
IMAGE = "a [ b] [red]x.png"
IRIS_LABELS = ["[b]setosa", "versi[color", "virginica [x]"]
FEATURES = ["sepal [length]", "[i]width", "petal [ l", "petal w[/]"]
SKIPPED = "skipped model dup [ x, unusable: label '[b]dup' appears more than once"


def hostile_models(folder):
    """The six tiny models with markup in their names and metadata, and one unusable model."""
    onnx_models.build_all(folder)
    for name in ("cnn", "vae-classifier"):
        onnx_models.build(name, folder, labels=LABELS, description=DESCRIPTION)
    onnx_models.build("cnn", folder, NAME, labels=LABELS, description=DESCRIPTION)
    onnx_models.build("iris", folder, labels=IRIS_LABELS, description=DESCRIPTION,
                      preprocessing={"kind": "features", "features": FEATURES, "units": "cm"})
    onnx_models.build("cnn", folder, "dup [ x", labels=["[b]dup"] * 10)  # unusable: repeated labels
    means = np.random.default_rng(0).normal(size=(50, 2))  # a latent map, so the Latent screen marks the image
    latent.write_map(folder / latent.MAP_FILE, means, np.arange(50) % 10, latent.sha256(folder / "vae-encoder.onnx"))
    return folder


def shown_after(text: str, prefix: str) -> str:
    """What follows `prefix` on its line."""
    match = re.search(re.escape(prefix) + r"(.*)", text)
    assert match, f"{prefix!r} not on screen:\n{text}"
    return match.group(1)


async def test_every_screen_shows_markup_in_names_and_metadata_exactly_as_written(tmp_path):
    models = hostile_models(tmp_path / "mo[b]dels")
    images = tmp_path / "images"
    images.mkdir()
    digits, _ = onnx_models.mnist_sample()
    Image.fromarray(digits[0]).save(images / IMAGE)
    runtime = Runtime(models, device="cpu", interactive=True)
    top = LABELS[int(runtime.predict("cnn", digits[:1] / 255.0).argmax())]
    app = DlTuiApp(runtime, images, graphics="halfcell", save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        # Classify: the file, the top label, the unusable model and why; then the other model,
        # chosen in the command palette, which offers it by name.
        await wait_for(pilot, lambda: top in screen_text(app) and SKIPPED in screen_text(app))
        classify = screen_text(app)
        assert IMAGE in classify
        await pilot.press("ctrl+p", *"Classify with x")
        await wait_for(pilot, lambda: f"Classify with {NAME}" in screen_text(app))
        palette = screen_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: f"─ {NAME} ─" in screen_text(app))
        classify_one = screen_text(app)
        assert top in classify_one
        await pilot.press("i")  # the iris tab: its description, its features, its labels
        await wait_for(pilot, lambda: IRIS_LABELS[2] in screen_text(app))
        iris = screen_text(app)
        assert all(f"{feature} (cm)" in iris for feature in FEATURES)
        assert all(label in iris for label in IRIS_LABELS) and DESCRIPTION in iris
        await pilot.press("escape", "i")

        await pilot.press("2")  # Latent: the classifier's verdict on the decoded digit, the image's marker
        await wait_for(pilot, lambda: "cnn says " in screen_text(app))
        latent = screen_text(app)
        await pilot.press("m")  # the map, with the Classify screen's image marked by its name
        await wait_for(pilot, lambda: IMAGE in screen_text(app))
        latent_map = screen_text(app)
        assert shown_after(latent, "cnn says ").rsplit(" (", 1)[0].strip() in LABELS
        await pilot.press("m")

        await pilot.press("3")  # Train: the form, and the cnn's recorded history played back
        await wait_for(pilot, lambda: "Epoch" in screen_text(app))
        train = screen_text(app)

        await pilot.press("4")  # Models: the table, then every row's details
        await wait_for(pilot, lambda: NAME in screen_text(app) and "unusable" in screen_text(app))
        table = screen_text(app)
        assert "dup [ x" in table
        seen = {}
        for _ in range(12):
            text = screen_text(app)
            for name in ("cnn", NAME, "iris"):
                if f"{name}: {DESCRIPTION}" in text:
                    seen.setdefault(name, text)
            if "unusable: label '[b]dup' appears more than once" in text:
                seen.setdefault("dup [ x", text)
            await pilot.press("down")
            await pilot.pause()
        assert ", ".join(LABELS) in seen["cnn"] and ", ".join(LABELS) in seen[NAME]
        assert ", ".join(IRIS_LABELS) in seen["iris"] and ", ".join(FEATURES) in seen["iris"]
        assert "dup [ x" in seen["dup [ x"]

        await pilot.press("question_mark")  # help over the Models screen
        await wait_for(pilot, lambda: "Keys: Models" in screen_text(app))
        help_text = screen_text(app)
        await pilot.press("escape")

        await pilot.press("5")  # Draw: a stroke, then each model's verdict; the unusable model and why
        await wait_for(pilot, lambda: SKIPPED.split(" appears")[0] in screen_text(app))  # the line wraps there
        await pilot.press("space", *["down"] * 8, "space")
        await wait_for(pilot, lambda: f"{NAME}: " in screen_text(app))
        draw = screen_text(app)
        for name in ("cnn", NAME):
            assert shown_after(draw, f"{name}: ").strip().rsplit(" ", 1)[0] in LABELS
    for text in (classify, palette, classify_one, iris, latent, latent_map, train, table, *seen.values(), help_text, draw):
        assert "\\[" not in text
        assert "markup[/red]" not in text or "[red]markup[/red]" in text


async def test_markup_in_names_and_metadata_is_shown_as_written(tmp_path):
    models = tmp_path / "mo[b]dels"
    models.mkdir()
    onnx_models.build("cnn", models, filename="esc[red]name", labels=MARKUP_LABELS)
    onnx_models.build("cnn", models)
    (models / "bad[b]x.onnx").write_bytes(b"not a model")
    images = tmp_path / "images"
    images.mkdir()
    digits, _ = onnx_models.mnist_sample()
    Image.fromarray(digits[0]).save(images / "a[b]x.png")
    app = DlTuiApp(Runtime(models, device="cpu", interactive=True), images, graphics="halfcell",
                   save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        # Every model side by side (the default with several models).
        await wait_for(pilot, lambda: "esc[red]name" in screen_text(app) and "[b]4" in screen_text(app))
        seen = [screen_text(app)]
        await pilot.press("4")
        await wait_for(pilot, lambda: "bad[b]x" in screen_text(app))
        seen.append(screen_text(app))
    classify, models_screen = seen
    assert "a[b]x.png" in classify and "mo[b]dels" in classify
    assert "[b]4" in classify  # the label, brackets and all
    assert "esc[red]name" in models_screen and "bad[b]x" in models_screen
    assert "\\[" not in classify + models_screen
