"""Images per second for `dl-tui classify` on the local engine and on Ray, one and two nodes.

The MNIST test images are written as PNG files (10,000 by default). Measured, each in turns
with the others and the best of `--repeat` kept (the machine may be busy):

- the local engine with 1 and with 2 worker processes, process start to exit;
- Ray on a cluster of one node and of two nodes on this machine, 1 CPU each (so one model
  actor per node), process start to exit with `--ray-address`, and from inside one process:
  the run alone, and its steady rate from the first rows back to the last; and with
  `--output`, where the workers write the rows and nothing comes back;
- Ray's start-up apart: starting a node (`ray start`), connecting to a running cluster, the
  model actors' start (until the first rows come back), and the local Ray that a run starts
  for itself when no cluster is running.

    python bench/bench_ray.py [--mnist ../shared/data/mnist.npz] [--count 10000] [--repeat 2]
                              [--json bench/results/ray.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_classify import classify_cmd, write_pngs  # noqa: E402
from ray_cluster import local_cluster  # noqa: E402

SUMMARY = re.compile(r"in (?P<run>[\d.]+) s;.*(?:connected|started) in (?P<start>[\d.]+) s")


def timed_cli(*args: str) -> tuple[float, str]:
    """Wall time of `dl-tui classify ARGS` from process start to exit, and its summary line."""
    start = time.perf_counter()
    proc = subprocess.run(classify_cmd(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"dl-tui classify {' '.join(args)}: exit {proc.returncode}\n{proc.stderr}")
    return wall, proc.stderr.strip().splitlines()[-1]


def in_process(pngs: Path, address: str) -> dict[str, float]:
    """One run through the engine's own functions: connect, first rows, last rows."""
    from tui.classify import ray_engine
    from tui.classify.plan import Plan, Prep
    from tui.classify.report import ProgressBar
    from tui.runtime import Runtime

    runtime = Runtime(precision="auto")
    job = ray_engine.Job(Plan([runtime.info("cnn")], Prep()), runtime.folders, (pngs,),
                         device="cpu")
    marks: list[tuple[float, int]] = []

    class Clock:
        def write(self, batch: list) -> None:
            marks.append((time.perf_counter(), len(batch)))

    start = time.perf_counter()
    with ray_engine.connect(address) as cluster:
        connected = time.perf_counter()
        result = ray_engine.run(job, cluster, Clock(), ProgressBar(False, lambda: 0))
        done = time.perf_counter()
    first, first_rows = marks[0]
    steady = (result.stats.files - first_rows) / max(marks[-1][0] - first, 1e-9)
    return {"connect_s": connected - start, "actors_start_s": first - connected,
            "run_s": done - connected, "images_per_s": result.stats.files / (done - connected),
            "steady_images_per_s": steady, "nodes_that_worked": len(result.nodes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "data" / "mnist.npz")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures: dict[str, object] = {"count": args.count, "cpus": os.cpu_count(),
                                  "load_average": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as temp:
        pngs = Path(temp, "pngs")
        pngs.mkdir()
        write_pngs(args.mnist, pngs, args.count)
        for workers in (1, 2):
            walls = [timed_cli(str(pngs), "-f", "jsonl", "--workers", str(workers))[0]
                     for _ in range(args.repeat)]
            figures[f"local_{workers}_workers"] = {"wall_s": min(walls),
                                                   "images_per_s": args.count / min(walls)}
        # With no cluster running: the local Ray a run starts for itself (in its summary).
        wall, line = timed_cli(str(pngs), "-f", "jsonl", "--engine", "ray")
        match = SUMMARY.search(line)
        figures["ray_started_for_the_run"] = {
            "wall_s": wall, "ray_start_s": float(match["start"]) if match else None,
            "run_s": float(match["run"]) if match else None, "images_per_s": args.count / wall}
        for nodes in (1, 2):
            with local_cluster(Path(temp, f"r{nodes}"), nodes=nodes, cpus=1) as cluster:
                entry: dict[str, object] = {}
                runs, clis = [], []
                for _ in range(args.repeat):
                    runs.append(in_process(pngs, cluster.address))
                    clis.append(timed_cli(str(pngs), "-f", "jsonl", "--engine", "ray",
                                          "--ray-address", cluster.address)[0])
                best = max(runs, key=lambda run: run["images_per_s"])
                entry.update(best)
                entry["cli_wall_s"] = min(clis)
                entry["cli_images_per_s"] = args.count / min(clis)
                # The workers write the rows (--output): nothing comes back to this process.
                out = Path(temp, f"out{nodes}")
                entry["output_wall_s"] = timed_cli(str(pngs), "--engine", "ray", "--ray-address",
                                                   cluster.address, "--output", str(out))[0]
                figures[f"ray_{nodes}_node{'s' * (nodes > 1)}"] = entry
        with local_cluster(Path(temp, "t"), nodes=0) as cluster:  # the cost of a node alone
            figures["ray_start_head_s"] = cluster.add_node()
            figures["ray_add_node_s"] = cluster.add_node()
    print(table(figures))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def table(figures: dict) -> str:
    """The figures as a Markdown table."""
    count = figures["count"]
    rows = [f"{count:,} MNIST PNGs, {figures['cpus']} cores, load average "
            f"{figures['load_average']:.1f} at the start", "",
            "| engine | process start to exit | images/s | run alone | steady images/s | with --output |",
            "|---|---|---|---|---|---|"]
    for workers in (1, 2):
        local = figures[f"local_{workers}_workers"]
        rows.append(f"| local, {workers} worker{'s' * (workers > 1)} | {local['wall_s']:.2f} s | "
                    f"{local['images_per_s']:,.0f} | | | |")
    started = figures["ray_started_for_the_run"]
    rows.append(f"| ray, a local Ray started for the run | {started['wall_s']:.2f} s | "
                f"{started['images_per_s']:,.0f} | {started['run_s']} s | | |")
    for key, name in (("ray_1_node", "ray, 1 node x 1 CPU"), ("ray_2_nodes", "ray, 2 nodes x 1 CPU")):
        ray = figures[key]
        rows.append(f"| {name} | {ray['cli_wall_s']:.2f} s | {ray['cli_images_per_s']:,.0f} | "
                    f"{ray['run_s']:.2f} s ({ray['images_per_s']:,.0f}/s) | "
                    f"{ray['steady_images_per_s']:,.0f} | {ray['output_wall_s']:.2f} s |")
    rows += ["", "Ray's start-up, apart:", "",
             f"- `ray start --head`: {figures['ray_start_head_s']:.1f} s; another node: "
             f"{figures['ray_add_node_s']:.1f} s",
             f"- a local Ray started by the run itself: {started['ray_start_s']} s",
             f"- connecting to a running cluster: {figures['ray_1_node']['connect_s']:.2f} s (1 node), "
             f"{figures['ray_2_nodes']['connect_s']:.2f} s (2 nodes)",
             f"- model actors up, until the first rows: {figures['ray_1_node']['actors_start_s']:.1f} s "
             f"(1 node), {figures['ray_2_nodes']['actors_start_s']:.1f} s (2 nodes)"]
    return "\n".join(rows)


if __name__ == "__main__":
    main()
