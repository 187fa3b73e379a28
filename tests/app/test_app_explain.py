"""Explanations in the app (issue 21): `e` on Classify and Draw shows tui.runtime.explain's heat map
over the model's input, for the top class or one picked with [ and ]; it is in the palette; Draw
explains each new stroke; the Evaluate gallery explains a mistake. Real tiny models throughout."""

from __future__ import annotations

import numpy as np
from app_helpers import SIZE, screen_text, settled, wait_for
from PIL import Image
from rich.text import Text

from test_app_evaluate import WIDE, labelled, run_evaluation  # noqa: F401  (labelled: a fixture)

from tui.commands import DlTuiCommands
from tui.runtime import load_image
from tui.runtime.classifier import input_for, model_inputs
from tui.runtime.explain import explain, overlay
from tui.widgets.canvas import DrawingCanvas
from tui.widgets.file_browser import ImageTree
from tui.widgets.heat_map import HeatMap
from tui.widgets.mistakes import MistakeGallery

SMALL = (80, 24)


async def classify_digit(pilot):
    """The Classify screen on digit-0.png (a real MNIST 4) with cnn's bars."""
    await wait_for(pilot, lambda: "CPUExecutionProvider" in pilot.app.sub_title)
    screen = pilot.app.screen
    tree = screen.query_one(ImageTree)
    await wait_for(pilot, lambda: len(tree.root.children) == 5 and screen.models and tree.cursor_line == 1)
    await pilot.press("down", "c")  # digit-0.png, then one model (cnn)
    await wait_for(pilot, lambda: screen.model == "cnn" and screen.query_one("#bars-0").probabilities)
    return screen


async def shown(pilot, screen, label_index: int | None):
    """Wait for the heat map of the class asked for (None: the top class) and return it."""
    heat_map = screen.query_one(HeatMap)
    await wait_for(pilot, lambda: heat_map.explained is not None and heat_map.explained.key == heat_map.asked
                   and screen.explain_class == label_index and heat_map.picture.image is not None)
    return heat_map.explained


def title_of(heat_map: HeatMap) -> str:
    """The heat map's title as shown (Textual keeps a border title as markup)."""
    return Text.from_markup(str(heat_map.picture.border_title)).plain


async def drag(pilot, widget, points: list[tuple[float, float]]) -> None:
    """Press at the first point, move through the rest, release: points are fractions of the widget."""
    width, height = widget.content_region.width, widget.content_region.height
    cells = [(min(width - 1, int(x * width)), min(height - 1, int(y * height))) for x, y in points]
    await pilot.mouse_down(widget, offset=cells[0])
    for cell in cells[1:]:
        await pilot.hover(widget, offset=cell)
    await pilot.mouse_up(widget, offset=cells[-1])


def expected(app, name: str, x: np.ndarray, label_index: int | None):
    """The explanation and its overlay made directly with tui.runtime.explain."""
    info = app.runtime.info(name)
    found = explain(app.runtime, info, x, label_index)
    return found, overlay(x, found.heat).convert("RGB")


