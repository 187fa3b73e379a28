"""The image browser lists folders and images, and hides what a user never wants to open."""

from __future__ import annotations

from pathlib import Path

from tui.widgets.file_browser import ImageTree


def test_filter_keeps_images_the_runtime_opens_and_folders(tmp_path: Path):
    for name in ("a.png", "b.JPG", "notes.txt", "make_images.py", ".hidden.png", "page.eps"):
        (tmp_path / name).write_bytes(b"")
    for name in ("sub", "__pycache__", ".git"):
        (tmp_path / name).mkdir()
    tree = ImageTree.__new__(ImageTree)  # the filter needs no mounted widget (nor its path watcher)
    shown = sorted(p.name for p in tree.filter_paths(tmp_path.iterdir()))
    assert shown == ["a.png", "b.JPG", "sub"]
