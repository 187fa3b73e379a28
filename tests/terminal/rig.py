"""A real terminal on a virtual screen: Xvfb, xterm (Sixel) or kitty, keys by xdotool, screenshots by xwd.

Tests skip with the missing program's name where these are not installed (.ci/run installs them).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from contextlib import suppress
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

NEEDED = ("Xvfb", "xterm", "xdotool", "xwd", "convert")
COLUMNS, ROWS = 140, 45
XTERM_FONT = ("-fa", "Monospace", "-fs", "10")  # cells of 10x20 pixels


def require(*programs: str) -> None:
    """Skip the test, naming what is missing, unless every program is on PATH."""
    missing = [name for name in programs if shutil.which(name) is None]
    if missing:
        pytest.skip(f"terminal rig needs {', '.join(missing)} (apt-get install xvfb xterm kitty "
                    "xdotool x11-apps imagemagick)")


class Display:
    """An Xvfb server on a free display number."""

    def __init__(self) -> None:
        # Another Xvfb (a second test run, a person using the rig) may take a free-looking number
        # between our look and our start: ours then exits ("server already active") while the
        # other's socket is there, and the windows would open on a display that is not ours.
        # So a number is ours only once our own Xvfb is still running with its socket made.
        for number in range(90, 140):
            if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
                continue
            self.name = f":{number}"
            self.process = subprocess.Popen(["Xvfb", self.name, "-screen", "0", "1600x1200x24", "-nolisten", "tcp"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while self.process.poll() is None and time.monotonic() < deadline:
                if Path(f"/tmp/.X11-unix/X{number}").exists():
                    time.sleep(0.2)  # a server that lost the race exits within moments of starting
                    if self.process.poll() is None:
                        return
                    break
                time.sleep(0.05)
            if self.process.poll() is None:  # never made its socket
                self.process.kill()
                raise RuntimeError("Xvfb did not start")
        raise RuntimeError("Xvfb did not start: no free display number from :90 to :139")

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.name}

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(5)


class Terminal:
    """A terminal window running one command; `shot()` is what the window shows, as RGB pixels."""

    def __init__(self, display: Display, argv: list[str], columns: int = COLUMNS, rows: int = ROWS) -> None:
        self.display, self.columns, self.rows = display, columns, rows
        self.process = subprocess.Popen(argv, env=display.env(), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        self.window = self._find_window()
        # Keyboard focus once, now: XTEST keys go to the focused window (Xvfb has no window manager).
        self._xdotool("windowfocus", "--sync", self.window)

    @classmethod
    def xterm(cls, display: Display, command: list[str], columns: int = COLUMNS, rows: int = ROWS,
              font: tuple[str, ...] = XTERM_FONT) -> Terminal:
        """xterm as a VT340 with 256 colour registers; no border to measure around.

        Keys and clicks come through XTEST, as a user's do: xterm's `allowSendEvents`, which synthetic
        events need, also turns off `allowMouseOps`, and with it every mouse report to the app.

        `font`: xterm's font options (`-fa NAME -fs SIZE`, or a bitmap font such as `-fn 9x15`).
        """
        return cls(display, [
            "xterm", "-ti", "vt340", "-xrm", "XTerm*decTerminalID: vt340", "-xrm", "XTerm*numColorRegisters: 256",
            "-b", "0", "-geometry", f"{columns}x{rows}+0+0",
            *font, "-bg", "black", "-fg", "white", "-e", *command,
        ], columns, rows)

    @classmethod
    def kitty(cls, display: Display, command: list[str], columns: int = 100, rows: int = 30,
              options: tuple[str, ...] = ()) -> Terminal:
        """kitty (0.26 on Debian 12: no Unicode-placeholder images), sized in cells; `options`: more `-o` settings."""
        return cls(display, [
            "kitty", "-o", "font_size=10", *(part for option in options for part in ("-o", option)),
            "-o", "window_padding_width=0", "-o", "remember_window_size=no",
            "-o", f"initial_window_width={columns}c", "-o", f"initial_window_height={rows}c", *command,
        ], columns, rows)

    def _find_window(self) -> str:
        deadline = time.monotonic() + 60  # a loaded machine takes its time
        while time.monotonic() < deadline:
            found = subprocess.run(["xdotool", "search", "--onlyvisible", "--pid", str(self.process.pid)],
                                   env=self.display.env(), capture_output=True, text=True, check=False).stdout.split()
            if found:
                return found[0]
            if self.process.poll() is not None:
                raise RuntimeError(f"the terminal exited (code {self.process.returncode}) before its window appeared")
            time.sleep(0.1)
        raise RuntimeError("the terminal window did not appear")

    def _xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.display.env(), check=True,
                       stderr=subprocess.DEVNULL)  # "XGetInputFocus returned…": Xvfb has no window manager

    def keys(self, *keys: str, pause: float = 0.3) -> None:
        """Press keys (xdotool names: `2`, `Right`, `ctrl+q`) in the window, through XTEST as a keyboard would."""
        for key in keys:
            self._xdotool("key", key)
            time.sleep(pause)

    def click(self, x: int, y: int, pause: float = 0.3) -> None:
        """Click the left button at pixel (x, y) of the window, through XTEST as a mouse would."""
        self._xdotool("mousemove", "--window", self.window, "--sync", str(x), str(y))
        self._xdotool("click", "1")
        time.sleep(pause)

    def shot(self) -> np.ndarray:
        """The window's pixels now, [H, W, 3] uint8."""
        xwd = subprocess.run(["xwd", "-silent", "-id", self.window], env=self.display.env(),
                             capture_output=True, check=True).stdout
        png = subprocess.run(["convert", "xwd:-", "png:-"], input=xwd, capture_output=True, check=True).stdout
        return np.asarray(Image.open(io.BytesIO(png), formats=["PNG"]).convert("RGB"))

    def cell(self) -> tuple[int, int]:
        """A cell's size in pixels, from the window's size."""
        height, width, _ = self.shot().shape
        return width // self.columns, height // self.rows

    def settle(self, timeout: float = 60.0, still: float = 1.5) -> np.ndarray:
        """Wait until the window shows something and then stops changing for `still` seconds."""
        deadline = time.monotonic() + timeout
        last, since = self.shot(), time.monotonic()
        while last.max() == 0 or np.count_nonzero(last.max(axis=2) > 60) < 2000:  # the app has not painted yet
            if time.monotonic() > deadline:
                return last
            time.sleep(0.2)
            last, since = self.shot(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.shot()
            if not np.array_equal(now, last):
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= still:
                return now
        return last

    def close(self) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, 15)
        self.process.wait(5)


def grey(pixels: np.ndarray) -> np.ndarray:
    """Luminance in [0, 1]."""
    return np.asarray(Image.fromarray(pixels).convert("L"), dtype=np.float32) / 255.0


def similarity(a: np.ndarray, b: np.ndarray, size: int = 16) -> float:
    """Correlation of two pictures (any sizes, [H, W] in [0, 1]) after shrinking both to size x size."""
    def small(x: np.ndarray) -> np.ndarray:
        image = Image.fromarray((x * 255).astype(np.uint8))
        return np.asarray(image.resize((size, size), Image.Resampling.BOX), dtype=np.float32).ravel()

    return float(np.corrcoef(small(a), small(b))[0, 1])
