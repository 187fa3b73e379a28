"""What every screen shares: header and footer, and catching up after the models changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import on
from textual.events import Mount, ScreenResume
from textual.screen import Screen
from textual.widgets import Header

from tui.widgets.screen_tabs import ScreenTabs

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

    @on(Mount)
    async def _screen_tabs(self) -> None:
        """The stock header gives way to one naming every screen, this one highlighted (tui/widgets/screen_tabs.py)."""
        app = self.dl_app
        mode = next((mode for mode, screen in app.MODES.items() if isinstance(screen, type) and isinstance(self, screen)),
                    app.current_mode)
        for header in self.query_children(Header):
            header.display = False
            await self.mount(ScreenTabs(app.SCREENS_BY_KEY, mode, id="screen-tabs"), after=header)

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
