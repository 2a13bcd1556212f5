"""Two commands: `make demo` and `make test` set up from the hashed locks and run, reusing
what an earlier run installed; `.ci/run` runs the same `make test` (issue 26, item 16)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(target: str, venv: Path) -> list[str]:
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", "-C", str(ROOT), target, f"VENV={venv}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def test_a_fresh_checkout_sets_up_from_the_hashed_locks(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    demo = dry_run("demo", venv)
    assert demo[0].endswith(f" -m venv {venv}")
    assert "--require-hashes -r requirements/runtime.txt" in demo[1]
    assert demo[-1] == f"{venv}/bin/python -m bot demo --lang en"
    test = dry_run("test", venv)
    assert "--require-hashes -r requirements/test.txt" in test[1]
    assert any("pip check" in line for line in test)
    assert test[-1] == f"{venv}/bin/python -m pytest -n 5 -q --cov"


def test_a_second_run_reuses_what_is_installed(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    later = time.time() + 60  # installed after the locks were last changed
    for stamp in (".runtime", ".test"):
        (venv / stamp).touch()
        os.utime(venv / stamp, (later, later))
    assert dry_run("test", venv) == [f"{venv}/bin/python -m pytest -n 5 -q --cov"]
    assert dry_run("demo", venv) == [f"{venv}/bin/python -m bot demo --lang en"]


def test_ci_and_the_readme_run_the_same_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make --no-print-directory install-test" in ci
    assert ci.rstrip().splitlines()[-1] == "make --no-print-directory test"
    readme = (ROOT / "README.md").read_text()
    quick = readme[readme.index("## Quick start") : readme.index("`python -m bot demo` runs")]
    assert "make demo" in quick and "make test" in quick
