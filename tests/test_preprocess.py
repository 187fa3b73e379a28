"""Preprocessing: every kind of image into a white-on-black, MNIST-centred 28x28."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from PIL import Image, ImageDraw

import onnx_models
from tui.runtime import ImageError, Runtime, load_image, prepare, to_model_input


@pytest.fixture(scope="module")
def mnist():
    return onnx_models.mnist_sample("test")


def digit_canvas(size=200, ink=255, paper=0, box=(80, 40, 120, 160)) -> Image.Image:
    """A bar (a `1`) on a plain background."""
    img = Image.new("L", (size, size), paper)
    ImageDraw.Draw(img).rectangle(box, fill=ink)
    return img


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[0 : a.shape[0], 0 : a.shape[1]]
    return float((a * ys).sum() / a.sum()), float((a * xs).sum() / a.sum())


def extent(a: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero(a.any(axis=1)), np.flatnonzero(a.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


# --- normalisation -------------------------------------------------------------------


def test_output_is_float32_28x28_in_unit_range():
    out = to_model_input(digit_canvas())
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_digit_fits_20x20_keeping_aspect_and_centred_on_its_mass():
    out = to_model_input(digit_canvas(box=(90, 20, 129, 179)))  # 40 wide, 160 tall
    height, width = extent(out > 0.05)
    assert height == 20 and 4 <= width <= 6
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14) <= 0.75 and abs(cx - 14) <= 0.75


def test_small_digit_in_a_big_image_is_enlarged():
    out = to_model_input(digit_canvas(size=600, box=(300, 300, 309, 339)))
    assert extent(out > 0.05)[0] == 20


def test_mnist_digits_are_left_almost_unchanged(mnist):
    x, _ = mnist
    raw = x[:50].astype(np.float32) / 255.0
    out = np.stack([to_model_input(Image.fromarray(d)) for d in x[:50]])
    assert np.abs(out - raw).mean() < 0.02


def test_normalising_keeps_real_digits_classified(tiny_models, mnist):
    x, y = mnist
    runtime = Runtime(tiny_models)
    raw = runtime.predict("cnn", x.astype(np.float32) / 255.0).argmax(axis=1)
    normalised = np.stack([to_model_input(Image.fromarray(d)) for d in x])
    ours = runtime.predict("cnn", normalised).argmax(axis=1)
    assert (ours == y).mean() >= (raw == y).mean() - 0.02


def test_off_centre_digit_gets_the_answer_of_the_centred_one(tiny_models, mnist):
    x, y = mnist
    runtime = Runtime(tiny_models)
    shifted = np.zeros((20, 56, 56), np.uint8)
    shifted[:, 2:30, 25:53] = x[:20]  # top right corner of a bigger field
    squeezed = np.stack([to_model_input(Image.fromarray(d), normalize=False) for d in shifted])
    normalised = np.stack([to_model_input(Image.fromarray(d)) for d in shifted])
    right = lambda batch: (runtime.predict("cnn", batch).argmax(axis=1) == y[:20]).mean()  # noqa: E731
    assert right(normalised) > right(squeezed) + 0.3


def test_blank_image_is_all_zero():
    assert not to_model_input(Image.new("L", (50, 50), 255)).any()
    assert not to_model_input(Image.new("L", (50, 50), 0)).any()


def test_without_normalize_the_whole_image_is_squeezed():
    out = to_model_input(digit_canvas(box=(0, 0, 99, 199)), polarity="keep", normalize=False)
    assert out.shape == (28, 28)
    assert out[:, :13].min() > 0.9 and out[:, 15:].max() < 0.1


def test_size_comes_from_the_caller():
    assert to_model_input(digit_canvas(), size=(32, 32)).shape == (32, 32)


def test_speckle_noise_does_not_stretch_the_box():
    img = digit_canvas(size=300, box=(140, 60, 160, 240))
    rng = np.random.default_rng(0)
    a = np.asarray(img).copy()
    a[rng.integers(0, 300, 60), rng.integers(0, 300, 60)] = 255  # salt
    out = to_model_input(Image.fromarray(a))
    assert extent(out > 0.05)[0] == 20


# --- polarity ------------------------------------------------------------------------


def test_dark_on_light_is_inverted(mnist):
    digit = mnist[0][0]
    light = Image.fromarray(255 - digit)
    auto = to_model_input(light)
    np.testing.assert_allclose(auto, to_model_input(Image.fromarray(digit)), atol=1e-6)
    kept = to_model_input(light, polarity="keep")
    np.testing.assert_allclose(kept, 1.0 - auto, atol=1e-6)  # centred, still dark on light
    assert to_model_input(Image.fromarray(digit), polarity="invert").mean() > 0.5


def test_unknown_polarity_is_refused():
    with pytest.raises(ValueError, match="polarity"):
        to_model_input(digit_canvas(), polarity="sideways")


# --- reading every kind of file -----------------------------------------------------


def test_colour_light_on_dark(tmp_path):
    img = Image.new("RGB", (100, 100), (20, 40, 110))
    ImageDraw.Draw(img).rectangle((45, 10, 55, 90), fill=(250, 220, 60))
    img.save(tmp_path / "x.png")
    out = prepare(tmp_path / "x.png")
    assert out[14, 14] > 0.8 and out[0, 0] == 0


@pytest.mark.parametrize("ink", [(0, 0, 0, 255), (255, 255, 255, 255)])
def test_transparency_is_flattened_onto_a_contrasting_background(tmp_path, ink):
    img = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(img).rectangle((45, 10, 55, 90), fill=ink)
    img.save(tmp_path / "x.png")
    assert load_image(tmp_path / "x.png").mode == "L"
    out = prepare(tmp_path / "x.png")
    assert out[14, 14] > 0.8 and out[0, 0] == 0


def test_palette_with_transparency_and_la(tmp_path):
    rgba = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).rectangle((25, 5, 35, 55), fill=(0, 0, 0, 255))
    rgba.save(tmp_path / "p.gif")  # GIF: palette plus a transparent index
    rgba.convert("LA").save(tmp_path / "la.png")
    for name in ("p.gif", "la.png"):
        out = prepare(tmp_path / name)
        assert out[14, 14] > 0.8 and out[0, 0] == 0, name


def test_16_bit_is_scaled_not_clamped(tmp_path):
    a = np.full((40, 40), 30000, np.uint16)
    a[10:30, 18:22] = 65535
    Image.fromarray(a).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    gray = np.asarray(load_image(tmp_path / "deep.png"))
    assert abs(int(gray[0, 0]) - round(30000 / 257)) <= 1  # Pillow's convert says 255
    assert gray[20, 20] == 255


def test_float_damage_is_dark_and_silent():
    a = np.zeros((40, 40), np.float32)
    a[10:30, 18:22] = 1.0
    a[0, :3] = [np.nan, np.inf, -np.inf]  # what a bit flip makes of a float
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow and invalid-cast warnings
        out = to_model_input(Image.fromarray(a), polarity="keep", normalize=False)
    assert np.isfinite(out).all() and out[14, 14] > 0.9 and out[27, 0] == 0


def test_cmyk(tmp_path):
    img = Image.new("CMYK", (60, 60), (0, 0, 0, 0))  # white paper
    ImageDraw.Draw(img).rectangle((25, 5, 35, 55), fill=(0, 0, 0, 255))  # black ink
    img.save(tmp_path / "print.jpg")
    out = prepare(tmp_path / "print.jpg")
    assert out[14, 14] > 0.8 and out[0, 0] < 0.05


def test_animation_uses_the_first_frame(tmp_path):
    first = digit_canvas(size=60, box=(25, 5, 35, 55))
    second = Image.new("L", (60, 60), 0)
    ImageDraw.Draw(second).rectangle((5, 25, 55, 35), fill=255)
    first.save(tmp_path / "anim.gif", save_all=True, append_images=[second], duration=100)
    out = prepare(tmp_path / "anim.gif")
    assert extent(out > 0.5)[0] > extent(out > 0.5)[1]  # tall: the first frame's bar


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("L", (80, 40), 0)
    ImageDraw.Draw(img).rectangle((0, 0, 19, 39), fill=255)  # a block on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to show"
    img.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    loaded = np.asarray(load_image(tmp_path / "phone.jpg"))
    assert loaded.shape == (80, 40)
    assert loaded[:20].mean() > 200 and loaded[40:].mean() < 50  # the block is now on top


def test_big_photos_are_worked_on_smaller(tmp_path):
    Image.new("RGB", (3000, 2000), "white").save(tmp_path / "big.jpg")
    assert max(load_image(tmp_path / "big.jpg").size) <= 1024


# --- files that cannot be used: one-line ImageError -----------------------------------


def bad_files(tmp_path):
    png = tmp_path / "ok.png"
    digit_canvas().save(png)
    data = png.read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("this is not an image\n")
    (tmp_path / "folder.png").mkdir()
    return {"truncated.png": "truncated", "empty.png": "empty", "notes.png": "not an image",
            "folder.png": "folder", "missing.png": "no such file"}


def test_special_files_are_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")  # opening it for reading would wait for a writer
    with pytest.raises(ImageError, match="regular file"):
        load_image(tmp_path / "pipe.png")
    with pytest.raises(ImageError, match="regular file"):
        load_image("/dev/zero")


def test_bad_files_raise_one_line_image_errors(tmp_path):
    for name, reason in bad_files(tmp_path).items():
        with pytest.raises(ImageError, match=reason) as error:
            prepare(tmp_path / name)
        assert "\n" not in str(error.value), name


def test_decompression_bomb_is_an_image_error(tmp_path, monkeypatch):
    digit_canvas(size=100).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)  # over it, under twice it: a warning
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(ImageError, match="bomb"):
        load_image(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow's own error
    with pytest.raises(ImageError, match="too large"):
        load_image(tmp_path / "bomb.png")
