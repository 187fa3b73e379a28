"""The rig's virtual screen, shared by the real-terminal tests (tests/terminal/rig.py)."""

from __future__ import annotations

import pytest
from rig import NEEDED, Display, require


@pytest.fixture(scope="module")
def display():
    """An Xvfb screen for this module's terminals; skipped, naming what is missing, without the rig."""
    require(*NEEDED)
    screen = Display()
    yield screen
    screen.close()
