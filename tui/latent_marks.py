"""The latent screen's second job, as state with no Textual in it: the points marked on the map
(the other screens' digits, the ends A and B) and the morph from A to B, frame by frame.

The first job, the decoded grid and its cursor, stays with the screen (tui/screens/latent.py),
which draws what this says: `markers` for the map, `frame` for the digit shown large.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tui.text import clean

MARK_RGB = [(255, 255, 255), (255, 0, 255)]  # the other screens' digits on the map
END_RGB = {"A": (0, 255, 120), "B": (255, 60, 60)}
Rgb = tuple[int, int, int]


@dataclass
class Morph:
    """The decoded digits along A-B, and the classifier's probabilities for each (if it has one)."""

    points: np.ndarray
    digits: np.ndarray
    probabilities: np.ndarray | None


@dataclass
class LatentMarks:
    """A and B, the encoded images, and the morph being played (`step` -1: the grid's digit shows)."""

    ends: dict[str, np.ndarray] = field(default_factory=dict)  # "A" and "B": the interpolation's ends
    encoded: list[tuple[str, np.ndarray]] = field(default_factory=list)  # the Classify image and the drawing
    morph: Morph | None = None
    step: int = -1

    def mark(self, end: str, z: np.ndarray) -> str:
        """Mark Z as END ("A" or "B"); returns the end still to mark, or "" when both are."""
        self.ends[end] = np.array(z, np.float32)
        return "" if len(self.ends) == 2 else ("B" if end == "A" else "A")

    def click(self, z: np.ndarray) -> str:
        """A click on the map marks A, then B, then A again (dropping B); returns the end marked."""
        end = "B" if "A" in self.ends and "B" not in self.ends else "A"
        if end == "A":
            self.ends.pop("B", None)
        self.ends[end] = np.asarray(z).astype(np.float32)
        return end

    def ends_from_images(self) -> bool:
        """A = the Classify screen's image, B = the drawing; False if there are not two to use."""
        if len(self.encoded) < 2:
            return False
        self.ends = {"A": np.array(self.encoded[0][1], np.float32), "B": np.array(self.encoded[1][1], np.float32)}
        return True

    def segment(self) -> tuple[np.ndarray, np.ndarray] | None:
        """A and B, once both are marked."""
        return (self.ends["A"], self.ends["B"]) if len(self.ends) == 2 else None

    def play(self, morph: Morph) -> None:
        """Start a new morph, before its first frame."""
        self.morph, self.step = morph, -1

    def advance(self) -> int | None:
        """The next frame's index; None once B is shown (the morph then stays on it)."""
        if self.morph is None:
            return None
        if self.step + 1 >= len(self.morph.points):
            self.step = len(self.morph.points) - 1
            return None
        self.step += 1
        return self.step

    def stop(self) -> None:
        """Back to the grid's digit."""
        self.step = -1

    def playing(self) -> np.ndarray | None:
        """The latent point of the morph's frame shown, if one is."""
        if self.morph is not None and self.step >= 0:
            return self.morph.points[self.step]
        return None

    def markers(self) -> list[tuple[tuple[float, float], Rgb, str]]:
        """(z, colour, label) for the map: the other screens' digits, then A and B."""
        found = [(_z(z), MARK_RGB[index % len(MARK_RGB)], f"{clean(name)} ({z[0]:+.2f}, {z[1]:+.2f})")
                 for index, (name, z) in enumerate(self.encoded)]
        found += [(_z(z), END_RGB[end], f"{end} ({z[0]:+.2f}, {z[1]:+.2f})") for end, z in sorted(self.ends.items())]
        return found


def _z(z: np.ndarray) -> tuple[float, float]:
    return float(z[0]), float(z[1])
