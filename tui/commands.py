"""The command palette, made from the keys: every binding with a description (the app's, and each
screen's, run on that screen) is a command, as Harlequin makes its palette from one actions table.
A new Binding reaches the palette, and the `?` help (tui/screens/help.py), with no code here.
Only what no key does is listed by hand: a model by name, reloading, training a given model."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, NamedTuple, cast

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.screen import Screen

from tui.runtime.classifier import classifiers
from tui.text import clean
from tui.trainer_client import Trainables

if TYPE_CHECKING:
    from tui.app import DlTuiApp


class Command(NamedTuple):
    """One palette entry: what it is called, a line of help, and what it runs."""

    name: str
    help: str
    run: Callable[[], Awaitable[None] | None]


# App keys the palette leaves out: Escape leaves a text field and Ctrl+C copies a selection, and the
# palette has taken the focus from both; Textual's own commands already offer "Quit" (our action_quit).
LEFT_OUT = frozenset({"leave_input", "ctrl_c", "quit"})


def screen_bindings(screen_class: type[Screen]) -> list[Binding]:
    """The bindings a screen class declares, its base classes' first; Textual's own Screen keys
    (tab, shift+tab) are not the screen's."""
    found: list[Binding] = []
    for klass in reversed(screen_class.__mro__):
        if klass not in Screen.__mro__:
            found += Binding.make_bindings(klass.__dict__.get("BINDINGS", []))
    return found


def key_commands(app: DlTuiApp, bindings: Iterable[Binding], prefix: str,
                 run: Callable[[str], Awaitable[None] | None]) -> list[Command]:
    """A command per action with a described key: "{prefix}: {description}" (a grouped key, such as
    the screen keys: "{group}: {description}"); the help is the tooltip and the keys."""
    keys: dict[str, list[str]] = {}
    first: dict[str, Binding] = {}
    for binding in bindings:
        if binding.description and binding.action not in LEFT_OUT:
            first.setdefault(binding.action, binding)
            keys.setdefault(binding.action, []).append(app.get_key_display(binding))
    commands = []
    for action, binding in first.items():
        heading = binding.group.description if binding.group is not None else prefix
        name = f"{heading}: {binding.description}" if heading else binding.description
        shown = " ".join(dict.fromkeys(keys[action]))
        commands.append(Command(name, f"{binding.tooltip or binding.description} ({shown})", partial(run, action)))
    return commands


def binding_commands(app: DlTuiApp) -> list[Command]:
    """The app's keys, then each screen's, each run on its screen (switched to first)."""
    found = key_commands(app, Binding.make_bindings(app.BINDINGS), "", app.run_action)
    for _, mode, title in app.SCREENS_BY_KEY:
        screen = app.MODES[mode]
        if isinstance(screen, type) and issubclass(screen, Screen):
            found += key_commands(app, screen_bindings(screen), title, partial(app.on_screen, mode))
    return found


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
        """(name, help, callback) for every command that makes sense now: the keys', then those no key has."""
        app = self.dl_app
        found = binding_commands(app)
        found += [Command(f"Classify with {clean(name)}", "Show this model's probability bars",
                          partial(app.on_screen, "classify", f"select_model({name!r})")) for name in self.classifiers]
        found += [
            Command("Classify with all models side by side", "Compare every digit model on the same image",
                    partial(app.on_screen, "classify", "select_model('compare')")),
            Command("Reload models", "Look for models in the folder again", app.models_changed),
        ]
        if app.can_train and self.trainables is not None:
            found += [Command(f"Train: start {model}", f"Choose {model} in the Train form and run dl-train with its other options",
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
