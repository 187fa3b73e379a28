"""Models off the contract (docs/model-contract.md), or hostile: each is refused once, when it
loads, with one line that names it; the others go on. Real ONNX files (tests/onnx_models.py),
real `dl-tui classify` runs."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx_models
import pytest
from click.testing import CliRunner
from PIL import Image

from tui import contract
from tui.classify import app as classify_app
from tui.runtime import ModelError, Runtime
from tui.runtime.errors import UnusableModel

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def digits(tmp_path):
    """A folder of three real MNIST test digits."""
    folder = tmp_path / "digits"
    folder.mkdir()
    x, _ = onnx_models.mnist_sample("test")
    for i in range(3):
        Image.fromarray(x[i]).save(folder / f"{i}.png")
    return folder


@pytest.fixture
def models(tmp_path):
    """A folder with the tiny cnn and nothing else."""
    folder = tmp_path / "models"
    onnx_models.build("cnn", folder)
    return folder


def classify(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(classify_app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


DEEP = "[" * 100_000 + "]" * 100_000  # json.loads: RecursionError
# Each way off the contract: how the file is made, and what the one line says.
UNUSABLE = {
    "1d": (lambda d: onnx_models.build_variant("1d", d), "output 'probabilities' is [N] (1-d)"),
    "3d": (lambda d: onnx_models.build_variant("3d", d), "output 'probabilities' is [N, 10, 1] (3-d)"),
    "string": (lambda d: onnx_models.build_variant("string", d), "output 'probabilities' is tensor(string)"),
    "labels": (lambda d: onnx_models.build("cnn", d, "cnn-labels", labels=list("abc")),
               "has 10 classes but 3 labels"),
    "duplicates": (lambda d: onnx_models.build("cnn", d, "cnn-duplicates", labels=["7"] * 10),
                   "label '7' appears more than once"),
    "deep": (lambda d: onnx_models.build("cnn", d, "cnn-deep", config=DEEP), "'config' nests deeper than 32"),
    "huge": (lambda d: onnx_models.build("cnn", d, "cnn-huge", history="[" + "1," * (3 << 20) + "1]"),
             "'history' is 6.0 MB, more than the 1.0 MB"),
    "size": (lambda d: onnx_models.build("cnn", d, "cnn-size", preprocessing={
        "kind": "image", "size": [32, 32], "range": [0, 1]}), "but its preprocessing says [N, 32, 32, 1]"),
    "colour": (lambda d: onnx_models.build("cnn", d, "cnn-colour", preprocessing={
        "kind": "image", "size": [28, 28], "channels": 3}), "but its preprocessing says [N, 28, 28, 3]"),
}


@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_a_model_off_the_contract_is_refused_when_it_loads_with_one_line(tmp_path, case):
    make, reason = UNUSABLE[case]
    name = make(tmp_path).stem
    runtime = Runtime(tmp_path, device="cpu")
    with pytest.raises(UnusableModel) as error:
        runtime.info(name)
    assert str(error.value).startswith(f"model {name} is unusable: ")
    assert reason in str(error.value) and "\n" not in str(error.value)
    assert len(str(error.value)) < 200


@pytest.mark.parametrize("batch", [1, 3])
def test_a_fixed_batch_just_works_that_many_images_at_a_time(models, batch):
    name = onnx_models.build_variant(f"batch{batch}", models).stem
    runtime = Runtime(models, device="cpu")
    assert runtime.info(name).batch == batch and runtime.info("cnn").batch is None
    x = onnx_models.mnist_sample()[0][:7].astype(np.float32) / 255  # 3 + 3 + 1 (padded)
    np.testing.assert_allclose(runtime.predict(name, x), runtime.predict("cnn", x), atol=1e-6)
    np.testing.assert_allclose(runtime.predict(name, x[:1]), runtime.predict("cnn", x[:1]), atol=1e-6)


def test_a_fixed_batch_of_one_in_dl_tui_classify(models, digits):
    onnx_models.build_variant("batch1", models)
    code, out, err = classify(digits, "--models", models, "-m", "all", "-f", "jsonl", "-q", "--batch-size", "2")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and err == ""
    by_model = {m: [r["label"] for r in rows if r["model"] == m] for m in ("cnn", "cnn-batch1")}
    assert by_model["cnn"] == by_model["cnn-batch1"] and len(by_model["cnn"]) == 3


@pytest.mark.parametrize("variant", ["1d", "3d", "string"])
def test_an_unusable_model_asked_for_alone_or_among_others_is_a_usage_error(models, digits, variant):
    onnx_models.build_variant(variant, models)
    for wanted in (["-m", f"cnn-{variant}"], ["-m", "cnn", "-m", f"cnn-{variant}"]):
        code, out, err = classify(digits, "--models", models, *wanted)
        assert code == 2 and out == ""
        assert err.startswith(f"dl-tui classify: error: model cnn-{variant} is unusable: its output")
        assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_all_skips_each_unusable_model_with_one_line_even_when_quiet(models, digits):
    for variant in ("1d", "string"):
        onnx_models.build_variant(variant, models)
    onnx_models.build("cnn", models, "cnn-labels", labels=["0"] * 10)
    code, out, err = classify(digits, "--models", models, "-m", "all", "-f", "jsonl", "-q")
    assert code == 0
    assert {json.loads(line)["model"] for line in out.splitlines()} == {"cnn"}
    lines = err.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        f"dl-tui classify: warning: skipped model {name}" for name in ("cnn-1d", "cnn-labels", "cnn-string")]
    assert all(", unusable: " in line for line in lines)


def test_probabilities_wrong_only_at_run_time_are_error_rows_for_that_model(models, digits):
    onnx_models.build_variant("scores", models)  # raw scores: negative and far above 1
    code, out, err = classify(digits, "--models", models, "-m", "all", "-f", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and "Traceback" not in err
    assert all(r["error"] is None for r in rows if r["model"] == "cnn")
    bad = [r for r in rows if r["model"] == "cnn-scores"]
    assert len(bad) == 3 and all(r["label"] is None for r in bad)
    assert all(re.match(r"model produced a (negative probability|probability above 1) \(", r["error"]) for r in bad)


@pytest.mark.parametrize(("values", "problem"), [
    ([0.2, 0.8], None),
    ([float("nan"), 1.0], "model produced NaN"),
    ([float("inf"), 0.0], "model produced infinity"),
    ([-0.5, 1.5], "model produced a negative probability (-0.5)"),
    ([0.0, 7.0], "model produced a probability above 1 (7)"),
    ([0.3, 0.3], "model's probabilities sum to 0.6, not 1"),
])
def test_each_row_of_probabilities_is_checked(values, problem):
    assert contract.probability_problem(values) == problem


def test_json_depth_ignores_brackets_in_strings():
    assert contract.depth('{"a": ["[[[", {"b": "]]"}]}') == 3
    assert contract.depth("[" * 50) == contract.MAX_DEPTH + 1  # stops counting past the limit


# Memory: a graph that asks for gigabytes fails its run with one line and stays small. ---------

PEAK = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True)
sys.stdout.buffer.write(done.stdout)
sys.stderr.buffer.write(done.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, done.returncode, file=sys.stderr)
"""
# Whatever happens, the child may not take more than this (address space, bytes).
ADDRESS_SPACE = 6 << 30


