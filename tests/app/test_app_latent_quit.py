"""Quitting after many + and - presses on the latent screen ends the process, in a real one (tmux).

Each press started a decode of the whole grid in a thread. `exclusive` cancels the older workers,
but a thread cannot be stopped: every decode still queued ran to its end, and the interpreter waits
for the thread pool's queue before it exits. How long quitting takes, beside quitting with no
presses, is measured by bench/bench_app_timing.py; here a one-minute guard stops a hang.
"""

from __future__ import annotations

import re
import shlex
import sys

from test_app_tmux import ROOT, Tmux, pytestmark  # noqa: F401  (skips without tmux)

from tui.runtime.latent import clamp_n

PRESSES = ["+"] * 20 + ["-", "+"] * 15  # up 20, then back and forth


def test_quitting_after_fifty_resizes_exits(images, tmp_path):
    marker = tmp_path / "exited"
    # The shipped convolutional decoder and CNN: each decode of a 30x30 or larger grid takes a while.
    argv = [sys.executable, "-m", "tui.cli", str(images), "--models", str(ROOT / "exported")]
    env = f"cd {shlex.quote(str(ROOT))} && unset COLUMNS LINES && TERM=xterm-256color"
    tmux = Tmux(f"{env} {shlex.join(argv)}; echo $? > {shlex.quote(str(marker))}; sleep 60")
    try:
        tmux.wait_for("CPUExecutionProvider")
        tmux.keys("2")
        screen = tmux.wait_for(" grid", timeout=60)  # the decoder's box title: "vae-decoder: n×n grid"
        n = int(re.search(r"(\d+)×\1 grid", screen).group(1))
        for key in PRESSES:  # each press waits for the screen to take it: "decoding n×n…" at once
            n = clamp_n(n + (1 if key == "+" else -1))
            tmux.keys(key)
            tmux.wait_for(f"{n}×{n}")
        tmux.keys("C-q")  # with the last decodes still to run
        assert tmux.exit_code(marker) == "0"
    finally:
        tmux.kill()
