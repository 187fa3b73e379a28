"""Quitting stays quick after many + and - presses on the latent screen, in a real process (tmux).

Each press started a decode of the whole grid in a thread. `exclusive` cancels the older workers,
but a thread cannot be stopped: every decode still queued ran to its end, and the interpreter waits
for the thread pool's queue before it exits.
"""

from __future__ import annotations

import shlex
import sys
import time

from test_app_tmux import ROOT, Tmux, pytestmark  # noqa: F401  (skips without tmux)


def test_quitting_after_forty_resizes_is_quick(images, tmp_path):
    marker = tmp_path / "exited"
    # The shipped convolutional decoder and CNN: each decode of a 30x30 to 40x40 grid takes a while.
    argv = [sys.executable, "-m", "tui.cli", str(images), "--models", str(ROOT / "exported")]
    env = f"cd {shlex.quote(str(ROOT))} && unset COLUMNS LINES && TERM=xterm-256color"
    tmux = Tmux(f"{env} {shlex.join(argv)}; echo $? > {shlex.quote(str(marker))}; sleep 60")
    try:
        tmux.wait_for("CPUExecutionProvider")
        tmux.keys("2")
        tmux.wait_for("z = (", timeout=60)
        for key in ["+"] * 20 + ["-", "+"] * 15:  # up to 40x40, then between 39 and 40
            tmux.keys(key)
            time.sleep(0.05)
        time.sleep(0.5)
        tmux.keys("C-q")
        asked = time.monotonic()
        while not marker.exists() and time.monotonic() - asked < 60:
            time.sleep(0.1)
        took = time.monotonic() - asked
        assert marker.exists() and marker.read_text().strip() == "0"
        assert took < 3, f"quitting took {took:.1f} s"
    finally:
        tmux.kill()
