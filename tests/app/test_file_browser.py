"""The image browser lists folders and images, and hides what a user never wants to open."""

from __future__ import annotations

from pathlib import Path

from app_helpers import wait_for
from textual.app import App, ComposeResult

from tui.widgets.file_browser import ImageTree, first_image


class BrowserApp(App[None]):
    """Just the tree, on one folder."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def compose(self) -> ComposeResult:
        yield ImageTree(self.folder)


async def test_the_tree_shows_images_the_runtime_opens_and_folders(tmp_path: Path):
    for name in ("a.png", "b.JPG", "notes.txt", "make_images.py", ".hidden.png", "page.eps"):
        (tmp_path / name).write_bytes(b"")
    for name in ("sub", "__pycache__", ".git"):
        (tmp_path / name).mkdir()
    app = BrowserApp(tmp_path)
    async with app.run_test() as pilot:
        tree = app.query_one(ImageTree)
        await wait_for(pilot, lambda: tree.root.children)
        shown = sorted(node.data.path.name for node in tree.root.children)
    assert shown == ["a.png", "b.JPG", "sub"]
    assert first_image(tmp_path) == tmp_path / "a.png"
