"""A throwaway Ray cluster of several nodes on this one machine, for tests and benchmarks.

Each node is a `ray start --block` process with its own session, CPUs, loopback ports and
a temporary folder of ours. Stopping it stops only those processes (each `ray start --block`
stops the raylet, GCS and workers it started; what is left in their sessions is killed by
process id): a plain `ray stop` would stop every Ray on the machine, other people's too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

RAY = Path(sys.executable).with_name("ray")
NODE_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    # Loopback only and gone at the end: no token (a ~/.ray/auth_token left by any local
    # Ray would turn it on for the nodes, and a driver would not send it).
    "RAY_AUTH_MODE": "disabled",
    "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",  # stop at once, not after 30 s of draining
}
PORTS = ["--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
         "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port"]


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """Nodes on this machine; `address` is the head's. The temporary folder must have a
    short path: Ray's socket names under it are limited to 107 bytes."""

    def __init__(self, temp: Path, cpus: int = 1) -> None:
        self.temp, self.cpus = temp, cpus
        self.port = _port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: list[subprocess.Popen] = []

    def add_node(self, timeout: float = 120) -> float:
        """Start one more node (the first is the head) and wait for it; its seconds."""
        start = time.perf_counter()
        head = not self.nodes
        args = [str(RAY), "start", "--block", "--num-cpus", str(self.cpus), "--num-gpus", "0",
                "--node-ip-address", "127.0.0.1", "--temp-dir", str(self.temp),
                "--disable-usage-stats", "--object-store-memory", str(150 * 2**20),
                *[arg for flag in PORTS for arg in (flag, str(_port()))]]
        if head:
            args += ["--head", "--port", str(self.port), "--include-dashboard", "false",
                     "--dashboard-port", str(_port()), "--ray-client-server-port", str(_port())]
        else:
            args += ["--address", self.address]
        log = open(self.temp / f"node-{len(self.nodes)}.log", "wb")  # noqa: SIM115
        self.nodes.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True, env={**os.environ, **NODE_ENV}))
        self._wait_for(len(self.nodes), time.monotonic() + timeout)
        return time.perf_counter() - start

    def _wait_for(self, count: int, deadline: float) -> None:
        while True:  # the head's GCS first: connecting to it before it listens takes long
            self._check(deadline)
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            time.sleep(0.2)
        import ray

        ray.init(address=self.address, logging_level="ERROR", log_to_driver=False)
        try:
            while sum(node["Alive"] for node in ray.nodes()) < count:
                self._check(deadline)
                time.sleep(0.2)
        finally:
            ray.shutdown()

    def _check(self, deadline: float) -> None:
        if any(node.poll() is not None for node in self.nodes) or time.monotonic() > deadline:
            raise RuntimeError(f"a Ray node did not start:\n{self.logs()}")

    def processes(self) -> list[tuple[int, bytes]]:
        """Every live process the nodes started, with its command line: those in the
        sessions of our `ray start` processes (workers have process groups of their own)."""
        sessions = {node.pid for node in self.nodes}
        found = []
        for entry in Path("/proc").iterdir():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue
            if int(stat[3]) in sessions and stat[0] != "Z" and int(entry.name) not in sessions:
                found.append((int(entry.name), command))
        return found

    def workers(self) -> list[int]:
        """The model actors' processes (Ray names them `ray::MapWorker...`)."""
        return [pid for pid, command in self.processes() if command.startswith(b"ray::MapWorker")]

    def stop(self) -> None:
        # The last node first: once the head is gone the others would wait for it.
        for node in reversed(self.nodes):
            if node.poll() is None:
                node.send_signal(signal.SIGTERM)  # `ray start --block` stops what it started
            try:
                node.wait(timeout=40)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
        for pid, _ in self.processes():  # whatever a node left behind
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-2000:]
                         for path in sorted(self.temp.glob("node-*.log")))


@contextmanager
def local_cluster(temp: Path, nodes: int, cpus: int = 1) -> Iterator[Cluster]:
    """`nodes` nodes of `cpus` CPUs each, stopped on the way out whatever happens."""
    temp.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(temp, cpus)
    try:
        for _ in range(nodes):
            cluster.add_node()
        yield cluster
    finally:
        cluster.stop()
