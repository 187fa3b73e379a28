"""Saved pictures are numbered, never overwritten: the drawing and the latent grid alike."""

from __future__ import annotations

from app_helpers import SIZE, wait_for, whole_png
from PIL import Image

from tui.screens.saving import create_numbered


def test_numbering_skips_taken_names_and_never_overwrites(tmp_path):
    (tmp_path / "grid-1.png").write_bytes(b"mine")
    path, fd = create_numbered(tmp_path, "grid")
    with open(fd, "wb") as file:
        file.write(b"new")
    assert path == tmp_path / "grid-2.png"
    assert (tmp_path / "grid-1.png").read_bytes() == b"mine"
    assert create_numbered(tmp_path, "grid")[0] == tmp_path / "grid-3.png"


async def test_saving_the_latent_grid_twice_keeps_both_files(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        screen = app.screen
        await wait_for(pilot, lambda: screen.grid is not None)
        n = screen.grid.n
        first, second = (tmp_path / f"latent-grid-{n}x{n}-{k}.png" for k in (1, 2))
        await pilot.press("s")
        await wait_for(pilot, lambda: whole_png(first))  # written, not just named
        before = first.read_bytes()
        await pilot.press("s")
        await wait_for(pilot, lambda: whole_png(second))
        assert first.read_bytes() == before
        with Image.open(second) as saved:
            assert saved.size == (n * 28, n * 28)
