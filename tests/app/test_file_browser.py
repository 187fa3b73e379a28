"""The image browser lists folders and images, hides what a user never wants to open, goes up a folder,
filters by name and shows long names cut with an ellipsis."""

from __future__ import annotations

from pathlib import Path

from app_helpers import screen_lines, wait_for
from rich.text import Text
from textual.app import App, ComposeResult

from tui.widgets.file_browser import ImageTree, first_image, shorten


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


class RootedApp(App[None]):
    """The tree as the Classify screen has it: a border, a fixed width, the cursor on a start file."""

    CSS = "#browser { width: 30; border: round $primary; }"

    def __init__(self, folder: Path, select: Path | None = None) -> None:
        super().__init__()
        self.folder, self.select = folder, select

    def compose(self) -> ComposeResult:
        yield ImageTree(self.folder, select=self.select, id="browser")


def names(tree: ImageTree) -> list[str]:
    """The names under the tree's root, in order."""
    return [node.data.path.name for node in tree.root.children]


def tree_lines(app: App) -> list[str]:
    """The tree's rows as the terminal shows them, borders included."""
    return screen_lines(app)


async def test_backspace_goes_up_to_the_parent_folder_with_the_cursor_on_the_one_left(tmp_path: Path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"")
    (tmp_path / "up.png").write_bytes(b"")
    app = RootedApp(tmp_path / "images", select=tmp_path / "images" / "a.png")
    async with app.run_test(size=(60, 12)) as pilot:
        tree = app.query_one(ImageTree)
        await wait_for(pilot, lambda: names(tree) == ["a.png"] and tree.cursor_line == 1)
        await pilot.press("backspace")
        await wait_for(pilot, lambda: names(tree) == ["images", "up.png"])
        await wait_for(pilot, lambda: tree.cursor_node is not None and tree.cursor_node.data.path.name == "images")
        assert tree.path == tmp_path
        assert "⌫ up" in str(tree.border_subtitle)  # the key is on screen, not only in the help


async def test_slash_filters_the_file_names_as_you_type_and_escape_clears_it(tmp_path: Path):
    for name in ("cat-1.png", "dog-1.png", "DOG-2.png", "quail.png"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    app = RootedApp(tmp_path)
    async with app.run_test(size=(60, 12)) as pilot:
        tree = app.query_one(ImageTree)
        await wait_for(pilot, lambda: len(names(tree)) == 5)
        await pilot.press("slash", "d", "o", "g")
        await wait_for(pilot, lambda: names(tree) == ["sub", "dog-1.png", "DOG-2.png"])  # any case; folders stay
        await wait_for(pilot, lambda: tree.cursor_node.data.path.name == "dog-1.png")  # the first match is open
        assert "/dog" in str(tree.border_subtitle)
        await pilot.press("backspace", "backspace", "backspace", "q")  # keys that mean something else
        await wait_for(pilot, lambda: names(tree) == ["sub", "quail.png"])
        assert app.is_running and tree.path == tmp_path  # q typed, not quit; backspace edited, not went up
        await pilot.press("enter")
        assert "filter: q" in str(tree.border_subtitle)
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(names(tree)) == 5)
        assert tree.filter == ""


async def test_a_long_name_is_cut_in_the_middle_keeping_its_ending_and_w_widens_the_tree(tmp_path: Path):
    long_name = "a_really_long_file_name_that_goes_on_and_on-2024-01-01.png"
    (tmp_path / long_name).write_bytes(b"")
    (tmp_path / "b.png").write_bytes(b"")
    app = RootedApp(tmp_path)
    async with app.run_test(size=(140, 12)) as pilot:
        tree = app.query_one(ImageTree)
        await wait_for(pilot, lambda: any("a_really" in line for line in tree_lines(app)))
        row = next(line for line in tree_lines(app) if "a_really" in line)
        assert "…" in row and "01.png│" in row  # cut where it shows, its extension kept
        assert tree.max_scroll_x == 0  # no sideways scrolling to find the rest
        assert "w wider" in str(tree.border_subtitle)
        await pilot.press("w")
        await wait_for(pilot, lambda: any(long_name in line for line in tree_lines(app)))
        await pilot.press("w")
        await wait_for(pilot, lambda: tree.outer_size.width == 30)


def test_shorten_keeps_the_icon_and_the_ending():
    text = Text("📄 " + "x" * 40 + ".png", style="bold")
    short = shorten(text, 20, keep=1)
    assert short.cell_len <= 20
    assert short.plain.startswith("📄 x") and short.plain.endswith(".png") and "…" in short.plain
    assert shorten(Text("📄 b.png"), 20, keep=1).plain == "📄 b.png"


async def test_on_the_classify_screen_the_filter_takes_the_screens_letters_and_backspace_goes_up(make_app, images):
    """In the app, c and q typed into the filter are letters (not Compare, not Quit); Backspace goes up."""
    (images / "cq-7.png").write_bytes((images / "digit-0.png").read_bytes())
    app = make_app(start=images)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        tree = screen.query_one(ImageTree)
        await wait_for(pilot, lambda: len(tree.root.children) == 6 and screen.models)
        model = screen.model
        await pilot.press("slash", "c", "q")
        await wait_for(pilot, lambda: names(tree) == ["cq-7.png"])
        await wait_for(pilot, lambda: screen.current is not None and screen.current.name == "cq-7.png")
        assert app.is_running and screen.model == model
        await pilot.press("escape", "backspace")
        await wait_for(pilot, lambda: "images" in names(tree))
        assert tree.path == images.parent


async def test_the_up_hint_in_the_border_is_a_button_for_the_mouse(tmp_path: Path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"")
    app = RootedApp(tmp_path / "images")
    async with app.run_test(size=(60, 12)) as pilot:
        tree = app.query_one(ImageTree)
        await wait_for(pilot, lambda: names(tree) == ["a.png"] and any("⌫ up" in line for line in tree_lines(app)))
        y, row = next((y, line) for y, line in enumerate(tree_lines(app)) if "⌫ up" in line)
        await pilot.click(offset=(row.index("⌫") + 1, y))
        await wait_for(pilot, lambda: names(tree) == ["images"])
        assert tree.path == tmp_path


async def test_filtering_and_going_up_stay_quick_in_a_folder_of_20000_files(tmp_path: Path):
    """Textual empties a tree node one child at a time, each searching the list: 20 s for 20,000 files.

    Each step has a one-minute guard against a hang; how quick it is, beside a folder of 2,000,
    is measured by bench/bench_app_timing.py (about 1 s here; 40 s before the fix)."""
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(20_000):
        (folder / f"img-{index:05d}.png").touch()
    app = RootedApp(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        tree = app.query_one(ImageTree)
        await wait_for(pilot, lambda: len(tree.root.children) == 20_000, timeout=60)
        await pilot.press("slash", "1", "2", "3", "4")
        await wait_for(pilot, lambda: len(tree.root.children) == 12, timeout=60)  # ?1234 and 1234?
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(tree.root.children) == 20_000, timeout=60)
        await pilot.press("backspace")
        await wait_for(pilot, lambda: names(tree) == ["many"], timeout=60)
