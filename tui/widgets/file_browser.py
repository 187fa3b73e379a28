"""A directory tree of folders and images that announces the image under the cursor."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text, TextType
from textual import on
from textual.message import Message
from textual.widgets import DirectoryTree, Tree
from textual.widgets._directory_tree import DirEntry

from tui.runtime.preprocess import IMAGE_SUFFIXES  # one list of the formats the runtime opens
from tui.text import clean


def first_image(folder: Path) -> Path | None:
    """The first image in FOLDER by name, so the first screen already shows a prediction."""
    try:
        names = sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)
    except OSError:
        return None
    return next((p for p in names if p.is_file()), None)


class ImageTree(DirectoryTree):
    """Folders and image files; moving the cursor onto an image selects it, so browsing is one key per image."""

    def __init__(self, path: Path, *, select: Path | None = None, id: str | None = None) -> None:
        super().__init__(path, id=id)
        # The file already on screen: the cursor goes onto it once its folder has loaded.
        self._select = select.resolve() if select is not None else None

    @dataclass
    class ImageHighlighted(Message):
        """The cursor is on an image file."""

        tree: ImageTree
        path: Path

        @property
        def control(self) -> ImageTree:
            """The tree that sent it."""
            return self.tree

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        """Hide dot files, Python caches and files the runtime will not open; keep other folders."""
        for path in paths:
            if path.name.startswith(".") or path.name == "__pycache__":
                continue
            if self._safe_is_dir(path) or path.suffix.lower() in IMAGE_SUFFIXES:
                yield path

    def process_label(self, label: TextType) -> Text:
        """Show file names literally: control characters replaced, no markup."""
        plain = label.plain if isinstance(label, Text) else label
        return Text(clean(plain))

    @on(Tree.NodeExpanded)
    def _select_start(self, event: Tree.NodeExpanded[DirEntry]) -> None:
        """Put the cursor on the start file when its folder's entries arrive, so Down goes to the next one."""
        if self._select is None:
            return
        for node in event.node.children:
            if node.data is not None and node.data.path.resolve() == self._select:
                self._select = None
                self.move_cursor(node, animate=False)
                return

    @on(Tree.NodeHighlighted)
    def _announce(self, event: Tree.NodeHighlighted[DirEntry]) -> None:
        """Turn a highlighted file node into an ImageHighlighted message."""
        entry = event.node.data
        if entry is not None and not self._safe_is_dir(entry.path):
            self.post_message(self.ImageHighlighted(self, entry.path))
