"""Run every benchmark and print the eight tables: ``python bench/run.py [--quick]``.

Ratios are measured within one run on the same machine (machines here are noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import allpay_client, desk, instances, resolver, rush, scale, startup, updates
from bench.common import machine, sandbox_process


async def main(quick: bool, only: set[int]) -> None:
    logging.basicConfig(level=logging.ERROR)
    gc.collect()
    gc.freeze()  # as bot.wiring.serving does at start-up
    print(f"# Benchmarks — {time.strftime('%Y-%m-%d %H:%M')} — {machine()}\n", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        async with sandbox_process(Path(tmp) / "sandbox") as sandbox:
            keys = sandbox.folder
            if 1 in only:
                conversations, payments = (100, 20) if quick else (500, 100)
                print(await updates.run(conversations, sandbox.url, keys, payments), flush=True)
            if 2 in only:
                repeat, calls = (50, 100) if quick else (300, 400)
                print(await allpay_client.run(sandbox.url, keys, repeat, calls), flush=True)
            if 3 in only:
                print(await resolver.run(sandbox.url, keys, 200 if quick else 1000), flush=True)
            if 4 in only:
                cashiers, open_ = (50, 200) if quick else (200, 1000)
                print(await scale.run(sandbox.url, keys, cashiers, open_), flush=True)
            if 6 in only:
                cashiers, each, steps = (10, 2, 400) if quick else (20, 5, 2000)
                folder = Path(tmp) / "instances"
                report = await instances.run(sandbox.url, keys, folder, cashiers, each, steps)
                print(report, flush=True)
            if 7 in only:
                runs, top_ups = (3, 200) if quick else (5, 1000)
                print(await startup.run(sandbox.url, keys, runs, top_ups), flush=True)
        if 5 in only:
            print(await rush.run((20, 40) if quick else (20, 40, 80, 160)), flush=True)
        if 8 in only:
            top_ups, calls = (2000, 30) if quick else (10_000, 100)
            print(await desk.run(Path(tmp) / "desk", top_ups, calls), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument(
        "--only",
        type=int,
        action="append",
        choices=[1, 2, 3, 4, 5, 6, 7, 8],
        help="run only these tables",
    )
    args = parser.parse_args()
    asyncio.run(main(args.quick, set(args.only or [1, 2, 3, 4, 5, 6, 7, 8])))
