"""The benchmark suite's own arithmetic (bench/run.py, bench/flops.py): no timings asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

pytest.importorskip("onnx")
import flops  # noqa: E402
import run  # noqa: E402

SHIPPED = BENCH.parent / "exported"


def test_cnn_flops_match_the_architecture():
    # conv 5x5: 28x28x16 (cin 1), 14x14x32 (16), 7x7x64 (32), 4x4x128 (64); dense 512-128-10
    expected = 2 * (28 * 28 * 16 * 25 * 1 + 14 * 14 * 32 * 25 * 16 + 7 * 7 * 64 * 25 * 32
                    + 4 * 4 * 128 * 25 * 64 + 512 * 128 + 128 * 10)
    # plus any small head beside the classifier (the OOD score: a few hundred multiply-adds)
    assert expected <= flops.flops_per_item(SHIPPED / "cnn.onnx") <= expected * 1.001


def test_decoder_flops_count_the_transposed_convolutions():
    # dense 2->1568; ConvTranspose 7x7x32 -> 128, 14x14x128 -> 64, 28x28x64 -> 1 (3x3 each, per input pixel)
    expected = 2 * (2 * 1568 + 7 * 7 * 32 * 128 * 9 + 14 * 14 * 128 * 64 * 9 + 28 * 28 * 64 * 1 * 9)
    assert flops.flops_per_item(SHIPPED / "vae-decoder.onnx") == expected


def test_interleaved_times_every_call_in_turns():
    order: list[str] = []
    medians = run.interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, rounds=2, number=3)
    assert set(medians) == {"a", "b"} and all(v >= 0 for v in medians.values())
    timed = order[6:]  # after three warm-up calls each
    assert timed == ["a"] * 4 + ["b"] * 4 + ["a"] * 4 + ["b"] * 4  # one settling call, then three timed


def test_table_shows_ratios_targets_and_skips(monkeypatch):
    monkeypatch.setattr(run, "ROWS", [])
    run.row("1. CNN", "int8 vs tf.function", 2.0, 6.0, "ms", target=">= 1.5x", met=True)
    run.row("4. cold start", "first paint", float("nan"), None, "s", note="tmux absent: skipped")
    run.row("3. classify", "ours / minimal", 0.9, None, "x its time", target="<= 0.8x", met=False)
    text = run.table()
    assert "| 1. CNN | int8 vs tf.function | 2 ms | 6 | 3.00x | >= 1.5x | yes |" in text
    assert "skipped" in text and "**no**" in text
    assert run.ROWS[0]["ratio"] == 3.0
