"""Keys as a user meets them: tabs that stay open, Escape out of fields, a footer of working keys, help."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from app_helpers import SIZE, fake_command, screen_text, wait_for
from fake_trainer import fake_models_command
from textual.binding import Binding
from textual.widgets import Input, TabbedContent

import tui.app
from tui.app import DlTuiApp
from tui.commands import DlTuiCommands
from tui.runtime import Runtime
from tui.screens.draw import DrawScreen
from tui.screens.help import HelpScreen  # (new module)
from tui.widgets.file_browser import ImageTree


def visible_pane(screen) -> str:
    """The id of the tab pane the user can see."""
    shown = [pane.id for pane in screen.query("TabPane") if pane.display and pane.region.height]
    assert len(shown) == 1, shown
    return shown[0]


def footer_keys(app) -> dict[str, bool]:
    """Footer keys and whether each is enabled, as the footer draws them."""
    return {key.key: not key.has_class("-disabled") for key in app.screen.query("FooterKey")}


async def test_i_shows_the_iris_tab_and_keeps_it(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        tree = screen.query_one(ImageTree)
        await wait_for(pilot, lambda: screen.query("#feature-0") and len(tree.root.children) == 5)
        await pilot.press("i")
        await pilot.pause(0.3)
        assert screen.query_one(TabbedContent).active == "iris-tab"
        assert visible_pane(screen) == "iris-tab"
        assert app.focused is screen.query_one("#feature-0")
        await pilot.press("escape", "i")  # leave the field, then back to the images
        await pilot.pause(0.3)
        assert visible_pane(screen) == "images-tab"
        assert app.focused is tree
        line = tree.cursor_line
        await pilot.press("down")  # the arrows browse images again
        assert tree.cursor_line == line + 1


async def test_clicking_the_iris_tab_keeps_it(make_app):
    async with make_app().run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: pilot.app.screen.query("#feature-0"))
        await pilot.click("#--content-tab-iris-tab")
        await pilot.pause(0.3)
        assert visible_pane(pilot.app.screen) == "iris-tab"


async def test_escape_leaves_an_input_and_screen_keys_work_again(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.query("#feature-0"))
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        await pilot.press("escape")
        assert not isinstance(app.focused, Input)
        await pilot.press("3")  # the same on every screen: the Train form's fields
        await wait_for(pilot, lambda: app.current_mode == "train")
        app.screen.query(Input).first().focus()
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        await pilot.press("escape")
        assert not isinstance(app.focused, Input)
        await pilot.press("2")
        await wait_for(pilot, lambda: app.current_mode == "latent")


async def test_the_start_file_is_the_tree_cursor(make_app, images):
    app = make_app(start=images / "digit-1.png")
    async with app.run_test(size=SIZE) as pilot:
        tree = app.screen.query_one(ImageTree)
        await wait_for(pilot, lambda: tree.cursor_node is not None and tree.cursor_node.data is not None
                       and tree.cursor_node.data.path.name == "digit-1.png")
        await pilot.pause(0.2)
        await pilot.press("down")
        await wait_for(pilot, lambda: app.screen.current is not None and app.screen.current.name == "digit-2.png")


async def test_footer_shows_only_keys_that_work(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.models and screen.query("#feature-0"))
        await pilot.pause()
        keys = footer_keys(app)
        assert keys["p"] and keys["n"] and keys["c"] and keys["i"]
        await pilot.press("i")
        await pilot.pause(0.2)
        keys = footer_keys(app)
        assert "p" not in keys and "n" not in keys and "c" not in keys  # image keys, on the iris tab
        assert keys["escape"]  # leaves the field
        await pilot.press("escape")
        await pilot.pause()
        assert "escape" not in footer_keys(app)


async def test_latent_keys_are_greyed_without_a_decoder(make_app, tiny_models):
    (tiny_models / "vae-decoder.onnx").unlink()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: app.screen.error)
        await pilot.pause()
        keys = footer_keys(app)
        assert not keys["s"] and not keys["minus"]  # no grid to save or resize


async def test_compare_key_is_greyed_with_one_digit_model(make_app, tiny_models):
    for name in ("cnn-invert", "vae-classifier"):
        (tiny_models / f"{name}.onnx").unlink()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.models)
        await pilot.pause()
        assert footer_keys(app)["c"] is False


async def test_question_mark_lists_every_key_of_the_screen(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        text = screen_text(app)
        for key, words in (("c", "Compare"), ("p", "Polarity"), ("i", "Iris"), ("1", "Classify"),
                           ("4", "Models"), ("esc", "Leave"), ("^q", "Quit")):
            assert any(key in line and words in line for line in text.splitlines()), (key, words)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))
        await pilot.press("2", "question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        text = screen_text(app)
        assert "Save PNG" in text and "n+1" in text
        assert any("←" in line or "left" in line for line in text.splitlines())  # the grid's own arrows


class RingingDrawScreen(DrawScreen):
    """The Draw screen with one key more, and nothing else: no palette or help code."""

    BINDINGS: ClassVar = [Binding("z", "ring", "Ring", tooltip="Count a ring of the bell")]
    rings = 0

    def action_ring(self) -> None:
        """Count it."""
        self.rings += 1


class RingingApp(DlTuiApp):
    """The app with that Draw screen."""

    CSS_PATH = Path(tui.app.__file__).with_name(DlTuiApp.CSS_PATH)  # a relative one is read beside this file
    MODES: ClassVar = {**DlTuiApp.MODES, "draw": RingingDrawScreen}


async def test_a_new_binding_is_in_the_palette_and_the_help(tiny_models, images, tmp_path):
    app = RingingApp(Runtime(tiny_models, device="cpu", interactive=True), images, graphics="halfcell",
                     trainer_command=fake_command, trainer_models=fake_models_command, can_train=False,
                     save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        provider = DlTuiCommands(app.screen)
        await provider.startup()
        commands = {name: help_text for name, help_text, _ in provider.commands()}
        assert commands["Draw: Ring"] == "Count a ring of the bell (z)"
        assert commands["Draw: Save PNG"].endswith("(s)") and commands["Screen: Draw"].endswith("(5)")  # the old keys stay
        await pilot.press("ctrl+p", *"Draw: Ring")  # from the Classify screen: the palette switches to Draw
        await wait_for(pilot, lambda: "Count a ring of the bell (z)" in screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "draw" and app.screen.rings == 1)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await wait_for(pilot, lambda: re.search(r"\sz\s+Ring: Count a ring of the bell", screen_text(app)))
