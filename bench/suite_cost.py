"""What the test suite spends, suite by suite: CPU in the test processes, CPU in the processes
they start (``python -m bot`` and others), and wall time — measured, never asserted.

    python bench/suite_cost.py [pytest arguments]     # default: -n 5 -q --cov

Each xdist worker loads this file as a pytest plugin (``-p bench.suite_cost``) and writes one
line per test (``RUSAGE_SELF`` and ``RUSAGE_CHILDREN`` before and after it); the table sums
them by test file. The children's CPU is counted when they are waited for (killed ones too); the
children the tests' zygote forks (tests/childstart/) when it reaps them, and its preload once.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUT = "BENCH_SUITE_COST_DIR"

_started: dict[str, tuple[float, float, float]] = {}


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The children the tests' zygote forked are its children, not this process's: it reports
    # their CPU (and its own preload's) as it reaps them (tests/childstart/spawn.py).
    spawn = sys.modules.get("tests.childstart.spawn")
    forked = spawn.forked_cpu() if spawn is not None else 0.0
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime + forked


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> None:
    own, children = _cpu()
    _started[item.nodeid] = (own, children, time.perf_counter())


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    folder = os.environ.get(OUT)
    if folder is None or nodeid not in _started:
        return
    own0, children0, wall0 = _started.pop(nodeid)
    own, children = _cpu()
    line = {"id": nodeid, "own": own - own0, "children": children - children0}
    line["wall"] = time.perf_counter() - wall0
    line["worker"] = os.environ.get("PYTEST_XDIST_WORKER", "main")
    line["ended"] = time.time()
    with open(Path(folder) / f"{os.getpid()}.jsonl", "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def main() -> None:
    args = sys.argv[1:] or ["-n", "5", "-q", "--cov"]
    with tempfile.TemporaryDirectory() as folder:
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, OUT: folder, "PYTHONPATH": path}
        started, epoch = time.perf_counter(), time.time()
        command = [sys.executable, "-m", "pytest", "-p", "bench.suite_cost", *args]
        code = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
        wall = time.perf_counter() - started
        rows = [
            json.loads(line)
            for path in Path(folder).glob("*.jsonl")
            for line in path.read_text(encoding="utf-8").splitlines()
        ]
    keep = os.environ.get("BENCH_SUITE_COST_ROWS")
    if keep:  # every test's line, for a timeline of the workers
        Path(keep).write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    suites: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for row in rows:
        suite = suites[row["id"].split("::")[0]]
        suite[0] += row["own"]
        suite[1] += row["children"]
        suite[2] += row["wall"]
        suite[3] += 1
    own = sum(s[0] for s in suites.values())
    children = sum(s[1] for s in suites.values())
    print(f"\npytest exit {code}; {len(rows)} tests; {wall:.0f} s wall")
    print(f"CPU: {own:.0f} s in the test processes, {children:.0f} s in processes they started")
    if rows:  # what is not a test: the workers' start and collection; coverage's combining
        first = min(row["ended"] - row["wall"] for row in rows) - epoch
        last = max(row["ended"] for row in rows) - epoch
        print(f"first test began at {first:.0f} s, the last ended at {last:.0f} s")
    print("\n| test file | own CPU s | children CPU s | wall s (summed) | tests |")
    print("|---|---|---|---|---|")
    for name, (o, c, w, n) in sorted(suites.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:25]:
        print(f"| {name} | {o:.1f} | {c:.1f} | {w:.1f} | {int(n)} |")


if __name__ == "__main__":
    main()
