"""What every screen shares: header and footer, and catching up after the models changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import on
from textual.events import ScreenResume
from textual.screen import Screen

if TYPE_CHECKING:
    from tui.app import DlTuiApp
    from tui.runtime import Runtime


class AppScreen(Screen):
    """A mode's screen; `models_changed` runs on first show and whenever a training run replaced a model."""

    def __init__(self) -> None:
        super().__init__()
        self._seen_models = -1

    @property
    def dl_app(self) -> DlTuiApp:
        """The app, typed."""
        return cast("DlTuiApp", self.app)

    @property
    def runtime(self) -> Runtime:
        """The shared onnxruntime models."""
        return self.dl_app.runtime

    @on(ScreenResume)
    def catch_up(self) -> None:
        """Reload what this screen shows if the models changed since it last looked."""
        if self._seen_models != self.dl_app.models_version:
            self._seen_models = self.dl_app.models_version
            self.models_changed()

    def models_changed(self) -> None:
        """Load (or reload) what this screen needs from the models; runs a worker, never blocks."""

    def quit_question(self) -> str:
        """What quitting now would lose on this screen, in a sentence; "" when nothing."""
        return ""
