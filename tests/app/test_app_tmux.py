"""`dl-tui` in a real terminal: tmux runs it, keys go in with send-keys, the screen comes back from capture-pane."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tui.app import DlTuiApp

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

ROOT = Path(__file__).resolve().parents[2]


class Tmux:
    """One detached tmux session on a private server socket, so no user session is touched."""

    def __init__(self, command: str, width: int = 140, height: int = 45) -> None:
        self.socket = f"dl-tui-test-{uuid.uuid4().hex[:8]}"
        self.run("new-session", "-d", "-s", "app", "-x", str(width), "-y", str(height), command)

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=10).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "app")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "app", *keys)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.02)
        size = self.run("display", "-p", "-t", "app", "#{window_width}x#{window_height}")
        raise AssertionError(f"{text!r} never appeared in {size}; the screen was:\n{self.screen()}")

    def exit_code(self, marker: Path, timeout: float = 60.0) -> str:
        """The app's exit status, once the pane has written it to MARKER (the timeout stops a hang)."""
        deadline = time.monotonic() + timeout
        while not marker.exists() or not marker.read_text().strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"the app had not exited {timeout:g} s after quitting; the screen was:\n"
                                     f"{self.screen()}")
            time.sleep(0.1)
        return marker.read_text().strip()

    def alive(self) -> bool:
        return "app" in self.run("list-sessions", "-F", "#{session_name}")

    def kill(self) -> None:
        self.run("kill-server")


def test_dl_tui_in_tmux(tiny_models, images, tmp_path):
    marker = tmp_path / "exited"
    argv = [sys.executable, "-m", "tui.cli", str(images), "--models", str(tiny_models)]
    # COLUMNS and LINES can leak in from the environment and override the pane's real size.
    env = f"cd {shlex.quote(str(ROOT))} && unset COLUMNS LINES && TERM=xterm-256color"
    # After the app exits the pane writes a marker and lingers, so the test can see how it ended.
    tmux = Tmux(f"{env} {shlex.join(argv)}; echo $? > {shlex.quote(str(marker))}; sleep 30")
    try:
        screen = tmux.wait_for("digit-0.png")  # how soon: bench/bench_app_timing.py
        keys = "".join(key for key, _, _ in DlTuiApp.SCREENS_BY_KEY)
        assert "broken.png" in screen and f"{keys} Screen" in screen, screen
        tmux.wait_for("CPUExecutionProvider")
        tmux.keys("Down")  # from broken.png, the first image and the tree's cursor, onto digit-0.png
        screen = tmux.wait_for("%")
        assert "cnn-invert" in screen and "vae-classifier" in screen
        tmux.keys("2")
        tmux.wait_for("z = (")
        tmux.keys("Right")
        tmux.wait_for("column 2 of ")  # of n: in half-cells, as many as read well (10 here)
        tmux.keys("4")
        screen = tmux.wait_for("vae-encoder")  # a row of the Models table
        assert "classification" in screen
        tmux.keys("C-q")
        assert tmux.exit_code(marker) == "0"
    finally:
        tmux.kill()


def test_dl_tui_at_80x24(tiny_models, images):
    """The smallest terminal laid out for: the whole footer, Iris stays open, Escape leaves a field."""
    argv = [sys.executable, "-m", "tui.cli", str(images), "--models", str(tiny_models)]
    env = f"cd {shlex.quote(str(ROOT))} && unset COLUMNS LINES && TERM=xterm-256color"
    tmux = Tmux(f"{env} {shlex.join(argv)}; sleep 30", width=80, height=24)
    try:
        # At 80 columns the header's six screen tabs leave the provider's first 16 letters ("CPUExecutionProv…").
        screen = tmux.wait_for("CPUExecutionProv")
        footer = tmux.wait_for("? Help").splitlines()[-1]
        keys = "".join(key for key, _, _ in DlTuiApp.SCREENS_BY_KEY)
        assert "c Compare" in footer and f"{keys} Screen" in footer and "^p palette" in footer, footer
        tmux.keys("Down")  # digit-0.png: every model's top classes, all in view
        # The input box's title, not a model's name: the bar columns are titled from the moment the
        # models are found ("no prediction yet"), before the picture is classified; the input box and
        # the bars are drawn together when it is.
        screen = tmux.wait_for("model input 28×28")
        assert "polarity auto" in screen and "vae-classifier" in screen and "no prediction yet" not in screen
        tmux.keys("i")
        screen = tmux.wait_for("esc Leave field")
        time.sleep(0.5)  # the tab used to switch back by itself a moment later
        screen = tmux.screen()
        assert "sepal length" in screen and "virginica" in screen
        tmux.keys("Escape")
        time.sleep(0.3)  # Escape then a key at once reads as Alt+key
        tmux.keys("i")
        screen = tmux.wait_for("broken.png")
        assert "sepal length" not in screen
    finally:
        tmux.kill()
