"""The latent map: the shipped file's format, the scatter with the other screens' digits marked on it, and the
A-to-B morph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx_models
import pytest
from app_helpers import SIZE, wait_for

from tui.runtime import ModelError, Runtime, latent
from tui.widgets.latent_grid import LatentGrid
from tui.widgets.latent_map import LatentMapView


def make_map(models: Path) -> latent.LatentMap:
    """Encode the test sample with the folder's encoder and write its map beside it."""
    runtime = Runtime(models, device="cpu")
    x, y = onnx_models.mnist_sample("test")
    means = latent.encode(runtime, x.astype(np.float32) / 255.0)
    encoder = runtime.info(latent.ENCODER).path
    latent.write_map(encoder.with_name(latent.MAP_FILE), means, y, latent.sha256(encoder))
    return latent.LatentMap(means, y)


def test_map_round_trips_and_belongs_to_its_encoder(tiny_models):
    made = make_map(tiny_models)
    encoder = tiny_models / "vae-encoder.onnx"
    x, _ = onnx_models.mnist_sample("test")
    mean, _ = onnx_models.reference("vae-encoder", (x > 127).astype(np.float32))  # binarised, as the metadata says
    np.testing.assert_allclose(made.means, mean, atol=1e-5)
    loaded = latent.load_map(encoder)
    np.testing.assert_allclose(loaded.means, made.means, atol=2e-3)  # float16 in the file
    np.testing.assert_array_equal(loaded.labels, made.labels)
    picture = latent.draw_map(loaded)
    assert picture.shape == (latent.MAP_PIXELS, latent.MAP_PIXELS, 3)
    x0, y0 = latent.to_map_pixel(loaded.means[:1])[0]
    assert tuple(picture[y0, x0]) == tuple(latent.DIGIT_RGB[loaded.labels[0]])
    np.testing.assert_allclose(latent.from_map_pixel(x0, y0), loaded.means[0], atol=2 * 3.5 / 279)

    encoder.write_bytes(encoder.read_bytes() + b"\0")  # another encoder now
    with pytest.raises(ModelError, match="made by another"):
        latent.load_map(encoder)
    encoder.with_name(latent.MAP_FILE).unlink()
    with pytest.raises(ModelError, match=r"no vae-latent-map\.npz"):
        latent.load_map(encoder)


def test_shipped_map_is_the_shipped_encoders():
    shipped = Path(__file__).resolve().parents[2] / "exported" / "vae-encoder.onnx"
    loaded = latent.load_map(shipped)
    assert loaded.means.shape == (10_000, 2) and sorted(set(loaded.labels.tolist())) == list(range(10))


async def test_map_marks_the_classify_image_and_morphs_from_a_to_b(make_app, tiny_models, monkeypatch):
    from tui.screens.latent import LatentScreen

    monkeypatch.setattr(LatentScreen, "MORPH_INTERVAL", 0.01)
    make_map(tiny_models)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        classify = app.screen
        await wait_for(pilot, lambda: classify.models)
        await pilot.press("down")  # from broken.png to digit-0.png
        await wait_for(pilot, lambda: "classify" in app.latent_inputs)
        name, model_input = app.latent_inputs["classify"]
        assert name == classify.current.name
        await pilot.press("2")
        screen = app.screen
        latent_map = screen.query_one(LatentMapView)
        await wait_for(pilot, lambda: screen.grid is not None and latent_map.base is not None and screen.encoded)
        assert not latent_map.display
        await pilot.press("m")
        assert latent_map.display
        (marked, z), = screen.encoded
        expected = latent.encode(app.runtime, model_input[None])[0]
        assert marked == name and np.allclose(z, expected)
        assert any(marker.name.startswith(name) for marker in latent_map.markers)

        await pilot.press("a", "right", "right", "down", "b")
        n = screen.grid.n
        points = latent.grid_points(n)
        np.testing.assert_array_equal(screen.ends["A"], points[0])
        np.testing.assert_array_equal(screen.ends["B"], points[1 * n + 2])
        assert latent_map.segment is not None
        await pilot.press("i")
        await wait_for(pilot, lambda: screen.morph is not None and screen.morph_step == LatentScreen.MORPH_STEPS - 1)
        np.testing.assert_allclose(screen.morph.points[0], points[0])
        b_digit = latent.sigmoid(onnx_models.reference("vae-decoder", points[1 * n + 2][None]))[0, :, :, 0]
        np.testing.assert_allclose(screen.morph.digits[-1], b_digit, atol=1e-5)
        bars = screen.query_one("#latent-bars")
        np.testing.assert_allclose(bars.probabilities, app.runtime.predict("cnn", b_digit[None])[0], atol=1e-6)
        await pilot.press("left")  # the grid's cursor takes the digit back
        assert screen.morph_step == -1 and screen.query_one(LatentGrid).cursor == (1, 1)


async def test_without_a_map_the_map_says_why(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "m")
        screen = app.screen
        legend = screen.query_one("#map-legend")
        await wait_for(pilot, lambda: "no latent map" in str(legend.render()))
        assert "bench/latent_map.py" in str(legend.render())


async def test_two_clicks_on_the_map_pick_a_and_b_and_shift_i_morphs_the_image_into_the_drawing(
        make_app, tiny_models, monkeypatch):
    from tui.screens.latent import LatentScreen
    from tui.widgets.canvas import DrawingCanvas

    monkeypatch.setattr(LatentScreen, "MORPH_INTERVAL", 0.01)
    make_map(tiny_models)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.models)
        await pilot.press("down")
        await wait_for(pilot, lambda: "classify" in app.latent_inputs)
        await pilot.press("5")
        draw = app.screen
        await wait_for(pilot, lambda: draw.models)
        draw.query_one(DrawingCanvas).drawing.stroke((14, 5), (14, 22))
        draw.query_one(DrawingCanvas).changed()
        await wait_for(pilot, lambda: "drawing" in app.latent_inputs)

        await pilot.press("2", "m")
        screen = app.screen
        latent_map = screen.query_one(LatentMapView)
        await wait_for(pilot, lambda: latent_map.base is not None and len(screen.encoded) == 2)
        picture = latent_map.picture
        width, height = picture.content_size
        await pilot.click(picture, offset=(0, 0))
        await pilot.click(picture, offset=(width - 1, height - 1))
        extent = latent.MAP_EXTENT
        assert np.all(screen.ends["A"] < -extent * 0.9) and np.all(screen.ends["B"] > extent * 0.9)

        await pilot.press("I")
        await wait_for(pilot, lambda: screen.morph is not None and screen.morph_step == LatentScreen.MORPH_STEPS - 1)
        image_z, drawing_z = (z for _, z in screen.encoded)
        np.testing.assert_allclose(screen.morph.points[0], image_z, atol=1e-6)
        np.testing.assert_allclose(screen.morph.points[-1], drawing_z, atol=1e-6)
