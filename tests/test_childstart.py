"""The tests' ``python -m bot`` children are forked by a preloaded interpreter
(``tests/childstart/zygote.py``): a forked child must start as an exec'd one would — the same
arguments, ``sys.path[0]``, directory, environment (exactly the given one), streams, a fresh
``__main__``, nothing of ``bot`` loaded, coverage measuring it — and end with its own status."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.childstart import spawn
from tests.harness import child_env

PROBE = "tests.childstart.probe"


async def _exec(args: list[str], env: dict[str, str], cwd: Path, stdin: bytes) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", PROBE, *args, env=env, cwd=cwd,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(stdin), 60)
    assert process.returncode == 0
    seen: dict[str, Any] = json.loads(out.decode().splitlines()[0])
    return seen


async def _forked(args: list[str], env: dict[str, str], cwd: Path, stdin: bytes) -> dict[str, Any]:
    process = await spawn.start(
        args, env=env, cwd=cwd, stdin=spawn.PIPE, stdout=spawn.PIPE, module=PROBE
    )
    assert isinstance(process, spawn.ForkedProcess)
    out, _ = await asyncio.wait_for(process.communicate(stdin), 60)
    assert process.returncode == 0 and out is not None
    seen: dict[str, Any] = json.loads(out.decode().splitlines()[0])
    return seen


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASHIN_TEST_CHILD_START", raising=False)


@pytest.mark.usefixtures("forking")
async def test_a_forked_child_starts_as_an_execd_one(tmp_path: Path) -> None:
    env = {**child_env(), "HOME": str(tmp_path), "SOMETHING": "ä b"}
    execd = await _exec(["stdin", "x"], env, tmp_path, b"typed\n")
    forked = await _forked(["stdin", "x"], env, tmp_path, b"typed\n")
    assert forked == execd
    assert forked["argv"][1:] == ["stdin", "x"] and forked["stdin"] == "typed\n"
    assert forked["bot_loaded"] == []
    assert forked["main_names"] == ["annotations", "json", "main", "os", "sys"]
    # The given environment (and what Python's start adds to it, as the exec'd one's did).
    assert forked["env"]["SOMETHING"] == "ä b" and "PYTEST_CURRENT_TEST" not in forked["env"]
    assert forked["measured"] == any(k.startswith("COVERAGE_") for k in forked["env"])


@pytest.mark.usefixtures("forking")
async def test_a_forked_child_ends_with_its_own_status(tmp_path: Path) -> None:
    env = {**child_env(), "HOME": str(tmp_path)}

    async def ended(args: list[str], then: signal.Signals | None = None) -> tuple[int, str]:
        process = await spawn.start(
            args, env=env, cwd=tmp_path, stdin=spawn.PIPE, stdout=spawn.PIPE,
            stderr=spawn.PIPE, module=PROBE,
        )  # fmt: skip
        assert isinstance(process, spawn.ForkedProcess) and process.stdout is not None
        await process.stdout.readline()  # it has started
        if then is not None:
            process.send_signal(then)
        _, err = await asyncio.wait_for(process.communicate(), 60)
        assert err is not None
        return await process.wait(), err.decode()

    assert await ended(["exit", "3"]) == (3, "")
    code, err = await ended(["raise"])
    assert code == 1 and "Traceback" in err and "RuntimeError: the probe fails" in err
    assert (await ended(["wait"], signal.SIGKILL))[0] == -signal.SIGKILL
    assert (await ended(["wait"], signal.SIGTERM))[0] == -signal.SIGTERM


@pytest.mark.usefixtures("forking")
async def test_a_child_the_zygote_cannot_start_alike_is_execd(tmp_path: Path) -> None:
    """Another PYTHONPATH (or any PYTHON* or locale variable) would start another interpreter."""
    env = {**child_env(), "HOME": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    process = await spawn.start(["exit", "0"], env=env, cwd=tmp_path, module=PROBE,
                                stdout=spawn.DEVNULL)  # fmt: skip
    assert isinstance(process, asyncio.subprocess.Process)
    assert await process.wait() == 0


def test_run_is_subprocess_run(tmp_path: Path) -> None:
    env = {**child_env(), "HOME": str(tmp_path)}
    done = spawn.run(["--help"], env=env, cwd=tmp_path, text=True)
    assert done.returncode == 0 and "usage: python -m bot" in done.stdout


@pytest.mark.usefixtures("forking")
async def test_a_bad_request_leaves_the_zygote_serving(tmp_path: Path) -> None:
    """An asker that leaves without a word, or sends no descriptors, is refused alone."""
    import socket

    env = {**child_env(), "HOME": str(tmp_path)}
    first = await spawn.start(["exit", "0"], env=env, cwd=tmp_path, module=PROBE,
                              stdout=spawn.DEVNULL)  # fmt: skip
    assert isinstance(first, spawn.ForkedProcess) and await first.wait() == 0
    assert spawn._zygote is not None
    for payload in (None, b"{not json"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as conn:
            conn.connect(spawn._zygote.path)
            if payload is not None:
                conn.send(payload)
                assert conn.recv(64) == b"refused"
    again = await spawn.start(["exit", "4"], env=env, cwd=tmp_path, module=PROBE,
                              stdout=spawn.DEVNULL)  # fmt: skip
    assert isinstance(again, spawn.ForkedProcess) and await again.wait() == 4
