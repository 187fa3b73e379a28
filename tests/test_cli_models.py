"""`dl-tui models`: the models table, tab-separated for scripts; exit codes."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

import onnx_models
from tui.cli import MODEL_COLUMNS, models_app

runner = CliRunner()


def listing(*args: object, **env: str | None) -> tuple[int, list[list[str]], str]:
    """Exit code, the rows split at tabs (CliRunner's stdout is no terminal), stderr."""
    result = runner.invoke(models_app, [str(a) for a in args], env=env)
    return result.exit_code, [line.split("\t") for line in result.stdout.splitlines()], result.stderr


def test_every_model_with_signature_metrics_and_source(tiny_models):
    code, rows, err = listing("--models", tiny_models)
    assert (code, err) == (0, "")
    assert rows[0] == list(MODEL_COLUMNS)
    by_name = {row[0]: row for row in rows[1:]}
    assert list(by_name) == ["cnn", "cnn-invert", "iris", "vae-classifier", "vae-decoder", "vae-encoder"]
    _, task, inputs, outputs, metrics, source = by_name["cnn"]
    assert task == "classification" and inputs.startswith("image [") and outputs.startswith("probabilities [")
    assert metrics == "acc 75.00%" and source == "user"  # --models is where new models go
    assert by_name["vae-decoder"][4] == "ELBO -160.5"


def test_own_models_hide_shipped_ones_of_the_same_name(tiny_models, tmp_path):
    own = tmp_path / "data" / "models"
    own.mkdir(parents=True)
    shutil.copy(tiny_models / "cnn.onnx", own)
    code, rows, _ = listing(DL_TUI_DATA=str(tmp_path / "data"), DL_TUI_MODELS=None)
    sources = {row[0]: row[5] for row in rows[1:]}
    assert code == 0 and [row[0] for row in rows[1:]].count("cnn") == 1
    assert sources["cnn"] == "user" and sources["cnn-invert"] == "shipped"


def test_a_broken_model_is_a_row_and_exit_1(tiny_models):
    (tiny_models / "broken.onnx").write_bytes(b"garbage")
    onnx_models.build("cnn", tiny_models, filename="evil\x1b[2J")
    code, rows, _ = listing("--models", tiny_models)
    broken = next(row for row in rows if row[0] == "broken")
    assert code == 1 and broken[1].startswith("error: cannot load model")
    assert any(row[0] == "evil\\x1b[2J" for row in rows)


@pytest.mark.parametrize(("folder", "message"), [
    ("nowhere", "no models folder"),
    ("empty", "no models in"),
])
def test_no_models_is_one_line_and_exit_2(tmp_path, folder, message):
    (tmp_path / "empty").mkdir()
    code, rows, err = listing("--models", tmp_path / folder)
    assert code == 2 and rows == []
    assert err.startswith(f"dl-tui models: error: {message} {tmp_path / folder}") and len(err.splitlines()) == 1
