"""How long `dl-train check` takes on a folder of PNGs: wall and CPU seconds, and its peak memory.

    python bench/check_speed.py DIR          # e.g. a folder from bench/fashion_folders.py

Runs `dl-train check DIR --format json` in a child process (as a user would) and prints one
line: files, wall seconds, CPU seconds (user + system, the child's), peak RSS in MB, and the
duplicate and leak groups found. CPU seconds are the figure to compare on a shared machine.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        print("usage: python bench/check_speed.py DIR", file=sys.stderr)
        return 2
    command = [sys.executable, "-c", "from trainer.cli import main; main()", "check", args[0], "--format", "json"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 2):
        print(done.stderr, file=sys.stderr)
        return 1
    report = json.loads(done.stdout)
    files = report["images"] + report["skipped"]
    print(f"{files} files: {wall:.1f} s wall, {usage.ru_utime + usage.ru_stime:.1f} s CPU, "
          f"peak {usage.ru_maxrss / 1024:.0f} MB; {len(report['duplicates'])} duplicate groups, "
          f"{len(report['leaks'])} leaks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
