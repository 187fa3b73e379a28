"""A directory tree of folders and images that announces the image under the cursor.

Backspace goes up to the parent folder, `/` filters the file names as you type, and `w` widens the
tree; a name longer than the tree is cut in the middle with an ellipsis, keeping its ending.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text, TextType
from textual import events, on
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DirectoryTree, Tree
from textual.widgets._directory_tree import DirEntry
from textual.widgets._tree import TreeNode

# One list of the formats the runtime opens.
from tui.runtime.preprocess import IMAGE_SUFFIXES
from tui.text import clean

ELLIPSIS = "…"
FILTER_DELAY = 0.2  # seconds of no typing before the folders are listed again with the filter
WIDE = 0.6  # `w` widens the tree to fit the longest name, up to this share of its container


def first_image(folder: Path) -> Path | None:
    """The first image in FOLDER by name, so the first screen already shows a prediction."""
    try:
        names = sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)
    except OSError:
        return None
    return next((p for p in names if p.is_file()), None)


def shorten(text: Text, width: int, keep: int = 0) -> Text:
    """TEXT cut to WIDTH cells by an ellipsis in the middle, keeping its first KEEP characters (an icon)
    and its ending (the file's extension), and its styles."""
    if text.cell_len <= width:
        return text
    plain = text.plain
    room = width - cell_len(plain[:keep]) - 1  # cells for the name's two sides, less the ellipsis
    if room < 2:
        return text[:keep]
    end = len(plain)  # the ending (numbers, dates, the extension) takes about half the room
    while end - 1 > keep and cell_len(plain[end - 1:]) <= room // 2:
        end -= 1
    start = keep
    while start < end and cell_len(plain[keep:start + 1]) <= room - cell_len(plain[end:]):
        start += 1
    ellipsis = text[start:start + 1]  # styled as the character it replaces
    ellipsis.plain = ELLIPSIS
    return text[:start] + ellipsis + text[end:]


class ImageTree(DirectoryTree):
    """Folders and image files; moving the cursor onto an image selects it, so browsing is one key per image."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("backspace", "parent", "Up a folder", show=False, id="browser.parent",
                tooltip="Show the folder above this one"),
        Binding("slash", "filter", "Filter", show=False, id="browser.filter",
                tooltip="Type part of a file name to show only the files that have it; Escape clears"),
        Binding("w", "wider", "Wider", show=False, id="browser.wider",
                tooltip="Widen the tree to fit long names; again for the usual width"),
    ]

    def __init__(self, path: Path, *, select: Path | None = None, id: str | None = None) -> None:
        super().__init__(path, id=id)
        # The file already on screen: the cursor goes onto it once its folder has loaded.
        self._select = select.resolve() if select is not None else None
        self.filter = ""  # file names shown contain this (any case); "" shows every file
        self.typing = False  # keys go to the filter (after `/`, until Enter or Escape)
        self.wide = False
        self._refilter: Timer | None = None
        self._widest: dict[int, int] = {}  # by folder node id: the cells its entries need uncut

    @dataclass
    class ImageHighlighted(Message):
        """The cursor is on an image file."""

        tree: ImageTree
        path: Path

        @property
        def control(self) -> ImageTree:
            """The tree that sent it."""
            return self.tree

    def on_mount(self) -> None:
        """Say which keys go up, filter and widen."""
        self._show_state()

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        """Hide dot files, Python caches and files the runtime will not open; keep other folders.
        With a filter, files whose name does not contain it are hidden too."""
        wanted = self.filter.casefold()
        for path in paths:
            if path.name.startswith(".") or path.name == "__pycache__":
                continue
            is_image = path.suffix.lower() in IMAGE_SUFFIXES and wanted in path.name.casefold()
            if is_image or self._safe_is_dir(path):
                yield path

    def process_label(self, label: TextType) -> Text:
        """Show file names literally: control characters replaced, no markup."""
        plain = label.plain if isinstance(label, Text) else label
        return Text(clean(plain))

    # Long names --------------------------------------------------------------------------------------
    @staticmethod
    def _depth(node: TreeNode[DirEntry]) -> int:
        depth, parent = 0, node.parent
        while parent is not None:
            depth, parent = depth + 1, parent.parent
        return depth

    def _room(self, node: TreeNode[DirEntry]) -> int:
        """Cells a node's label may take: the tree's width less the guides in front of it."""
        return self.scrollable_content_region.width - self._depth(node) * self.guide_depth

    def render_label(self, node: TreeNode[DirEntry], base_style: Style, style: Style) -> Text:
        """The label, cut in the middle with an ellipsis when it is wider than the tree."""
        label = super().render_label(node, base_style, style)
        room = self._room(node)
        return shorten(label, room, keep=1) if room > 0 else label

    def on_resize(self) -> None:
        """Labels are cut to the new width."""
        self._show_state()

    def _measure(self, folder: TreeNode[DirEntry]) -> None:
        """Note the cells FOLDER's entries need uncut (icon, name and guides), once per listing:
        a resize then asks no more than a comparison, even for a folder of 200,000 files."""
        names = [child.label.plain for child in folder.children]
        if names:
            guides = (self._depth(folder) + 1) * self.guide_depth
            self._widest[folder.id] = 3 + max(map(cell_len, names)) + guides

    def _needed(self) -> int:
        """Cells the widest label shown needs uncut, its guides included."""
        return max([3 + self.root.label.cell_len, *self._widest.values()])

    def _cut(self) -> bool:
        """Whether some label shown is cut to fit."""
        return self._needed() > self.scrollable_content_region.width

    def action_wider(self) -> None:
        """Fit the longest name shown, up to WIDE of the screen's width; again for the usual width."""
        self.wide = not self.wide
        if self.wide and self.parent is not None:
            need = self._needed()
            extra = self.outer_size.width - self.scrollable_content_region.width
            limit = int(self.parent.content_region.width * WIDE)
            self.styles.width = max(self.outer_size.width, min(need + extra, limit))
        else:
            self.styles.width = None  # back to the width app.tcss gives
        self._show_state()

    def clear_node(self, node: TreeNode[DirEntry]) -> ImageTree:
        """Empty NODE at once. Textual removes children one at a time, each found by a search of the
        list, which took 20 s for a folder of 20,000 files (going up, each filter); this forgets them
        in one pass (falling back to Textual's way if its tree's insides change)."""
        nodes = getattr(self, "_tree_nodes", None)
        children = getattr(node, "_children", None)
        if not isinstance(nodes, dict) or not isinstance(children, list):
            return super().clear_node(node)
        stack = list(children)
        while stack:
            child = stack.pop()
            stack.extend(getattr(child, "_children", ()))
            nodes.pop(child.id, None)
        children.clear()
        self._invalidate()
        return self

    # Up a folder -------------------------------------------------------------------------------------
    def action_parent(self) -> None:
        """Show the parent folder, the cursor on the folder we came from."""
        here = Path(self.path).resolve()
        if here.parent == here:
            self.notify("this is the top folder", severity="warning")
            return
        self._select = here
        self._widest.clear()
        self.path = here.parent
        self._show_state()

    # Filter ------------------------------------------------------------------------------------------
    def action_filter(self) -> None:
        """Start typing a filter (the folders stay, so you can still move between them)."""
        self.typing = True
        self._show_state()

    def on_key(self, event: events.Key) -> None:
        """While typing a filter, letters and Backspace edit it, Enter keeps it, Escape clears it."""
        if not self.typing and not (self.filter and event.key == "escape"):
            return
        if event.key == "escape":
            self.typing = False
            self._set_filter("")
        elif event.key == "enter":
            self.typing = False
        elif event.key == "backspace":
            if self.filter:
                self._set_filter(self.filter[:-1])
            else:
                self.typing = False
        elif event.is_printable and event.character:
            self._set_filter(self.filter + event.character)
        else:  # arrows and the like still move the cursor
            return
        event.stop()
        event.prevent_default()
        self._show_state()

    def on_blur(self) -> None:
        """Typing ends when the tree loses the keys; the filter stays."""
        if self.typing:
            self.typing = False
            self._show_state()

    def _set_filter(self, text: str) -> None:
        """List the folders again with the new filter once typing pauses."""
        if text == self.filter:
            return
        self.filter = text
        if self._refilter is not None:
            self._refilter.stop()
        self._refilter = self.set_timer(FILTER_DELAY, self._apply_filter)

    async def _apply_filter(self) -> None:
        """List every open folder again through filter_paths; the cursor goes to the first match if
        the file it was on is filtered out."""
        self._widest.clear()
        await self.reload()
        node = self.cursor_node
        if node is None or node.data is None or self._safe_is_dir(node.data.path):
            first = next((child for child in self.root.children
                          if child.data is not None and not child.allow_expand), None)
            if first is not None:
                self.move_cursor(first, animate=False)

    def _show_state(self) -> None:
        """The bottom border: the filter being typed or in use, else the keys this tree adds."""
        if self.typing:
            self.border_subtitle = Text(f"/{clean(self.filter)}▏")
        elif self.filter:
            self.border_subtitle = Text(f"filter: {clean(self.filter)} · esc clears")
        else:  # each hint is also a button for the mouse
            hints = [("⌫ up", "parent"), ("/ filter", "filter")]
            if self.wide or self._cut():
                hints.append(("w wider", "wider"))
            width = self.outer_size.width - 4
            gap = "  " if sum(len(hint) + 2 for hint, _ in hints) - 2 <= width or width <= 0 else " "
            self.border_subtitle = Content.from_markup(gap.join(f"[@click={action}]{hint}[/]" for hint, action in hints))

    # Cursor ------------------------------------------------------------------------------------------
    @on(Tree.NodeExpanded)
    def _select_start(self, event: Tree.NodeExpanded[DirEntry]) -> None:
        """Put the cursor on the start file when its folder's entries arrive, so Down goes to the next one."""
        self._measure(event.node)
        self.call_after_refresh(self._show_state)
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
