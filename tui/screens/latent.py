"""Latent space: the VAE decoder's n x n grid as one picture, a cursor, and what the CNN makes of each digit;
beside it the map, its marks and the morph from A to B, whose state is tui/latent_marks.py's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.events import ScreenResume
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, Header, Static
from textual.worker import get_current_worker

from tui.latent_marks import LatentMarks, Morph
from tui.runtime import latent
from tui.screens.base import AppScreen
from tui.screens.saving import SavesPng
from tui.text import clean, one_line, plain
from tui.widgets.halfcell import fit
from tui.widgets.latent_grid import LatentGrid
from tui.widgets.latent_map import LatentMapView, Marker
from tui.widgets.picture import from_array, picture
from tui.widgets.probabilities import ProbabilityBars

DECODER = "vae-decoder"
CLASSIFIER = "cnn"


class LatentScreen(AppScreen, SavesPng):
    """Arrow keys walk the grid; the digit under the cursor is shown large with the CNN's verdict."""

    DEFAULT_CSS = """
    #latent-side { width: 44; }
    /* Sized from the picture (tui/widgets/halfcell.py), within these limits: square on screen. */
    #latent-digit {
        border-title-color: $foreground;
        width: auto;
        height: auto;
        max-width: 30;
        max-height: 15;
        border: round $secondary 50%;
    }
    #latent-head { height: auto; layout: vertical; }
    #latent-info { height: auto; padding: 1 1; }
    #latent-bars { border: round $accent 50%; border-title-color: $foreground; padding: 0 1; }

    /* Narrow (under 120 columns), large (180 and more), short (under 36 lines): tui/app.py's breakpoints. */
    LatentScreen.-narrow #latent-side { width: 32; }
    LatentScreen.-narrow #latent-digit { max-width: 24; max-height: 12; }
    LatentScreen.-large #latent-side { width: 32%; }
    LatentScreen.-large #latent-digit { max-width: 100%; max-height: 50%; }
    LatentScreen.-short #latent-head { layout: horizontal; }
    LatentScreen.-short #latent-digit { max-width: 14; max-height: 7; }
    LatentScreen.-short #latent-side { width: 36; }
    LatentScreen.-short #latent-info { width: 1fr; padding: 0 0 0 1; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("plus,equals_sign", "resize(1)", "n+1", tooltip="One more row and column", id="latent.more"),
        Binding("minus", "resize(-1)", "n-1", tooltip="One row and column fewer", id="latent.fewer"),
        Binding("s", "save", "Save PNG", tooltip="Save the grid as a PNG in the current folder", id="latent.save"),
        Binding("m", "toggle_map", "Map", tooltip="Show or hide the map of encoded test digits", id="latent.map"),
        Binding("a", "mark('A')", "Mark A", tooltip="Mark the cursor's point as A (to morph from)", id="latent.mark_a",
                show=False),
        Binding("b", "mark('B')", "Mark B", tooltip="Mark the cursor's point as B (to morph to)", id="latent.mark_b",
                show=False),
        Binding("i", "morph", "Morph", tooltip="Decode the points from A to B (marked with a and b), one after another",
                id="latent.morph"),
        Binding("I", "morph_images", "Morph images", tooltip="Morph from the Classify screen's image to your drawing",
                id="latent.morph_images", show=False),
    ]
    SAVED_TITLE = "grid saved"
    MORPH_STEPS = 12
    MORPH_INTERVAL = 0.25
    # + and - pressed closer together than this decode once, at the last size: a decode of 40x40
    # takes a second or more, and a thread cannot be stopped, so each press's decode held up quitting.
    RESIZE_DELAY = 0.2
    CHUNK = 256  # latent points per onnxruntime call: a cancelled decode stops within one call
    # Half-cells: the first grid has at most as many digits as keep this many picture pixels across
    # each (8 columns, 4 rows): 5x5 at 80x24, where 20x20 gave each digit two cells.
    READABLE_PIXELS = 8

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
    class MapLoaded(Message):
        """The latent map's scatter picture, or why there is none."""

        picture: np.ndarray | None
        error: str

    @dataclass
    class Encoded(Message):
        """Where the Classify screen's image and the drawing land: (name, z) each."""

        points: list[tuple[str, np.ndarray]]

    @dataclass
    class Morphed(Message):
        """The decoded digits along A-B, and the classifier's probabilities for each (if it has one)."""

        points: np.ndarray
        digits: np.ndarray
        probabilities: np.ndarray | None

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
        self.marks = LatentMarks()  # the map's job: A, B, the other screens' digits, the morph
        self._morph_timer: Timer | None = None
        self._resize_timer: Timer | None = None
        self._sized = False  # the first grid's n is chosen from the space it has
        self._first_decode: Timer | None = None  # waits for the grid's box to settle first

    def compose(self) -> ComposeResult:
        """The grid on the left, the chosen digit and its bars on the right."""
        yield Header()
        with Horizontal():
            yield LatentGrid(self.dl_app.graphics, id="latent-grid")
            yield LatentMapView(self.dl_app.graphics, id="latent-map")
            with VerticalScroll(id="latent-side"):
                # Stacked, or side by side on short terminals (app.tcss), so the bars stay in view.
                with Horizontal(id="latent-head"):
                    yield picture(self.dl_app.graphics, id="latent-digit")
                    yield Static("decoding…", id="latent-info")
                yield ProbabilityBars(id="latent-bars")
        yield Footer()

    @property
    def ends(self) -> dict[str, np.ndarray]:
        """A and B, the morph's ends."""
        return self.marks.ends

    @property
    def encoded(self) -> list[tuple[str, np.ndarray]]:
        """Where the Classify screen's image and the drawing land."""
        return self.marks.encoded

    @property
    def morph(self) -> Morph | None:
        """The morph played last."""
        return self.marks.morph

    @property
    def morph_step(self) -> int:
        """The morph's frame shown, or -1 when the grid's digit shows."""
        return self.marks.step

    def on_mount(self) -> None:
        """Keyboard focus on the grid, so the arrows move the cursor at once."""
        self.query_one("#latent-digit").border_title = "decoded digit"
        self.query_one(LatentGrid).focus()
        latent_map = self.query_one(LatentMapView)
        latent_map.border_title = "latent map: MNIST test digits"
        latent_map.display = False

    @on(ScreenResume)
    def _resumed(self) -> None:
        """Place the Classify screen's image and the drawing on the map."""
        self.encode_marks(dict(self.dl_app.latent_inputs))

    def models_changed(self) -> None:
        """Decode the grid again with the (new) decoder, and load the map made by the (new) encoder."""
        if self._sized:
            self.decode(self.n)
        else:
            self._sized = True
            self._first_decode = self.set_timer(self.RESIZE_DELAY / 2, self._when_laid_out)
        self.load_map()

    @on(LatentGrid.Resized)
    def _grid_resized(self) -> None:
        """The layout is still settling (the screen's size classes come after the first one): wait."""
        if self._first_decode is not None:
            self._first_decode.reset()

    def _when_laid_out(self) -> None:
        """Decode the first grid once the screen has its size classes (app.tcss: -narrow, -short),
        which come with its first Resize and change the grid's box, and that layout is done."""
        breakpoints = [name for _, name in (self.app.HORIZONTAL_BREAKPOINTS or [])]
        if breakpoints and not any(self.has_class(name) for name in breakpoints):
            self._first_decode = self.set_timer(self.RESIZE_DELAY / 4, self._when_laid_out)
            return
        self._first_decode = None
        self.refresh(layout=True)  # so that a refresh comes, and the callback after it
        self.call_after_refresh(self._decode_first)

    def _decode_first(self) -> None:
        """The first grid, at a size that reads well in the space it has."""
        self.n = self.readable_n()
        self.decode(self.n)

    def readable_n(self) -> int:
        """DEFAULT_N, or in half-cells as many digits a side as keep READABLE_PIXELS across each."""
        grid = self.query_one(LatentGrid)
        width, height = grid.content_size
        if not grid.coarse or not (width and height):
            return latent.DEFAULT_N
        # The grid is square: the columns and rows a square picture gets in this box, in these cells.
        columns, rows = fit(1, 1, width, height, grid.picture.cell_aspect())
        return latent.clamp_n(min(latent.DEFAULT_N, min(columns, 2 * rows) // self.READABLE_PIXELS))

    @work(thread=True, exclusive=True, group="latent-map", exit_on_error=False)
    def load_map(self) -> None:
        """Read the encoded test digits beside the encoder and draw the scatter once."""
        try:
            picture = latent.draw_map(latent.load_map(self.runtime.info(latent.ENCODER).path))
        except Exception as error:  # noqa: BLE001 - no encoder, no map, a map made by another encoder
            self.post_message(self.MapLoaded(None, one_line(error)))
            return
        self.post_message(self.MapLoaded(picture, ""))

    @on(MapLoaded)
    def _map_loaded(self, event: MapLoaded) -> None:
        """Show the scatter, or why there is none."""
        latent_map = self.query_one(LatentMapView)
        if event.picture is None:
            latent_map.show_error(event.error)
        else:
            latent_map.show_map(event.picture)
            self._show_markers()

    @work(thread=True, exclusive=True, group="latent-encode", exit_on_error=False)
    def encode_marks(self, inputs: dict[str, tuple[str, np.ndarray]]) -> None:
        """Encode the other screens' digits (one batch) to mark them on the map."""
        if not inputs:
            self.post_message(self.Encoded([]))
            return
        names = [name for name, _ in inputs.values()]
        try:
            means = latent.encode(self.runtime, np.stack([image for _, image in inputs.values()]))
        except Exception:  # noqa: BLE001 - no encoder: the map says why already
            return
        self.post_message(self.Encoded(list(zip(names, means, strict=False))))

    @on(Encoded)
    def _encoded(self, event: Encoded) -> None:
        """Mark where they land."""
        self.marks.encoded = event.points
        self._show_markers()

    def _show_markers(self) -> None:
        """The map's markers: the other screens' digits, A and B, and the cursor (or the morph) on top."""
        markers = [Marker(z, rgb, label) for z, rgb, label in self.marks.markers()]
        here = self._here()
        if here is not None:
            markers.append(Marker(tuple(map(float, here)), latent.CURSOR_RGB, "decoded digit"))
        self.query_one(LatentMapView).show_markers(markers, self.marks.segment())

    def _here(self) -> np.ndarray | None:
        """The latent point of the digit shown large: the morph's frame, else the grid's cursor."""
        playing = self.marks.playing()
        if playing is not None:
            return playing
        if self.grid is None:
            return None
        row, col = self.query_one(LatentGrid).cursor
        if row >= self.grid.n or col >= self.grid.n:
            return None
        return self.grid.points[row * self.grid.n + col]

    def action_toggle_map(self) -> None:
        """Show or hide the map beside the grid."""
        latent_map = self.query_one(LatentMapView)
        latent_map.display = not latent_map.display

    def action_mark(self, end: str) -> None:
        """Mark the cursor's latent point as one end of the interpolation."""
        here = self._here()
        if here is None:
            return
        other = self.marks.mark(end, here)
        self._show_markers()
        if other:
            self.notify(f"{end} marked: mark {other} too, then i morphs between them")

    @on(LatentMapView.Clicked)
    def _map_clicked(self, event: LatentMapView.Clicked) -> None:
        """A click on the map marks A, then B, then A again: two points to morph between."""
        self.marks.click(event.z)
        self._show_markers()

    def action_morph_images(self) -> None:
        """Morph from the Classify screen's image to the drawing (the two images the map marks)."""
        if not self.marks.ends_from_images():
            self.notify("needs an image on the Classify screen (1) and a drawing (5)", severity="warning")
            return
        self.query_one(LatentMapView).display = True
        self.action_morph()

    def action_morph(self) -> None:
        """Decode the segment from A to B and show its digits one after another."""
        segment = self.marks.segment()
        if segment is None:
            self.notify("mark A and B first (a and b on the grid, or two clicks on the map)", severity="warning")
            return
        self.decode_morph(*segment)

    @work(thread=True, exclusive=True, group="latent-morph", exit_on_error=False)
    def decode_morph(self, a: np.ndarray, b: np.ndarray) -> None:
        """Decode MORPH_STEPS points from A to B in one batch, and classify them in one more."""
        runtime = self.runtime
        points = latent.segment(a, b, self.MORPH_STEPS)
        try:
            input_name = runtime.info(DECODER).inputs[0][0]
            logits = next(iter(runtime.run(DECODER, {input_name: points}).values()))
            digits = latent.sigmoid(logits).reshape(len(points), latent.DIGIT, latent.DIGIT)
        except Exception as error:  # noqa: BLE001 (any decoder failure is shown as a line)
            self.post_message(self.Failed(one_line(error) or type(error).__name__))
            return
        try:
            probabilities = runtime.predict(CLASSIFIER, digits)
        except Exception:  # noqa: BLE001 - the morph is still worth seeing without the CNN
            probabilities = None
        self.post_message(self.Morphed(points, digits, probabilities))

    @on(Morphed)
    def _morphed(self, event: Morphed) -> None:
        """Play the frames."""
        self.marks.play(Morph(event.points, event.digits, event.probabilities))
        if self._morph_timer is not None:
            self._morph_timer.stop()
        self._morph_timer = self.set_interval(self.MORPH_INTERVAL, self._next_frame)
        self._next_frame()

    def _next_frame(self) -> None:
        """Show the next decoded digit along A-B; stop at B."""
        morph, step = self.marks.morph, self.marks.advance()
        if morph is None or step is None:
            if morph is not None and self._morph_timer is not None:
                self._morph_timer.stop()
            return
        z = morph.points[step]
        self.query_one("#latent-digit").image = from_array(morph.digits[step])
        lines: list[str | Text] = [f"z = ({z[0]:+.3f}, {z[1]:+.3f})", f"A → B: step {step + 1} of {len(morph.points)}"]
        bars = self.query_one("#latent-bars", ProbabilityBars)
        if morph.probabilities is not None and self.grid is not None:
            probabilities = morph.probabilities[step]
            top = int(np.argmax(probabilities))
            label = self.grid.labels[top] if top < len(self.grid.labels) else str(top)
            lines.append(Text.assemble(f"{CLASSIFIER} says ", plain(label, "bold"),
                                       f" ({probabilities[top] * 100:.1f}%)"))
            bars.show(self.grid.labels, probabilities)
        self.query_one("#latent-info", Static).update(_joined(lines))
        self._show_markers()

    @work(thread=True, exclusive=True, group="latent", exit_on_error=False)
    def decode(self, n: int) -> None:
        """Decode all n*n latent points, then classify every cell, CHUNK points a call; a decode
        cancelled (by a newer one, or by quitting) stops after the call under way."""
        runtime = self.runtime
        worker = get_current_worker()

        def in_chunks(run, items: np.ndarray) -> np.ndarray | None:
            parts = []
            for start in range(0, len(items), self.CHUNK):
                if worker.is_cancelled:
                    return None
                parts.append(run(items[start:start + self.CHUNK]))
            return np.concatenate(parts)

        try:
            input_name = runtime.info(DECODER).inputs[0][0]
            points = latent.grid_points(n)
            logits = in_chunks(lambda part: next(iter(runtime.run(DECODER, {input_name: part}).values())), points)
            if logits is None:
                return
            digits = latent.to_digits(logits, n)
        except Exception as error:  # noqa: BLE001 - a missing or broken decoder: say so where the grid goes
            self.post_message(self.Failed(one_line(error) or type(error).__name__))
            return
        probabilities, labels, note = None, [], ""
        try:
            probabilities = in_chunks(lambda part: runtime.predict(CLASSIFIER, part),
                                      digits.reshape(n * n, latent.DIGIT, latent.DIGIT))
            if probabilities is None:
                return
            labels = runtime.info(CLASSIFIER).labels
        except Exception as error:  # noqa: BLE001 - the grid is still worth seeing without the CNN
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
        self.query_one("#latent-info", Static).update(Text.assemble(("no latent grid", "bold"), "\n",
                                                                     plain(event.error)))
        self.refresh_bindings()
        if self._save_pending:
            self._save_pending = False
            self.notify(clean(event.error), title="not saved: no latent grid", severity="error", markup=False)

    @on(LatentGrid.CursorMoved)
    def _cursor_moved(self, event: LatentGrid.CursorMoved) -> None:
        """Show the digit under the cursor, its latent point and the CNN's probabilities."""
        if self.grid is None or event.row >= self.grid.n or event.col >= self.grid.n:
            return
        self.marks.stop()  # back to the grid's digit
        if self._morph_timer is not None:
            self._morph_timer.stop()
        index = event.row * self.grid.n + event.col
        x, y = self.grid.points[index]
        self.query_one("#latent-digit").image = from_array(self.grid.digits[event.row, event.col])
        lines: list[str | Text] = [f"z = ({x:+.3f}, {y:+.3f})", f"row {event.row + 1}, column {event.col + 1} of {self.grid.n}"]
        bars = self.query_one("#latent-bars", ProbabilityBars)
        if self.grid.probabilities is not None:
            probabilities = self.grid.probabilities[index]
            top = int(np.argmax(probabilities))
            label = self.grid.labels[top] if top < len(self.grid.labels) else str(top)
            lines.append(Text.assemble(f"{CLASSIFIER} says ", plain(label, "bold"),
                                       f" ({probabilities[top] * 100:.1f}%)"))
            bars.show(self.grid.labels, probabilities)
        else:
            bars.show_error(self.grid.note or f"no {CLASSIFIER} model")
        if self.grid.n > 12 and self.query_one(LatentGrid).coarse:
            # Half-cells give a 28x28 digit about four cells at n=20: say how to see them.
            lines.append(Text("tip: - shows fewer, larger digits", style="dim"))
        self.query_one("#latent-info", Static).update(_joined(lines))
        self._show_markers()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Nothing to resize or save without a decoder."""
        if action in ("resize", "save", "mark", "morph") and self.error:
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
        if self._resize_timer is not None:
            self._resize_timer.stop()
        self._resize_timer = self.set_timer(self.RESIZE_DELAY, lambda: self.decode(self.n))

    def action_save(self) -> None:
        """Save the grid (without the cursor) as a PNG, now or as soon as it is decoded."""
        if self.grid is None or self.grid.n != self.n:
            self._save_pending = True
            self.notify("the grid is still decoding: it will be saved when it is ready")
            return
        n = self.grid.n
        self.save_png(self.grid.tiles, self.dl_app.save_dir, f"latent-grid-{n}x{n}")  # -1.png, -2.png, ...


def _joined(lines: list[str | Text]) -> Text:
    """Lines as one Text: model labels inside stay as written, never read as markup."""
    return Text("\n").join(line if isinstance(line, Text) else Text(line) for line in lines)
