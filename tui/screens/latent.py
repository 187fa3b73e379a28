"""Latent space: the VAE decoder's n x n grid as one picture, a cursor, and what the CNN makes of each digit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Static

from tui.runtime import latent
from tui.screens.base import AppScreen
from tui.screens.saving import SavesPng
from tui.text import markup_safe, one_line
from tui.widgets.latent_grid import LatentGrid
from tui.widgets.picture import from_array, picture
from tui.widgets.probabilities import ProbabilityBars

DECODER = "vae-decoder"
CLASSIFIER = "cnn"


class LatentScreen(AppScreen, SavesPng):
    """Arrow keys walk the grid; the digit under the cursor is shown large with the CNN's verdict."""

    BINDINGS = [
        Binding("plus,equals_sign", "resize(1)", "n+1", tooltip="One more row and column", id="latent.more"),
        Binding("minus", "resize(-1)", "n-1", tooltip="One row and column fewer", id="latent.fewer"),
        Binding("s", "save", "Save PNG", tooltip="Save the grid as a PNG in the current folder", id="latent.save"),
    ]
    SAVED_TITLE = "grid saved"

    @dataclass
    class Decoded(Message):
        """A decoded grid, with the classifier's probabilities for every cell (if it has one)."""

        n: int
        points: np.ndarray
        digits: np.ndarray
        tiles: np.ndarray
        probabilities: np.ndarray | None
        labels: list[str]
        note: str

    @dataclass
    class Failed(Message):
        """The grid could not be decoded, and why."""

        error: str

    def __init__(self) -> None:
        super().__init__()
        self.n = latent.DEFAULT_N
        self.grid: LatentScreen.Decoded | None = None
        self.error = ""
        # A save asked for before the grid arrived (from the palette, on another screen).
        self._save_pending = False

    def compose(self) -> ComposeResult:
        """The grid on the left, the chosen digit and its bars on the right."""
        yield Header()
        with Horizontal():
            yield LatentGrid(self.dl_app.graphics, id="latent-grid")
            with VerticalScroll(id="latent-side"):
                # Stacked, or side by side on short terminals (app.tcss), so the bars stay in view.
                with Horizontal(id="latent-head"):
                    yield picture(self.dl_app.graphics, id="latent-digit")
                    yield Static("decoding…", id="latent-info")
                yield ProbabilityBars(id="latent-bars")
        yield Footer()

    def on_mount(self) -> None:
        """Keyboard focus on the grid, so the arrows move the cursor at once."""
        self.query_one("#latent-digit").border_title = "decoded digit"
        self.query_one(LatentGrid).focus()

    def models_changed(self) -> None:
        """Decode the grid again with the (new) decoder."""
        self.decode(self.n)

    @work(thread=True, exclusive=True, group="latent", exit_on_error=False)
    def decode(self, n: int) -> None:
        """Decode all n*n latent points in one batch, then classify every cell in one batch."""
        runtime = self.runtime
        try:
            input_name = runtime.info(DECODER).inputs[0][0]
            points = latent.grid_points(n)
            logits = next(iter(runtime.run(DECODER, {input_name: points}).values()))
            digits = latent.to_digits(logits, n)
        except Exception as error:  # a missing or broken decoder: say so where the grid goes
            self.post_message(self.Failed(one_line(error) or type(error).__name__))
            return
        probabilities, labels, note = None, [], ""
        try:
            probabilities = runtime.predict(CLASSIFIER, digits.reshape(n * n, latent.DIGIT, latent.DIGIT))
            labels = runtime.info(CLASSIFIER).labels
        except Exception as error:  # the grid is still worth seeing without the CNN
            note = one_line(error)
        self.post_message(self.Decoded(n, points, digits, latent.tile(digits), probabilities, labels, note))

    @on(Decoded)
    def _decoded(self, event: Decoded) -> None:
        """Draw the grid; the grid then reports where its cursor is."""
        if event.n != self.n:
            return
        self.grid, self.error = event, ""
        grid = self.query_one(LatentGrid)
        grid.border_title = f"{DECODER}: {event.n}×{event.n} grid"
        grid.show(event.tiles, event.n)
        self.refresh_bindings()
        if self._save_pending:
            self._save_pending = False
            self.action_save()

    @on(Failed)
    def _failed(self, event: Failed) -> None:
        """Explain why there is no grid."""
        self.grid, self.error = None, event.error
        self.query_one("#latent-info", Static).update(f"[b]no latent grid[/b]\n{markup_safe(event.error)}")
        self.refresh_bindings()
        if self._save_pending:
            self._save_pending = False
            self.notify(markup_safe(event.error), title="not saved: no latent grid", severity="error")

    @on(LatentGrid.CursorMoved)
    def _cursor_moved(self, event: LatentGrid.CursorMoved) -> None:
        """Show the digit under the cursor, its latent point and the CNN's probabilities."""
        if self.grid is None or event.row >= self.grid.n or event.col >= self.grid.n:
            return
        index = event.row * self.grid.n + event.col
        x, y = self.grid.points[index]
        self.query_one("#latent-digit").image = from_array(self.grid.digits[event.row, event.col])
        lines = [f"z = ({x:+.3f}, {y:+.3f})", f"row {event.row + 1}, column {event.col + 1} of {self.grid.n}"]
        bars = self.query_one("#latent-bars", ProbabilityBars)
        if self.grid.probabilities is not None:
            probabilities = self.grid.probabilities[index]
            top = int(np.argmax(probabilities))
            label = self.grid.labels[top] if top < len(self.grid.labels) else str(top)
            lines.append(f"{CLASSIFIER} says [b]{markup_safe(label)}[/b] ({probabilities[top] * 100:.1f}%)")
            bars.show(self.grid.labels, probabilities)
        else:
            bars.show_error(self.grid.note or f"no {CLASSIFIER} model")
        if self.grid.n > 12 and self.query_one(LatentGrid).coarse:
            # Half-cells give a 28x28 digit about four cells at n=20: say how to see them.
            lines.append("[dim]tip: - shows fewer, larger digits[/dim]")
        self.query_one("#latent-info", Static).update("\n".join(lines))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Nothing to resize or save without a decoder."""
        if action in ("resize", "save") and self.error:
            return None
        return True

    def action_resize(self, delta: int) -> None:
        """Change n and decode again; at the limits say so rather than do nothing."""
        n = latent.clamp_n(self.n + delta)
        if n == self.n:
            limit = "at least" if delta < 0 else "at most"
            self.notify(f"the grid is {limit} {n}×{n}", severity="warning")
            return
        self.n = n
        self.query_one("#latent-info", Static).update(f"decoding {n}×{n}…")
        self.decode(n)

    def action_save(self) -> None:
        """Save the grid (without the cursor) as a PNG, now or as soon as it is decoded."""
        if self.grid is None or self.grid.n != self.n:
            self._save_pending = True
            self.notify("the grid is still decoding: it will be saved when it is ready")
            return
        n = self.grid.n
        self.save_png(self.grid.tiles, self.dl_app.save_dir / f"latent-grid-{n}x{n}.png")
