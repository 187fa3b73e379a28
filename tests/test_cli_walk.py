"""`dl-tui classify -r`: which folders are walked. Links to folders are not followed
unless --follow (as ripgrep and fd do); a linked file inside the tree is classified."""

from __future__ import annotations

import json
from pathlib import Path

import onnx_models
import pytest
from click.testing import CliRunner
from PIL import Image

from tui.classify import app as classify_app
from tui.classify.sources import count_files, iter_files

runner = CliRunner()


def classify(models: Path, *args: object) -> tuple[int, list[dict], str]:
    result = runner.invoke(classify_app, ["--models", str(models), "--workers", "1", "-f", "jsonl",
                                          *map(str, args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()], result.stderr


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tree/a.png, tree/sub/b.png; outside/c.png (linked to as tree/out, a folder) and
    outside/d.png (linked to as tree/d-link.png, a file); tree/loop links to tree."""
    digit = Image.fromarray(onnx_models.mnist_sample()[0][0])
    top, sub, outside = tmp_path / "tree", tmp_path / "tree" / "sub", tmp_path / "outside"
    for folder in (top, sub, outside):
        folder.mkdir()
    digit.save(top / "a.png")
    digit.save(sub / "b.png")
    digit.save(outside / "c.png")
    digit.save(outside / "d.png")
    (top / "out").symlink_to(outside, target_is_directory=True)
    (top / "d-link.png").symlink_to(outside / "d.png")
    (top / "loop").symlink_to(top, target_is_directory=True)
    return top


def names(rows: list[dict], top: Path) -> list[str]:
    return [str(Path(row["path"]).relative_to(top)) for row in rows]


def test_r_does_not_follow_links_to_folders_but_takes_linked_files(tiny_models, tree):
    code, rows, err = classify(tiny_models, tree, "-r")
    assert code == 0, err
    assert names(rows, tree) == ["a.png", "d-link.png", "sub/b.png"]


def test_follow_walks_links_to_folders_and_each_folder_once(tiny_models, tree):
    code, rows, err = classify(tiny_models, tree, "-r", "--follow")
    assert code == 0, err
    assert names(rows, tree) == ["a.png", "d-link.png", "out/c.png", "out/d.png", "sub/b.png"]


def test_a_link_given_by_name_is_walked(tiny_models, tree):
    code, rows, _ = classify(tiny_models, tree / "out", "-r")
    assert code == 0 and [Path(row["path"]).name for row in rows] == ["c.png", "d.png"]


def test_the_walk_and_the_count_agree(tree):
    for follow in (False, True):
        listed = list(iter_files([tree], recursive=True, follow=follow))
        assert count_files([tree], recursive=True, follow=follow) == len(listed) == (5 if follow else 3)


def test_a_link_to_proc_is_not_walked(tiny_models, tree):
    (tree / "proc").symlink_to("/proc", target_is_directory=True)
    code, rows, _ = classify(tiny_models, tree, "-r")
    assert code == 0 and len(rows) == 3


def test_help_names_follow():
    text = runner.invoke(classify_app, ["--help"]).stdout
    assert "--follow" in text and "symbolic links" in " ".join(text.split())


def test_the_trainers_fonts_walk_keeps_the_same_rule(tmp_path):
    """`dl-train cnn --fonts DIR` is the other walk over folders: links to folders stay out."""
    from trainer.outliers import fonts_in

    (tmp_path / "fonts").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "fonts" / "a.ttf").write_bytes(b"")
    (tmp_path / "elsewhere" / "b.ttf").write_bytes(b"")
    (tmp_path / "fonts" / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert [p.name for p in fonts_in(tmp_path / "fonts")] == ["a.ttf"]