async def test_e_shows_the_top_class_heat_map_in_place_of_the_model_input(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await classify_digit(pilot)
        probabilities = np.asarray(screen.query_one("#bars-0").probabilities)
        await pilot.press("e")
        explained = await shown(pilot, screen, None)
        info = screen.explained_model
        x = input_for(screen._inputs, info)
        found, picture = expected(app, "cnn", x, None)
        assert explained.model == "cnn" and explained.label_index == int(np.argmax(probabilities)) == found.label_index
        assert explained.label == info.labels[found.label_index] and explained.top
        np.testing.assert_allclose(explained.confidence, probabilities.max(), rtol=1e-5)
        assert np.array_equal(np.asarray(explained.image.convert("RGB")), np.asarray(picture))
        heat_map = screen.query_one(HeatMap)
        assert heat_map.display and not screen.query_one("#model-input").display
        title = title_of(heat_map)
        assert title.startswith(f"cnn → {explained.label} ") and f"{explained.confidence:.0%}" in title
        assert f"cnn → {explained.label}" in screen_text(app)
        await pilot.press("e")  # off again: the model input is back
        await wait_for(pilot, lambda: not heat_map.display and screen.query_one("#model-input").display)


async def test_brackets_pick_the_class_and_change_the_map(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await classify_digit(pilot)
        probabilities = np.asarray(screen.query_one("#bars-0").probabilities)
        assert not screen.check_action("explain_class", (1,))  # greyed until e
        await pilot.press("e")
        top = await shown(pilot, screen, None)
        await pilot.press("right_square_bracket")
        picked = await shown(pilot, screen, (top.label_index + 1) % 10)
        assert picked.label_index == (top.label_index + 1) % 10 and not picked.top
        np.testing.assert_allclose(picked.confidence, probabilities[picked.label_index], rtol=1e-5, atol=1e-7)
        x = input_for(screen._inputs, screen.explained_model)
        _, picture = expected(app, "cnn", x, picked.label_index)
        assert np.array_equal(np.asarray(picked.image.convert("RGB")), np.asarray(picture))
        assert not np.array_equal(np.asarray(picked.image), np.asarray(top.image))  # another class, another map
        assert "(picked)" in screen_text(app)
        await pilot.press("left_square_bracket", "left_square_bracket")  # back past the top class
        before = await shown(pilot, screen, (top.label_index - 1) % 10)
        assert before.label_index == (top.label_index - 1) % 10
        await pilot.press("down")  # another picture: its top class again
        await wait_for(pilot, lambda: screen.current.name == "digit-1.png")
        again = await shown(pilot, screen, None)
        assert again.top and again.key[0].name == "digit-1.png"


async def test_side_by_side_explains_the_first_model_and_a_chosen_model_its_own(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.models and app.screen.current is not None)
        screen = app.screen
        await pilot.press("down")  # digit-0.png, all side by side
        await wait_for(pilot, lambda: screen.query_one("#bars-0").probabilities and screen._inputs)
        assert screen.model == "compare"
        await pilot.press("e")
        first = await shown(pilot, screen, None)
        assert first.model == screen.models[0].name  # whose input the model input box shows
        screen.select_model("cnn-invert")
        chosen = await shown(pilot, screen, None)
        assert chosen.model == "cnn-invert"
        x = input_for(screen._inputs, screen.explained_model)
        _, picture = expected(app, "cnn-invert", x, None)
        assert np.array_equal(np.asarray(chosen.image.convert("RGB")), np.asarray(picture))


async def test_explain_is_in_the_palette_and_runs_from_it(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await classify_digit(pilot)
        provider = DlTuiCommands(app.screen)
        await provider.startup()
        commands = {name: help_text for name, help_text, _ in provider.commands()}
        assert commands["Classify: Explain"].endswith("(e)")
        assert commands["Classify: Next class"].endswith("(])") and "Classify: Previous class" in commands
        await pilot.press("ctrl+p", *"Classify: Explain")
        await wait_for(pilot, lambda: app.screen.query("CommandList") and app.screen.query_one("CommandList").option_count)
        await pilot.press("enter")
        await shown(pilot, screen, None)


async def test_draw_explains_each_new_stroke(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        screen = app.screen
        await wait_for(pilot, lambda: screen.models and screen.query_one("#draw-bars").columns())
        canvas = screen.query_one(DrawingCanvas)
        heat_map = screen.query_one(HeatMap)
        await pilot.press("e")
        await wait_for(pilot, lambda: heat_map.display and "draw a digit to see why" in screen_text(app))

        async def stroke(points):
            await drag(pilot, canvas.picture, points)
            pixels = canvas.drawing.pixels()
            await wait_for(pilot, lambda: heat_map.explained is not None and heat_map.picture.image is not None
                           and heat_map.explained.key[0] == pixels.tobytes())
            info = screen.models[0]
            x = input_for(model_inputs(Image.fromarray(pixels), [info], None, None), info)
            _, picture = expected(app, info.name, x, None)
            assert np.array_equal(np.asarray(heat_map.explained.image.convert("RGB")), np.asarray(picture))
            return heat_map.explained

        first = await stroke([(0.5, 0.2), (0.5, 0.5), (0.5, 0.8)])  # a 1
        second = await stroke([(0.25, 0.2), (0.5, 0.2), (0.75, 0.2)])  # a bar across the top: a 7 now
        assert first.image is not second.image and first.key != second.key
        assert title_of(heat_map).startswith(f"{screen.models[0].name} → {second.label}")


async def test_w_on_a_mistake_shows_why_the_model_said_it(make_app, labelled):  # noqa: F811
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await run_evaluation(pilot, labelled)
        await pilot.press("right", "right")  # the tab row has the keys: to the Mistakes tab
        gallery = screen.query_one(MistakeGallery)
        await wait_for(pilot, lambda: gallery.cards)
        card, mistake = gallery.cards[0], screen.report["mistakes"][0]
        picture = card.query_one(".mistake--picture")
        before = np.asarray(picture.image)
        await pilot.press("tab", "right")  # into the gallery, to the first card
        assert app.focused is card
        await pilot.press("w")
        await wait_for(pilot, lambda: card.explained is not None)
        info = app.runtime.info("cnn")
        x = input_for(model_inputs(load_image(mistake["path"], 1 << 20, lambda: False), [info], None, None), info)
        found, expected_picture = expected(app, "cnn", x, info.labels.index(mistake["label"]))
        assert card.explained.label == mistake["label"] == found.label  # the predicted label, not the true one
        assert np.array_equal(np.asarray(picture.image), np.asarray(expected_picture))
        assert f"why {mistake['label']}?" in screen_text(app)
        await pilot.press("w")  # the picture again
        await wait_for(pilot, lambda: card.explained is None)
        assert np.array_equal(np.asarray(picture.image), before)


def test_explained_classify_at_80x24(make_app, snap_compare):
    """The heat map in the model input's place at 80x24 (half-cells), title and bars in view."""

    async def explain_digit(pilot):
        screen = await classify_digit(pilot)
        await pilot.press("e")
        await shown(pilot, screen, None)
        await settled(pilot)

    assert snap_compare(make_app(), terminal_size=SMALL, run_before=explain_digit)
