"""A gallery of misclassified images, most confident mistake first: each a card with the picture, its
true and predicted label; Enter (or a click) opens it in Classify, w shows why the model said it (a heat
map over its input) and again the picture."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image as PILImage
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ItemGrid, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from tui.terminal import Graphics
from tui.text import plain
from tui.widgets.picture import picture

CARD_WIDTH = 18  # cells: four cards a row at 80 columns


def caption(mistake: Mapping[str, Any]) -> Text:
    """Three lines from a report's mistake: the true label, `→ predicted 97%`, the file's name (text from
    files and models: never markup; each line cut with an ellipsis)."""
    confidence = mistake.get("confidence")
    share = f" {confidence:.0%}" if isinstance(confidence, (int, float)) else ""
    text = Text.assemble(plain(mistake.get("true_label", "?"), "green"), "\n→ ",
                         plain(mistake.get("label", "?"), "bold red"), share, "\n",
                         plain(Path(str(mistake.get("path", ""))).name, "dim"))
    text.no_wrap, text.overflow = True, "ellipsis"
    return text


class MistakeCard(Vertical, can_focus=True):
    """One mistake: its picture over its labels."""

    DEFAULT_CSS = f"""
    MistakeCard {{ width: {CARD_WIDTH}; height: auto; border: round $panel; padding: 0 0; }}
    MistakeCard:focus {{ border: round $primary; background: $primary 15%; }}
    MistakeCard > .mistake--picture {{ width: 16; height: 8; }}
    MistakeCard > .mistake--caption {{ width: 100%; height: 3; text-wrap: nowrap; text-overflow: ellipsis; }}
    """
    BINDINGS: ClassVar = [Binding("enter", "open", "Open in Classify", tooltip="Show this image on the Classify screen",
                                  id="mistakes.open"),
                          Binding("w", "explain", "Why?", tooltip="Show what made the model give its label: a heat map "
                                  "over its input (again: the picture)", show=False, id="mistakes.explain")]
    # w is in the ? help, not the footer: 80 columns lose "? Help" with it.

    @dataclass
    class Opened(Message):
        """The user asked to look at this mistake in Classify."""

        path: Path

    @dataclass
    class ExplainAsked(Message):
        """The user asked why the model gave this mistake its label."""

        card: MistakeCard
        path: Path
        label: str

    def __init__(self, mistake: Mapping[str, Any], image: PILImage.Image | None, graphics: Graphics) -> None:
        super().__init__()
        self.mistake = dict(mistake)
        self.path = Path(str(mistake.get("path", "")))
        self._image = image
        self._graphics = graphics
        self.explained: Any = None  # the heat map shown in the picture's place (tui.widgets.heat_map.Explained)

    def compose(self) -> ComposeResult:
        """The picture and the caption."""
        yield picture(self._graphics, classes="mistake--picture")
        yield Static(caption(self.mistake), classes="mistake--caption")

    def on_mount(self) -> None:
        """Show the picture decoded by the evaluation's worker (none if it could not be read again)."""
        if self._image is not None:
            self.query_one(".mistake--picture").image = self._image  # type: ignore[attr-defined]

    def action_open(self) -> None:
        """Ask for this image in Classify."""
        self.post_message(self.Opened(self.path))

    def action_explain(self) -> None:
        """Ask for the heat map of the predicted label, or put the picture back."""
        if self.explained is not None:
            self.show_explanation(None)
        else:
            self.border_title = "why…"
            self.post_message(self.ExplainAsked(self, self.path, str(self.mistake.get("label", ""))))

    def show_explanation(self, explained: Any) -> None:
        """The heat map (an Explained with an image) in the picture's place, its failure's line in the
        title, or None: the picture again."""
        shown = explained if explained is not None and explained.image is not None else None
        self.explained = shown
        self.query_one(".mistake--picture").image = shown.image if shown else self._image  # type: ignore[attr-defined]
        if explained is not None and explained.error:
            self.border_title = plain(f"⚠ {explained.error}", "red")
            self.tooltip = plain(explained.error)
        else:
            self.border_title = plain(f"why {explained.label}?") if shown else None

    def on_click(self, event: events.Click) -> None:
        """A click chooses the card; a second click (or Enter) opens it."""
        if self.has_focus:
            self.action_open()
        else:
            self.focus()


class MistakeGallery(VerticalScroll):
    """The cards in a grid as wide as the room; arrows move between them."""

    DEFAULT_CSS = """
    MistakeGallery { height: 1fr; }
    MistakeGallery > .mistakes--grid { height: auto; }
    MistakeGallery > .mistakes--empty { color: $text-muted; padding: 1 1; }
    """
    BINDINGS: ClassVar = [
        Binding("right", "move(1)", "Next", show=False, id="mistakes.next"),
        Binding("left", "move(-1)", "Previous", show=False, id="mistakes.previous"),
        Binding("down", "move_row(1)", "Row down", show=False, id="mistakes.down"),
        Binding("up", "move_row(-1)", "Row up", show=False, id="mistakes.up"),
    ]

    def __init__(self, graphics: Graphics, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.graphics = graphics

    def compose(self) -> ComposeResult:
        """An empty grid, and a line for when there is nothing in it."""
        yield Static("No evaluation yet.", classes="mistakes--empty")
        yield ItemGrid(classes="mistakes--grid", min_column_width=CARD_WIDTH)

    async def show(self, mistakes: Sequence[Mapping[str, Any]], images: Mapping[str, PILImage.Image]) -> None:
        """One card a mistake, in the order given (most confident first); IMAGES by path."""
        grid = self.query_one(ItemGrid)
        await grid.remove_children()
        cards = [MistakeCard(m, images.get(str(m.get("path"))), self.graphics) for m in mistakes]
        empty = self.query_one(".mistakes--empty", Static)
        empty.update("No mistakes: every image was classified right." if not cards else "")
        empty.display = not cards
        if cards:
            await grid.mount_all(cards)

    @property
    def cards(self) -> list[MistakeCard]:
        """The cards, in order."""
        return list(self.query(MistakeCard))

    def _step(self, delta: int) -> None:
        cards = self.cards
        if not cards:
            return
        focused = self.screen.focused
        index = cards.index(focused) if isinstance(focused, MistakeCard) and focused in cards else -delta
        target = cards[min(max(index + delta, 0), len(cards) - 1)]
        target.focus()
        self.scroll_to_widget(target)

    def action_move(self, delta: int) -> None:
        """Focus the next or previous card."""
        self._step(delta)

    def action_move_row(self, delta: int) -> None:
        """Focus the card a row below or above."""
        cards = self.cards
        per_row = sum(1 for card in cards if card.region.y == cards[0].region.y) if cards else 1
        self._step(delta * max(per_row, 1))
