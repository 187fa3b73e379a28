"""The command palette's own commands: screens, models, the latent grid and map, drawing and training."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from tui.runtime.classifier import classifiers
from tui.text import clean
from tui.trainer_client import Trainables

if TYPE_CHECKING:
    from tui.app import DlTuiApp

Command = tuple[str, str, Callable[[], Awaitable[None] | None]]


class DlTuiCommands(Provider):
    """Everything the app can do, findable by name; each runs an action of the app or a screen."""

    classifiers: tuple[str, ...] = ()  # the image classifiers the runtime found, by their metadata
    trainables: Trainables | None = None  # what `dl-train models` says it trains (asked once per app run)

    async def startup(self) -> None:
        """Find the image classifiers off the UI thread (their metadata is read once, then cached)."""
        runtime = self.dl_app.runtime
        self.classifiers = tuple(info.name for info in await asyncio.to_thread(classifiers, runtime))
        self.trainables = await self.dl_app.trainables.wait()

    @property
    def dl_app(self) -> DlTuiApp:
        """The app, typed."""
        return cast("DlTuiApp", self.app)

    def commands(self) -> list[Command]:
        """(name, help, callback) for every command that makes sense now."""
        app = self.dl_app
        found: list[Command] = [
            (f"Screen: {title}", f"Switch to the {title} screen ({key})", partial(app.goto, mode))
            for key, mode, title in app.SCREENS_BY_KEY
        ]
        found += [(f"Classify with {clean(name)}", "Show this model's probability bars",
                   partial(app.on_screen, "classify", f"select_model({name!r})")) for name in self.classifiers]
        found += [
            ("Classify with all models side by side", "Compare every digit model on the same image",
             partial(app.on_screen, "classify", "select_model('compare')")),
            ("Latent space: save grid as PNG", "Write the decoded grid to the current folder",
             partial(app.on_screen, "latent", "save")),
            ("Latent space: show or hide the map", "The encoded MNIST test digits, coloured by digit (m)",
             partial(app.on_screen, "latent", "toggle_map")),
            ("Latent space: morph from A to B", "Decode the points between the marked A and B (i)",
             partial(app.on_screen, "latent", "morph")),
            ("Latent space: morph from the Classify image to the drawing", "Both marked on the map (I)",
             partial(app.on_screen, "latent", "morph_images")),
            ("Draw: save the drawing as PNG", "Write drawing-N.png to the current folder (s)",
             partial(app.on_screen, "draw", "save")),
            ("Draw: clear the canvas", "Rub the drawing out; u brings it back (c)",
             partial(app.on_screen, "draw", "clear")),
            ("Reload models", "Look for models in the folder again", app.models_changed),
            ("Help: every key", "List the keys of this screen and its widgets (?)", app.action_help),
            ("Train: play back history", "Replay the recorded training curves",
             partial(app.on_screen, "train", "playback")),
        ]
        if app.can_train and self.trainables is not None:
            found += [(f"Train: start {model}", f"Choose {model} in the Train form and run dl-train with its other options",
                       partial(app.on_screen, "train", f"train({model!r})")) for model in self.trainables.names()]
        return found

    async def discover(self) -> Hits:
        """All commands, for an empty palette."""
        for name, help_text, callback in self.commands():
            # Content, not str: a str would be parsed as markup, and model names come from file names.
            yield DiscoveryHit(Content(name), callback, text=name, help=help_text)

    async def search(self, query: str) -> Hits:
        """Commands whose names match what was typed."""
        matcher = self.matcher(query)
        for name, help_text, callback in self.commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, highlight(matcher, name), callback, text=name, help=help_text)


def highlight(matcher: Matcher, name: str) -> Content:
    """The name with the typed letters marked, as `Matcher.highlight` does, but never read as
    markup (it parses its candidate: a model named `x[red]y` would show as `xy`)."""
    content = Content(name)
    _, offsets = matcher.fuzzy_search.match(matcher.query, name)
    for offset in offsets:
        if not name[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
