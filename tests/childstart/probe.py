"""``python -m tests.childstart.probe [exit N | raise | wait]``: what a child sees of its start,
as one JSON line (tests/test_childstart.py compares a forked child with an exec'd one)."""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    seen = {
        "argv": sys.argv,
        "path0": sys.path[0],
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "main": sys.modules["__main__"].__dict__.get("__file__"),
        "main_names": sorted(n for n in vars(sys.modules["__main__"]) if not n.startswith("__")),
        "bot_loaded": sorted(m for m in sys.modules if m == "bot" or m.startswith("bot.")),
        "stdin": sys.stdin.read() if "stdin" in sys.argv else None,
        "measured": "coverage" in sys.modules
        and sys.modules["coverage"].Coverage.current() is not None,
        "streams": [sys.stdout.encoding, sys.stdout.line_buffering, sys.stderr.line_buffering],
    }
    print(json.dumps(seen), flush=True)
    what = sys.argv[1:2]
    if what == ["exit"]:
        sys.exit(int(sys.argv[2]))
    if what == ["raise"]:
        raise RuntimeError("the probe fails")
    if what == ["wait"]:
        sys.stdin.read()  # until the test kills it


if __name__ == "__main__":
    main()
