"""The one reader of pictures for folder models (`load_image(colour=...)`, `picture_array`):
the trainer caches what it makes and dl-tui feeds the same to the model."""

import numpy as np
import pytest
from PIL import Image

from tui.runtime.preprocess import RESIZE_METHODS, load_image, picture_array


def test_a_colour_picture_keeps_its_colour_and_is_stretched_whole(tmp_path):
    # Left half red, right half blue, twice as wide as high: stretched to a square, each
    # half keeps its side and its colour; nothing is cropped or centred.
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :20] = (220, 0, 0)
    a[:, 20:] = (0, 0, 230)
    Image.fromarray(a).save(tmp_path / "wide.png")
    out = picture_array(load_image(tmp_path / "wide.png", colour=True), (16, 16), 3)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    assert out[8, 2].tolist() == [220, 0, 0] and out[8, 13].tolist() == [0, 0, 230]


def test_grey_is_one_channel_and_16_bit_is_scaled_not_clamped(tmp_path):
    ramp = (np.arange(16 * 16).reshape(16, 16) * 256).astype(np.uint16)  # 0 .. 65280
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    grey = picture_array(load_image(tmp_path / "deep.png"), (16, 16), 1)
    colour = picture_array(load_image(tmp_path / "deep.png", colour=True), (16, 16), 3)
    assert grey.shape == (16, 16, 1)
    assert grey[0, 0, 0] == 0 and grey[8, 0, 0] == round(8 * 16 * 256 / 257)  # scaled by 1/257
    assert grey[15, 15, 0] == 254  # 65280 / 257; clamping would make half the picture 255
    assert (colour == grey).all()  # the same grey in every channel


def test_transparency_is_laid_on_white_in_colour(tmp_path):
    a = np.zeros((8, 8, 4), np.uint8)
    a[:4] = (0, 200, 0, 255)  # opaque green top half, transparent bottom half
    Image.fromarray(a, "RGBA").save(tmp_path / "cut.png")
    out = picture_array(load_image(tmp_path / "cut.png", colour=True), (8, 8), 3)
    assert out[0, 0].tolist() == [0, 200, 0] and out[7, 7].tolist() == [255, 255, 255]


@pytest.mark.parametrize("method", sorted(RESIZE_METHODS))
def test_every_resize_method_gives_the_asked_size(tmp_path, method):
    Image.new("L", (30, 50), 77).save(tmp_path / "tall.png")
    out = picture_array(load_image(tmp_path / "tall.png"), (7, 9), 1, method)
    assert out.shape == (7, 9, 1) and (out == 77).all()
