"""`dl-tui classify --engine ray` on a real Ray cluster: a head and a second node started
with `ray start` on this machine, one CPU each, on loopback ports of their own
(bench/ray_cluster.py). The cluster is ours alone, and stopping it stops only its own
processes: a plain `ray stop` would stop every Ray on the machine, other people's too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

import onnx_models

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from ray_cluster import local_cluster
from tui.classify import app as classify_app
from tui.classify.ray_engine import ray_missing
from tui.classify.ray_worker import Classifier

needs_ray = pytest.mark.skipif(ray_missing(), reason="Ray is not installed: pip install -e '.[cluster]'")
runner = CliRunner()


def run(*args: object) -> tuple[int, str, str]:
    """`dl-tui classify ARGS` through click's CliRunner: exit code, stdout, stderr."""
    result = runner.invoke(classify_app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def jsonl(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """A head and a second node on this machine, one CPU each."""
    if ray_missing():
        pytest.skip("Ray is not installed: pip install -e '.[cluster]'")
    import ray.data

    # Ray's own socket paths must stay short (107 bytes): a short folder of our own.
    temp = Path(tmp_path_factory.getbasetemp().parent, f"ray-{os.getpid()}")
    with local_cluster(temp, nodes=2, cpus=1) as nodes:
        # Dispatch once both actors are up, so that both nodes surely get batches: on a
        # loaded machine one actor can otherwise start seconds before the other.
        context = ray.data.DataContext.get_current()
        before, context.wait_for_min_actors_s = context.wait_for_min_actors_s, 120
        try:
            yield nodes
        finally:
            context.wait_for_min_actors_s = before


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 real MNIST digits as PNGs, a broken PNG and an EPS given by name."""
    folder = onnx_models.digit_pngs(tmp_path_factory.mktemp("ray-files"), 600)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    (folder / "eps").mkdir()
    (folder / "eps" / "figure.eps").write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 9 9\n")
    return folder


def by_file(rows: list[dict]) -> dict[tuple[str, str], dict]:
    keyed = {(row["path"], row["model"]): row for row in rows}
    assert len(keyed) == len(rows), "a file and model appear twice"
    return keyed


def assert_same_rows(ray_rows: list[dict], local_rows: list[dict]) -> None:
    """Same files and models, each once; same labels and errors; probabilities within 1e-6."""
    ours, theirs = by_file(ray_rows), by_file(local_rows)
    assert ours.keys() == theirs.keys()
    for key, row in ours.items():
        other = theirs[key]
        assert (row["label"], row["error"], row.get("ood")) == (
            other["label"], other["error"], other.get("ood")), key
        if row["probabilities"] is None:
            assert other["probabilities"] is None
            continue
        assert row["probabilities"].keys() == other["probabilities"].keys()
        for label, p in row["probabilities"].items():
            assert abs(p - other["probabilities"][label]) <= 1e-6, (key, label)


@needs_ray
def test_rows_equal_the_local_engines_and_both_nodes_work(cluster, files):
    paths = [files, files / "eps" / "figure.eps"]
    code, local, local_err = run(*paths, "-m", "all", "--workers", "2", "-f", "jsonl")
    assert code == 1  # the broken PNG and the EPS
    code, out, err = run(*paths, "-m", "all", "--engine", "ray", "--ray-address", cluster.address,
                         "--batch-size", "32", "-f", "jsonl")
    assert code == 1, err
    rows = jsonl(out)
    assert_same_rows(rows, jsonl(local))
    assert len(rows) == 3 * 602
    errors = {Path(row["path"]).name: row["error"] for row in rows if row["error"]}
    assert errors["broken.png"].startswith("cannot decode")
    assert errors["figure.eps"].startswith("unsupported format EPS")
    # One line on stderr, ours: counts, and both nodes of the cluster did work.
    assert err.count("\n") == 1, err
    assert "600 of 602 images classified, 2 failed" in err
    assert err.split(" in ")[0] == local_err.split(" in ")[0]  # the counts, OOD flags too
    assert any(row.get("ood") for row in rows)
    assert "Ray: 2 nodes (2 did work), connected in" in err


@needs_ray
def test_a_killed_worker_loses_no_file(cluster, files, capsys):
    """A model actor SIGKILLed mid-run: Ray starts another and runs its batches again;
    every file gets exactly one row, and the node ids show both nodes did work. What Ray
    prints of it (a task to be retried) reaches neither stdout nor stderr."""
    from tui.classify import ray_engine
    from tui.classify.plan import Plan, Prep
    from tui.classify.report import ProgressBar
    from tui.runtime import Runtime

    runtime = Runtime()
    infos = [runtime.info("cnn")]
    written: list[list] = []
    killed: list[int] = []

    class KillingWriter:
        def write(self, batch: list) -> None:
            written.extend(batch)
            if not killed:  # mid-run: after the first batch came back
                victim = cluster.workers()[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

    job = ray_engine.Job(Plan(infos, Prep(), batch_size=16), runtime.folders, (files,),
                         device="cpu", address=cluster.address)
    with ray_engine.connect(cluster.address) as where:
        result = ray_engine.run(job, where, KillingWriter(), ProgressBar(False, lambda: 0))
    assert killed
    counts = Counter(str(rows[0].path) for rows in written)
    assert len(counts) == 601 and set(counts.values()) == {1}
    assert not any(rows[0].error and "died" in rows[0].error for rows in written)
    assert result.stats.files == 601 and result.stats.failed == 1
    assert len(result.nodes) == 2  # node ids from the actors' rows
    assert killed[0] in result.pids  # it had done work before it died
    assert capsys.readouterr() == ("", "")


@needs_ray
def test_output_writes_each_file_once_from_the_workers(cluster, files, tmp_path):
    out = tmp_path / "out"
    code, stdout, err = run(files, "--engine", "ray", "--ray-address", cluster.address,
                            "--output", out, "--batch-size", "64")
    assert code == 1 and stdout == "", err
    assert "600 of 601 images classified, 1 failed" in err
    parts = sorted(out.iterdir())
    assert [part.name for part in parts] == ["part-000000000000.jsonl"]  # 601 files: one part
    code, local, _ = run(files, "-f", "jsonl", "--workers", "1")
    assert_same_rows(jsonl(parts[0].read_text()), jsonl(local))


def test_a_part_is_written_whole_under_a_name_its_files_decide(tiny_models, tmp_path):
    """What a worker does with --output, without a cluster: a task run twice writes the
    same file again (named by its first file's place), never a second one; Parquet holds
    the JSON lines' fields."""
    import numpy as np
    import pyarrow.parquet as pq

    from tui.classify.plan import Plan, Prep
    from tui.classify.ray_worker import FLAGS, PROBS, SCORES, write_shard
    from tui.runtime import Runtime

    info = Runtime(tiny_models).info("cnn")
    probs = np.full((2, 10), np.nan, np.float32)
    probs[0] = np.arange(10) / 45
    batch = {"index": np.array([7, 8]), "path": np.array([b"a.png", b"b\xff.png"], object),
             "error": np.array(["", "empty file"], object), "seconds": np.zeros(2),
             "infer": np.zeros(2), "node": np.array(["n", "n"], object), "pid": np.zeros(2),
             "provider": np.array(["CPU", "CPU"], object), "fatal": np.array(["", ""], object),
             PROBS + "cnn": probs, SCORES + "cnn": np.array([0.5, np.nan]),
             FLAGS + "cnn": np.array([1, -1], np.int8)}
    out = tmp_path / "out"
    out.mkdir()
    for _ in range(2):
        counts = write_shard(batch, Plan([info], Prep()), str(out), "parquet", None)
    assert [p.name for p in out.iterdir()] == ["part-000000000007.parquet"]
    assert counts["failed"].tolist() == [False, True]
    assert counts["flagged"].tolist() == [True, False]
    rows = pq.read_table(out).to_pylist()
    assert rows[0]["path"] == "a.png" and rows[0]["label"] == "9" and rows[0]["error"] is None
    assert dict(rows[0]["probabilities"])["9"] == pytest.approx(0.2)
    assert rows[0]["ood"] == {"score": 0.5, "flagged": True}
    assert rows[1]["error"] == "empty file" and rows[1]["probabilities"] is None
    assert rows[1]["path"] == "b\ufffd.png"  # Parquet text is UTF-8: a byte that is not becomes U+FFFD


def test_ray_engine_without_ray_is_one_line_and_exit_2(monkeypatch, tmp_path):
    monkeypatch.setattr("tui.classify.ray_engine.ray_missing", lambda: True)
    code, out, err = run(tmp_path, "--engine", "ray")
    assert code == 2 and out == ""
    assert err == ("dl-tui classify: error: --engine ray needs Ray, which this install does not "
                   "have: pip install 'dl-tui[cluster]'\n")


@needs_ray
def test_an_address_where_nothing_listens_is_one_line_at_once(tmp_path):
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "x.png").write_bytes(b"")
    code, out, err = run(tmp_path / "x.png", "--engine", "ray", "--ray-address", f"127.0.0.1:{port}")
    assert code == 2 and out == ""
    assert err == f"dl-tui classify: error: cannot connect to Ray at 127.0.0.1:{port}: Connection refused\n"


@pytest.mark.parametrize("args, message", [
    (["--output", "OUT"], "--output needs --engine ray"),
    (["--format", "parquet"], "--format parquet needs --output DIR"),
    (["--engine", "ray", "--output", "OUT", "--format", "table"], "--output writes jsonl, csv, parquet, not table"),
])
def test_output_usage_errors(monkeypatch, tmp_path, args, message):
    monkeypatch.setattr("tui.classify.ray_engine.ray_missing", lambda: False)
    args = [str(tmp_path / "out") if arg == "OUT" else arg for arg in args]
    code, out, err = run(tmp_path, *args)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert message in err


def test_the_plain_install_never_imports_ray():
    code = ("import sys, tui.cli, tui.classify.command, tui.classify.ray_engine\n"
            "print('ray' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


class Poisoned(Classifier):
    """A model actor that dies on one file, as on a decoder's crash or the OOM killer."""

    def __call__(self, batch: dict) -> dict:
        if any(path.endswith(b"poison.png") for path in batch["path"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__call__(batch)


@needs_ray
def test_a_batch_that_kills_its_worker_every_time_gets_error_rows(cluster, files, tmp_path,
                                                                  monkeypatch):
    """Run again on a fresh worker RETRIES times, then given up: its files get the local
    engine's error rows, the rest are classified, and the run goes on."""
    from ray import cloudpickle

    from tui.classify import ray_engine
    from tui.classify.plan import Plan, Prep
    from tui.classify.pool import DIED
    from tui.classify.report import ProgressBar
    from tui.runtime import Runtime

    folder = tmp_path / "poisoned"
    folder.mkdir()
    for i in range(64):
        (folder / f"{i:02d}.png").write_bytes((files / f"{i:04d}.png").read_bytes())
    (folder / "30-poison.png").write_bytes((files / "0000.png").read_bytes())
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests
    monkeypatch.setattr(ray_engine, "Classifier", Poisoned)
    runtime = Runtime()
    written: list[list] = []

    class Collect:
        def write(self, batch: list) -> None:
            written.extend(batch)

    job = ray_engine.Job(Plan([runtime.info("cnn")], Prep(), batch_size=8), runtime.folders,
                         (folder,), device="cpu")
    try:
        with ray_engine.connect(cluster.address) as where:
            result = ray_engine.run(job, where, Collect(), ProgressBar(False, lambda: 0))
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    counts = Counter(rows[0].path.name for rows in written)
    assert len(counts) == 65 and set(counts.values()) == {1}
    died = {rows[0].path.name for rows in written if rows[0].error == DIED}
    # The poison's batch (8 files), as the local engine's chunk; rarely also a batch that
    # waited on the same worker each time it died.
    assert {"24.png", "29.png", "30-poison.png", "30.png"} <= died and len(died) < 65, died
    assert result.stats.failed == len(died)


def _map_workers(parent: int) -> list[int]:
    """The model actors (`ray::MapWorker...`) of the local Ray a run started: processes in
    that run's own session (start_new_session), found by their command line."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
            session = os.getsid(int(entry.name))
        except (OSError, ValueError):
            continue
        if command.startswith(b"ray::MapWorker") and session == os.getsid(parent):
            found.append(int(entry.name))
    return found


def _start_on_local_ray(files: Path, *args: str) -> subprocess.Popen:
    """The real `dl-tui classify --engine ray` on a local Ray it starts for the run
    (RAY_ADDRESS=local: never a Ray that runs here already, this module's cluster say)."""
    env = {**os.environ, "RAY_ADDRESS": "local"}
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "classify", str(files), "--engine", "ray", "-f", "jsonl",
         "--models", str(Path(__file__).resolve().parents[1] / "exported"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
        cwd=Path(__file__).resolve().parents[1])


@needs_ray
def test_ray_writes_nothing_of_its_own_to_stdout_when_workers_die(files):
    """Workers killed twice mid-run: the raylet reports it, and at shutdown Ray prints what
    it held back, in colour. Every stdout line must still be one of our JSON rows."""
    run = _start_on_local_ray(files, "--batch-size", "8", "--workers", "2", "-q")
    first = run.stdout.readline()
    for _ in range(2):
        deadline = time.monotonic() + 60
        while not (victims := _map_workers(run.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        if victims:
            os.kill(victims[0], signal.SIGKILL)
        time.sleep(1)
    out = first + run.stdout.read()  # not communicate(): it skips what readline buffered
    err = run.stderr.read()
    assert run.wait(timeout=240) in (0, 1), err
    lines = out.decode().splitlines()
    for line in lines:
        assert json.loads(line)["path"], line  # raises on a line that is not ours
    paths = [json.loads(line)["path"] for line in lines]
    missing = sorted({str(p) for p in files.iterdir() if p.is_file()} - set(paths))
    assert len(paths) == len(set(paths)) == 601, (missing, err)


@needs_ray
def test_sigterm_under_ray_exits_143(files):
    run = _start_on_local_ray(files, "--batch-size", "8", "--workers", "1", "-q")
    first = run.stdout.readline()
    assert json.loads(first)["path"]  # the run is under way
    run.send_signal(signal.SIGTERM)
    out, err = first + run.stdout.read(), run.stderr.read()
    assert run.wait(timeout=120) == 128 + signal.SIGTERM, err
    assert b"Traceback" not in err
    assert all(json.loads(line) for line in out.splitlines())