def _limit() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def dl_tui(*args: object) -> tuple[int, int, str, str]:
    """`dl-tui ARGS` in a fresh process: exit code, its peak RSS in MB, stdout, stderr."""
    command = [sys.executable, "-c", "import sys; from tui.cli import main; main(sys.argv[1:])", *map(str, args)]
    result = subprocess.run([sys.executable, "-c", PEAK, *command], check=False, capture_output=True,
                            cwd=ROOT, timeout=300, preexec_fn=_limit)
    *err, last = result.stderr.decode(errors="replace").splitlines()
    peak, code = map(int, last.split())
    return code, peak, result.stdout.decode(errors="replace"), "\n".join(err)


@pytest.mark.parametrize("variant", ["hog", "expand"])
def test_a_graph_that_asks_for_gigabytes_fails_its_run_cleanly_and_stays_small(models, digits, variant):
    onnx_models.build_variant(variant, models)  # 2 GiB of ConstantOfShape (or Expand) on every run
    code, peak, out, err = dl_tui("classify", digits, "--models", models, "-m", f"cnn-{variant}", "-f", "jsonl")
    assert code != 0 and out == ""
    assert peak < 700, f"peak RSS {peak} MB"
    assert len(err.splitlines()) == 1 and f"cnn-{variant}" in err and "Traceback" not in err


def test_onnxruntime_log_lines_never_reach_the_terminal(models, digits):
    onnx_models.build_variant("broken-run", models)  # onnxruntime logs an error on every run
    code, _, _, err = dl_tui("classify", digits, "--models", models, "-m", "cnn-broken-run", "-q")
    assert code != 0
    assert "\x1b" not in err and len(err.splitlines()) == 1, err
    assert "model cnn-broken-run failed to run" in err


def test_huge_metadata_is_refused_before_it_is_parsed(models, digits):
    onnx_models.build("cnn", models, "cnn-huge", description="x" * (64 << 20))
    code, peak, out, err = dl_tui("classify", digits, "--models", models, "-m", "all", "-f", "jsonl", "-q")
    assert code == 0 and len(out.splitlines()) == 3
    assert err == ("dl-tui classify: warning: skipped model cnn-huge, unusable: metadata 'description' is "
                   "64.0 MB, more than the 1.0 MB a value may have")
    assert peak < 700, f"peak RSS {peak} MB"


def test_contract_imports_nothing_heavy():
    script = ("import sys, tui.contract; heavy = {'tensorflow', 'textual', 'onnx', 'onnxruntime', 'numpy'}; "
              "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))")
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_unusable_twin_leaves_the_float_model_running(models):
    made_from = hashlib.sha256((models / "cnn.onnx").read_bytes()).hexdigest()
    onnx_models.build_variant("1d", models, filename="cnn.int8", precision="int8", float_sha256=made_from)
    runtime = Runtime(models, device="cpu", precision="int8")
    assert runtime.info("cnn").precision == "float"
    with pytest.raises(ModelError, match="unusable"):
        runtime.info("cnn.int8")
