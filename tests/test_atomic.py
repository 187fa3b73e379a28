"""tui.atomic: the one way files are replaced whole, for the trainer and dl-tui (issue 19, section 5)."""

from __future__ import annotations

import os
import stat

import pytest

from tui.atomic import atomic_path, atomic_write


def test_atomic_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "sub" / "model.onnx"  # the folder is made
    atomic_write(path, b"old")
    atomic_write(path, b"new bytes")
    assert path.read_bytes() == b"new bytes"
    atomic_write(path, "text ü\n")
    assert path.read_text(encoding="utf-8") == "text ü\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.onnx"]  # no temporary left


def test_the_temporary_file_is_beside_the_target_and_hidden(tmp_path):
    path = tmp_path / "rows.csv"
    with atomic_path(path, suffix=".weights.h5") as temporary:
        assert temporary.parent == tmp_path
        assert temporary.name.startswith(".rows.csv.") and temporary.name.endswith(".weights.h5")
        temporary.write_text("x")
        assert not path.exists()  # nothing at the target until the block ends
    assert path.read_text() == "x" and not temporary.exists()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "rows.jsonl"
    atomic_write(path, "old\n")
    with pytest.raises(RuntimeError, match="half way"), atomic_path(path) as temporary:
        temporary.write_text("half")
        raise RuntimeError("half way")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"]


def test_the_new_file_is_readable_as_the_umask_allows(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o644  # not mkstemp's 0o600


def test_a_folder_that_cannot_be_written_raises_oserror(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            atomic_write(tmp_path / "a", b"x")
    finally:
        tmp_path.chmod(0o700)
