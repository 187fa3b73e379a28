"""tui/contract.py as the one definition both sides use: the int8 bar, the twin's file name, the
latent-map format and the typed progress events (their JSON is the wire format of today)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tui import contract
from tui.contract import (
    Batch,
    ContractError,
    Done,
    EpochEnd,
    EpochStart,
    Error,
    Export,
    Start,
    event_from_json,
    meets_bar,
)

ROOT = Path(__file__).resolve().parent.parent


def test_the_contract_imports_no_tensorflow_textual_onnx_or_numpy():
    code = ("import sys, tui.contract\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'keras', 'textual', 'onnx', 'onnxruntime', 'numpy', 'trainer')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_trainer_and_the_runtime_use_the_contracts_bar():
    pytest.importorskip("onnx")
    from trainer import quantize
    from tui.runtime import info

    assert quantize.meets_bar is meets_bar and info.meets_bar is meets_bar
    assert quantize.BARS is contract.INT8_BARS is info.BARS


def test_the_bar_compares_only_top_level_accuracies_and_elbos():
    # A nested value, a string or another figure beside the accuracies is left alone (the
    # trainer's old bar raised TypeError on it, the runtime's said no to the whole twin).
    ours = {"test_accuracy": 0.9905, "ood": {"auroc": 0.5}, "note": "x", "seconds": 99.0}
    floats = {"test_accuracy": 0.9910, "ood": {"auroc": 0.99}, "note": "y", "seconds": 1.0}
    assert meets_bar(ours, floats)
    assert not meets_bar({**ours, "test_accuracy": 0.9890}, floats)  # 0.2 points lost
    assert meets_bar({"test_elbo": -156.0}, {"test_elbo": -155.6})  # 0.4 nats
    assert not meets_bar({"test_elbo": -156.2}, {"test_elbo": -155.6})
    assert meets_bar({"test_accuracy": 0.999}, {"test_accuracy": 0.9})  # better is fine


@pytest.mark.parametrize("ours, floats", [
    ({}, {}),  # nothing to compare
    ({"loss": 0.1}, {"loss": 0.1}),  # no accuracy or ELBO
    ({"test_accuracy": "0.99"}, {"test_accuracy": 0.99}),  # a string is no figure
    ({"test_accuracy": True}, {"test_accuracy": 1.0}),
    ({"test_accuracy": float("nan")}, {"test_accuracy": 0.99}),
    ({"test_accuracy": 0.99}, {"test_accuracy": float("nan")}),
    ({"test_accuracy": {"a": 1}}, {"test_accuracy": {"a": 1}}),
    ([], {}), (None, None),
])
def test_the_bar_says_no_and_never_raises_on_odd_metrics(ours, floats):
    assert meets_bar(ours, floats) is False


def test_the_shipped_twins_meet_the_bar_they_were_written_by():
    ort = pytest.importorskip("onnxruntime")
    for twin in sorted((ROOT / "exported").glob("*" + contract.INT8_SUFFIX)):
        meta = ort.InferenceSession(str(twin), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
        assert meta[contract.PRECISION] == contract.INT8
        assert meets_bar(json.loads(meta[contract.METRICS]), json.loads(meta[contract.FLOAT_METRICS])), twin.name


def test_one_int8_suffix_for_files_and_model_names():
    assert contract.int8_name("cnn") == contract.int8_name("cnn.onnx") == "cnn.int8.onnx"
    assert contract.float_model_of("cnn.int8.onnx") == contract.float_model_of("cnn.onnx") == "cnn"
    assert contract.is_int8_file("vae-decoder.int8.onnx") and not contract.is_int8_file("vae-decoder.onnx")
    assert "cnn" + contract.INT8_MODEL_SUFFIX + contract.ONNX_SUFFIX == "cnn.int8.onnx"


def test_the_latent_map_round_trips_in_its_format(tmp_path):
    path = tmp_path / contract.LATENT_MAP_FILE
    means = np.random.default_rng(0).normal(size=(50, 2))
    contract.write_latent_map(path, means, np.arange(50) % 10, "ab" * 32)
    with np.load(path) as data:
        assert sorted(data.files) == sorted([contract.LATENT_MEAN, contract.LATENT_LABEL, contract.LATENT_ENCODER_SHA256])
        assert data[contract.LATENT_MEAN].dtype == np.float16 and data[contract.LATENT_LABEL].dtype == np.uint8
    got_means, got_labels, sha = contract.read_latent_map(path)
    assert got_means.dtype == np.float32 and got_means.shape == (50, 2)
    assert np.allclose(got_means, means, atol=1e-2) and list(got_labels) == [i % 10 for i in range(50)]
    assert sha == "ab" * 32


def test_a_latent_map_of_another_shape_or_no_map_is_one_line(tmp_path):
    with pytest.raises(ContractError, match=r"should hold means \[N, 2\] and N labels"):
        contract.write_latent_map(tmp_path / "m.npz", np.zeros((5, 3)), np.zeros(5), "x")
    bad = tmp_path / contract.LATENT_MAP_FILE
    np.savez_compressed(bad, mean=np.zeros((5, 3), np.float16), label=np.zeros(5, np.uint8), encoder_sha256=np.array("x"))
    with pytest.raises(ContractError, match=r"vae-latent-map.npz should hold means \[N, 2\] and N labels"):
        contract.read_latent_map(bad)
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ContractError, match=r"cannot read vae-latent-map\.npz: ") as error:
        contract.read_latent_map(bad)
    assert "\n" not in str(error.value)


# The lines dl-train wrote before the events were typed (docs/model-contract.md): the same bytes now.
WIRE = [
    '{"event":"start","model":"cnn","epochs":10,"batch_size":128,"steps":586,"train_size":75000,"config":{"seed":42}}',
    '{"event":"epoch_start","model":"cnn","epoch":1,"epochs":10}',
    '{"event":"batch","model":"cnn","epoch":1,"step":5,"steps":586,"loss":0.5,"metrics":{"accuracy":0.9}}',
    ('{"event":"epoch_end","model":"cnn","epoch":1,"epochs":10,"loss":0.1,"metrics":{"accuracy":0.97},'
     '"val_metrics":{"loss":0.05,"accuracy":0.98},"seconds":41.2}'),
    '{"event":"export","model":"cnn","path":"exported/cnn.onnx","parity":3.1e-07}',
    '{"event":"done","model":"cnn","metrics":{"test_accuracy":0.99},"seconds":400.1}',
    '{"event":"error","message":"interrupted; run the same command again to resume from the last finished epoch"}',
]
KINDS = [Start, EpochStart, Batch, EpochEnd, Export, Done, Error]


@pytest.mark.parametrize("line, kind", zip(WIRE, KINDS, strict=False))
def test_each_event_reads_and_writes_todays_wire_format(line, kind):
    event = event_from_json(line)
    assert type(event) is kind and kind.from_json(line) == event
    assert event.to_json() == line


def test_a_reader_ignores_unknown_keys_and_defaults_missing_ones():
    event = event_from_json('{"event":"batch","model":"iris","step":2,"new_key":[1]}')
    assert event == Batch(model="iris", step=2)
    assert event.metrics == {} and event.loss is None


@pytest.mark.parametrize("line", ["not json", "[1, 2]", '{"event": "lunch"}', '{"no": "event"}', '{"event": 3}', "[" * 100_000])
def test_a_line_that_is_no_event_is_a_contract_error(line):
    with pytest.raises(ContractError):
        event_from_json(line)


def test_from_json_of_one_kind_refuses_another():
    with pytest.raises(ContractError):
        Done.from_json(WIRE[0])


def test_the_trainers_reporter_emits_the_typed_events_on_the_wire():
    pytest.importorskip("rich")
    from trainer.progress import Reporter

    seen: list[dict] = []

    class Keep(Reporter):
        def handle(self, event: dict) -> None:
            seen.append(event)

    reporter = Keep()
    reporter.emit("epoch_end", model="cnn", epoch=1, epochs=10, loss=float("nan"), metrics={"accuracy": np.float32(0.5)},
                  val_metrics={}, seconds=1.0)
    assert json.dumps(seen[0], separators=(",", ":")) == (
        '{"event":"epoch_end","model":"cnn","epoch":1,"epochs":10,"loss":null,"metrics":{"accuracy":0.5},'
        '"val_metrics":{},"seconds":1.0}')
    with pytest.raises(TypeError):  # a misspelt field is caught where it is written
        reporter.emit("done", model="cnn", metrcs={})
