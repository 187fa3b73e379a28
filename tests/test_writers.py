"""The classify writers write to the stream they are given (issue 19, section 5): a
test's io.StringIO, a file, or stdout through `Lines.stdout()`; pipes get whole lines."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

import numpy as np

from tui.classify.rows import classified, failed
from tui.classify.writers import CsvWriter, JsonlWriter, Lines, TableWriter

ROWS = [
    [classified(Path("a/one.png"), "cnn", ["0", "1"], np.array([0.25, 0.75])),
     classified(Path("a/one.png"), "iris", ["0", "1"], np.array([0.9, 0.1]),
                {"score": 1.5, "flagged": True})],
    [failed(Path("=bad.png"), "cnn", "cannot decode: x"),
     failed(Path("=bad.png"), "iris", "cannot decode: x")],
]


def test_jsonl_writes_into_the_stream_it_is_given(capsys):
    buffer = io.StringIO()
    JsonlWriter(Lines(buffer)).write(ROWS)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert [(line["path"], line["model"], line["label"]) for line in lines] == [
        ("a/one.png", "cnn", "1"), ("a/one.png", "iris", "0"),
        ("=bad.png", "cnn", None), ("=bad.png", "iris", None)]
    assert lines[1]["ood"] == {"score": 1.5, "flagged": True}
    assert lines[2]["error"] == "cannot decode: x"
    assert capsys.readouterr().out == ""  # nothing went to stdout


def test_csv_writes_its_header_once_into_the_stream(capsys):
    buffer = io.StringIO()
    writer = CsvWriter(Lines(buffer), ["0", "1"], top=None)
    writer.write(ROWS[:1])
    writer.write(ROWS[1:])
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert rows[0][:5] == ["path", "model", "label", "confidence", "error"]
    assert [row[0] for row in rows[1:]] == ["a/one.png", "a/one.png", "'=bad.png", "'=bad.png"]
    assert rows[2][5:7] == ["1.5", "true"] and rows[2][7:] == ["0.9", "0.1"]
    assert capsys.readouterr().out == ""


def test_table_writes_into_the_stream(capsys):
    buffer = io.StringIO()
    TableWriter(Lines(buffer), ["cnn", "iris"], ["0", "1"], top=None).write(ROWS)
    text = buffer.getvalue()
    assert text.splitlines()[0].split() == ["file", "cnn", "iris"]
    assert "a/one.png" in text and "75.0%" in text and "90.0%" in text and " ?" in text
    assert "error: cannot decode: x" in text
    assert capsys.readouterr().out == ""


def test_stdout_lines_follow_sys_stdout_as_it_is_at_each_write(monkeypatch):
    out = Lines.stdout()
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", first)
    out.write_lines("one\n")
    monkeypatch.setattr(sys, "stdout", second)  # as a live progress display wraps it
    out.write_lines("two\n")
    assert (first.getvalue(), second.getvalue()) == ("one\n", "two\n")


def test_a_file_stream_gets_the_lines_through_its_descriptor(tmp_path):
    path = tmp_path / "out.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        stream.write("first\n")  # buffered in the stream: it must go out before the rows
        JsonlWriter(Lines(stream)).write(ROWS[:1])
        assert path.read_text().count("\n") == 3  # written without closing the stream
    assert path.read_text().splitlines()[0] == "first"


def test_a_pipe_gets_whole_lines_of_at_most_pipe_buf(monkeypatch):
    from tui import streams

    read, write = os.pipe()
    writes: list[int] = []
    real_write = os.write

    def counting(fd: int, data) -> int:
        n = real_write(fd, data)
        writes.append(n)
        return n

    monkeypatch.setattr(streams.os, "write", counting)
    try:
        with os.fdopen(write, "w", encoding="utf-8", closefd=False) as stream:
            rows = ROWS * 40  # more than PIPE_BUF bytes in one batch
            JsonlWriter(Lines(stream)).write(rows)
        data = os.read(read, 1 << 20)
    finally:
        os.close(read)
        os.close(write)
    assert len(writes) > 1 and all(n <= streams.PIPE_BUF for n in writes)
    assert data.endswith(b"\n") and len(data.splitlines()) == 4 * 40
