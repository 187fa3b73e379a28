"""terminal.ask on a real pseudo-terminal: the query goes out, the answers come back, and the
terminal's mode is put back (issue 19, section 5: stdlib termios, not textual_image._terminal)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import sys, termios
from tui import terminal
before = termios.tcgetattr(0)
answer = terminal.ask(terminal.CELL_QUERY, timeout=float(sys.argv[1]))
restored = termios.tcgetattr(0) == before
print(repr((answer, restored)), file=sys.stderr, flush=True)
"""


def run_on_a_pty(answer: bytes | None, timeout: float = 5.0) -> tuple[bytes, tuple[str, bool]]:
    """Run ask() with a pty as stdin and stdout; answer its query with ANSWER (None: stay
    silent). Returns what the child wrote to the terminal and (its answer, mode restored)."""
    master, slave = os.openpty()
    try:
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(timeout)], stdin=slave,
                                 stdout=slave, stderr=subprocess.PIPE, cwd=ROOT)
        os.close(slave)
        sent = b""
        deadline = time.monotonic() + 30
        while not sent.endswith(b"\x1b[c") and time.monotonic() < deadline:
            sent += os.read(master, 1024)
        if answer is not None:
            os.write(master, answer)
        _, err = child.communicate(timeout=60)
        while True:  # whatever else reached the terminal (an echo of the answer, say)
            try:
                chunk = os.read(master, 1024)
            except OSError:  # EIO: the child is gone and nothing is left
                break
            if not chunk:
                break
            sent += chunk
    finally:
        os.close(master)
    return sent, eval(err.decode().strip().splitlines()[-1])  # the child's repr() of a tuple


def test_ask_sends_the_query_and_reads_the_answers_up_to_da1():
    sent, (answer, restored) = run_on_a_pty(b"\x1b[6;19;8t\x1b[?62;4;22c")
    assert sent == b"\x1b[16t\x1b[c"  # the query, and no echo of the answers
    assert answer == "\x1b[6;19;8t\x1b[?62;4;22c"
    assert restored, "ask() left the terminal in cbreak mode"


def test_a_silent_terminal_gives_an_empty_answer_after_the_timeout():
    sent, (answer, restored) = run_on_a_pty(None, timeout=0.3)
    assert sent.endswith(b"\x1b[c") and answer == "" and restored
