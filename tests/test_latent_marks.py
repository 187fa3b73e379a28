"""tui/latent_marks.py without Textual: marking A and B, the images as ends, the morph's frames, the markers."""

from __future__ import annotations

import numpy as np

from tui.latent_marks import END_RGB, MARK_RGB, LatentMarks, Morph


def test_marking_a_then_b_says_what_is_left():
    marks = LatentMarks()
    assert marks.segment() is None
    assert marks.mark("A", np.array([0.5, -1.0])) == "B"
    assert marks.mark("B", np.array([1.0, 2.0])) == ""
    a, b = marks.segment()
    assert a.dtype == np.float32 and a.tolist() == [0.5, -1.0] and b.tolist() == [1.0, 2.0]


def test_clicks_mark_a_then_b_then_start_again():
    marks = LatentMarks()
    assert [marks.click(np.array([float(i), 0.0])) for i in range(3)] == ["A", "B", "A"]
    assert set(marks.ends) == {"A"} and marks.ends["A"][0] == 2.0  # B dropped with the new A


def test_the_images_are_the_ends_only_when_there_are_two():
    marks = LatentMarks()
    marks.encoded = [("digit.png", np.array([1.0, 1.0]))]
    assert not marks.ends_from_images() and not marks.ends
    marks.encoded.append(("drawing", np.array([-1.0, 2.0])))
    assert marks.ends_from_images()
    assert marks.ends["A"].tolist() == [1.0, 1.0] and marks.ends["B"].tolist() == [-1.0, 2.0]


def test_a_morph_plays_each_frame_once_and_stays_on_b():
    marks = LatentMarks()
    assert marks.advance() is None and marks.playing() is None
    points = np.array([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]], np.float32)
    marks.play(Morph(points, np.zeros((3, 28, 28)), None))
    assert marks.playing() is None  # before its first frame
    assert [marks.advance() for _ in range(5)] == [0, 1, 2, None, None]
    assert marks.step == 2 and marks.playing().tolist() == [1.0, 1.0]
    marks.stop()
    assert marks.playing() is None and marks.step == -1


def test_markers_name_each_mark_in_its_colour():
    marks = LatentMarks()
    marks.encoded = [("[b]x.png", np.array([0.25, -0.5])), ("drawing", np.array([1.0, 1.0]))]
    marks.mark("B", np.array([2.0, 0.0]))
    marks.mark("A", np.array([-2.0, 0.0]))
    found = marks.markers()
    assert [rgb for _, rgb, _ in found] == [MARK_RGB[0], MARK_RGB[1], END_RGB["A"], END_RGB["B"]]
    assert found[0] == ((0.25, -0.5), MARK_RGB[0], "[b]x.png (+0.25, -0.50)")
    assert [label.split()[0] for _, _, label in found[2:]] == ["A", "B"]
