"""The README's screenshots, taken from a real xterm (Sixel) under Xvfb: one per screen.

    python tests/terminal/screenshots.py docs/screenshots

Uses the shipped models and sample images; needs the terminal rig (see rig.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))

from rig import NEEDED, Display, Terminal

ROOT = Path(__file__).resolve().parents[2]
# (file, keys pressed before the shot)
SHOTS = [
    ("classify-all-models.png", ["Down", "Down", "Down"]),
    ("classify.png", ["c"]),
    ("latent.png", ["2", "Down", "Right", "Right", "Down"]),
    ("train.png", ["3", "h"]),
    ("models.png", ["4"]),
    # A 7 drawn with the keys (space puts the pen down and lifts it), then where it lands on the map.
    ("draw.png", ["5", *["Left"] * 6, *["Up"] * 7, "space", *["Right"] * 11, *["Down", "Left"] * 7,
                  *["Down"] * 4, "space"]),
    ("latent-map.png", ["2", "m", "a", *["Right"] * 6, *["Down"] * 5, "b"]),
]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    display = Display()
    try:
        terminal = Terminal.xterm(display, [sys.executable, "-c", "from tui.cli import main; main()",
                                            str(ROOT / "images"), "--models", str(ROOT / "exported")])
        try:
            terminal.settle()
            for name, keys in SHOTS:
                terminal.keys(*keys, pause=0.6)
                Image.fromarray(terminal.settle(still=2.5)).save(out / name, optimize=True)
                print(out / name)
        finally:
            terminal.close()
    finally:
        display.close()


if __name__ == "__main__":
    missing = [name for name in NEEDED if __import__("shutil").which(name) is None]
    if missing:
        sys.exit(f"screenshots need {', '.join(missing)}")
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
