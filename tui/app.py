"""The dl-tui app: five screens (Classify, Latent space, Train, Models, Draw) over one onnxruntime Runtime."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
from textual import work
from textual.actions import parse as parse_action
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, TextArea

from tui.commands import DlTuiCommands
from tui.paths import describe_folders
from tui.runtime import DeviceError, Runtime
from tui.runtime.preprocess import MAX_FILE_BYTES
from tui.screens.base import AppScreen
from tui.screens.classify import ClassifyScreen
from tui.screens.confirm_quit import ConfirmQuitScreen
from tui.screens.draw import DrawScreen
from tui.screens.evaluate import EvaluateScreen
from tui.screens.help import HelpScreen, key_sections
from tui.screens.latent import LatentScreen
from tui.screens.models import ModelsScreen
from tui.screens.train import TrainScreen
from tui.terminal import Graphics, detect
from tui.text import clean, one_line
from tui.trainer_client import (CommandBuilder, TrainablesCache, dl_train_check_command, dl_train_command,
                                dl_train_models_command, have_tensorflow)


QUIT_TIP = "Asks first while training or with an unsaved drawing; in a text field only ctrl+q quits"


class DlTuiApp(App[None]):
    """Browse and classify images, draw digits, explore the VAE's latent space, train and inspect the models."""

    CSS_PATH = "app.tcss"
    TITLE = "dl-tui"
    MODES: ClassVar = {"classify": ClassifyScreen, "latent": LatentScreen, "train": TrainScreen, "models": ModelsScreen,
             "draw": DrawScreen, "evaluate": EvaluateScreen}
    DEFAULT_MODE = "classify"
    SCREENS_BY_KEY = (("1", "classify", "Classify"), ("2", "latent", "Latent space"),
                      ("3", "train", "Train"), ("4", "models", "Models"), ("5", "draw", "Draw"),
                      ("6", "evaluate", "Evaluate"))
    # The screen keys share one footer entry ("12345 Screen"): 80 columns hold every key then.
    BINDINGS = [
        Binding(key, f"goto('{mode}')", title, tooltip=f"Show the {title} screen", id=f"screen.{mode}",
                group=Binding.Group("Screen", compact=True))
        for key, mode, title in SCREENS_BY_KEY
    ] + [
        Binding("question_mark", "help", "Help", tooltip="List every key of this screen", id="app.help"),
        Binding("escape", "leave_input", "Leave field", tooltip="Stop typing; the screen's keys work again",
                id="app.leave_input"),
        # A text field keeps q as a letter; ctrl+q works everywhere. Both ask first if quitting loses something.
        Binding("q", "quit", "Quit", show=False, id="app.quit", tooltip=QUIT_TIP),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit_anywhere", tooltip=QUIT_TIP),
        # Textual's own ctrl+c copies or says how to quit; in a terminal people press it to quit.
        Binding("ctrl+c", "ctrl_c", "Quit now", show=False, priority=True, id="app.ctrl_c",
                tooltip="Copy what is selected, else ask; twice in a row quits at once"),
    ]
    CTRL_C_WINDOW = 2.0  # seconds within which a second Ctrl+C quits without asking
    COMMANDS = App.COMMANDS | {DlTuiCommands}
    # Screens get -narrow below 120 columns, -large from 180 (pictures grow with the terminal)
    # and -short below 36 lines; app.tcss stacks or shrinks what no longer fits, down to 80x24.
    HORIZONTAL_BREAKPOINTS: ClassVar = [(0, "-narrow"), (120, "-wide"), (180, "-large")]
    VERTICAL_BREAKPOINTS: ClassVar = [(0, "-short"), (36, "-tall")]

    def __init__(
        self,
        runtime: Runtime,
        start_path: Path,
        *,
        graphics: Graphics = "auto",
        trainer_command: CommandBuilder = dl_train_command,
        can_train: bool | None = None,
        trainer_models: Callable[[], list[str]] = dl_train_models_command,
        save_dir: Path | None = None,
        max_file_size: int = MAX_FILE_BYTES,
    ) -> None:
        super().__init__()
        self.runtime = runtime
        self.max_file_size = max_file_size  # --max-file-size: bigger image files are not read
        self.start_path = Path(start_path)  # a file or folder that exists: `dl-tui` checked it
        self.graphics = graphics
        self.trainer_command = trainer_command
        self.trainer_check: Callable[[Path], list[str]] = dl_train_check_command  # tests swap in a fake
        self.can_train = have_tensorflow() if can_train is None else can_train
        self.trainables = TrainablesCache(trainer_models)  # dl-train's models: asked once, on a worker
        self.save_dir = Path(save_dir) if save_dir is not None else Path.cwd()
        # Bumped after each training run or reload; screens compare it when they are shown.
        self.models_version = 0
        self.models_label = describe_folders(runtime.folders)
        # Digits the latent map marks, by where they come from: (what to call it, model input 28x28).
        self.latent_inputs: dict[str, tuple[str, np.ndarray]] = {}
        self._ctrl_c_at = -float("inf")

    def on_mount(self) -> None:
        """Paint first; find out which execution provider runs while the user looks."""
        self.sub_title = f"models: {self.models_label}"
        self.find_provider()
        self.trainables.start()  # on its own thread: usually answered before the Train screen opens

    @work(thread=True, exclusive=True, group="provider", exit_on_error=False)
    def find_provider(self) -> None:
        """The provider is only known once a session is open, which takes a moment."""
        try:
            provider = self.runtime.provider
        except Exception as error:  # noqa: BLE001  shown in the header rather than crashing the app
            provider = f"no provider ({one_line(error)})"
        self.call_from_thread(self._show_provider, provider)

    def _show_provider(self, provider: str) -> None:
        self.sub_title = f"{clean(provider)} · models: {self.models_label}"

    def models_changed(self) -> None:
        """The models folder changed (training, reload): every screen reloads when next shown."""
        self.runtime.reload()
        self.models_version += 1
        if isinstance(self.screen, AppScreen):
            self.screen.catch_up()
        self.find_provider()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape leaves a text field, and only shows while one has the keys."""
        if action == "leave_input":
            return isinstance(self.focused, Input)
        if action == "help":
            return not isinstance(self.screen, HelpScreen)
        return True

    def quit_reasons(self) -> list[str]:
        """What quitting now would lose, from every screen opened so far (training, a drawing)."""
        reasons = []
        for mode in self.MODES:
            try:
                stack = self.get_screen_stack(mode)
            except KeyError:  # never shown: nothing to lose there
                continue
            reasons += [screen.quit_question() for screen in stack if isinstance(screen, AppScreen)]
        return [reason for reason in reasons if reason]

    async def action_quit(self) -> None:
        """Quit, once the user agrees if something would be lost."""
        self.request_quit()

    def request_quit(self, hint: str = "") -> None:
        """Quit now, or ask first if that would lose something."""
        if isinstance(self.screen, ConfirmQuitScreen):
            return
        reasons = self.quit_reasons()
        if not reasons:
            self.exit()
            return
        self.push_screen(ConfirmQuitScreen(reasons, hint), lambda quit_: self.exit() if quit_ else None)

    def action_ctrl_c(self) -> None:
        """Copy a selection, else ask or say how to quit; a second Ctrl+C within CTRL_C_WINDOW quits at once."""
        now = time.monotonic()
        if now - self._ctrl_c_at <= self.CTRL_C_WINDOW:
            self.exit()
            return
        self._ctrl_c_at = now
        if self._copy_selection():
            self.notify("Copied. Ctrl+C again quits.", timeout=self.CTRL_C_WINDOW)
        elif self.quit_reasons():
            self.request_quit(hint="Ctrl+C again quits at once")
        else:  # one press may be a slip, or a copy with nothing selected
            self.notify("Ctrl+C again quits (q or ctrl+q too).", timeout=self.CTRL_C_WINDOW)

    def _copy_selection(self) -> bool:
        """Copy the text selected in a field or on the screen, as Textual's own Ctrl+C does."""
        focused = self.focused
        if isinstance(focused, (Input, TextArea)) and focused.selected_text:
            self.copy_to_clipboard(focused.selected_text)
            return True
        selected = self.screen.get_selected_text()
        if selected:
            self.copy_to_clipboard(selected)
            return True
        return False

    def action_leave_input(self) -> None:
        """Take the keys away from a text field; the screen's keys work again."""
        self.screen.set_focus(None)

    def action_help(self) -> None:
        """Show every key of the current screen."""
        title = next((t for _, mode, t in self.SCREENS_BY_KEY if mode == self.current_mode), "This screen")
        self.push_screen(HelpScreen(key_sections(self.screen, title), f"Keys: {title}"))

    async def action_goto(self, mode: str) -> None:
        """Switch to a screen."""
        await self.goto(mode)

    async def goto(self, mode: str) -> Screen:
        """Switch to a screen and return it."""
        if self.current_mode != mode:
            await self.switch_mode(mode)
        return self.screen

    async def on_screen(self, mode: str, action: str) -> None:
        """Show a screen and run one of its actions (`name` or `name(args)`): the command palette's way in."""
        screen = await self.goto(mode)
        _, name, parameters = parse_action(action)
        if screen.check_action(name, parameters):
            await screen.run_action(action)
        else:  # greyed out in the footer too; the palette should not fail in silence
            self.notify("not possible on this screen now", severity="warning")


def run_app(path: Path, models_dir: Path | None, device: str = "auto", graphics: str = "auto",
            precision: str | None = None, max_file_size: int = MAX_FILE_BYTES) -> None:
    """Start the app in this terminal on PATH, a file or folder that exists (the `dl-tui` command)."""
    try:
        runtime = Runtime(models_dir, device=device, interactive=True, precision=precision)
    except DeviceError as error:
        print(f"dl-tui: {one_line(error)}", file=sys.stderr)
        raise SystemExit(2) from None
    # Asking the terminal what it draws is only possible before Textual owns stdin.
    graphics = detect(graphics)
    if graphics != "halfcell":
        # Every terminal that draws Sixel or Kitty pictures takes 24-bit colour (xterm maps it to
        # its palette). Without COLORTERM, Rich reads TERM=xterm as 16 colours: the latent map's
        # legend would then name ten digits with seven colours unlike the picture's.
        os.environ.setdefault("COLORTERM", "truecolor")
    DlTuiApp(runtime, path, graphics=graphics, max_file_size=max_file_size).run()
