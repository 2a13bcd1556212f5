"""Start ``python -m bot`` children for tests: forked by the worker's preloaded interpreter
(``zygote.py``) when it can serve them, else ``exec``'d as before.

:func:`start` answers an object with what tests use of :class:`asyncio.subprocess.Process`
(``pid``, ``returncode``, ``stdin``/``stdout``/``stderr`` streams, ``wait``, ``communicate``,
``send_signal``, ``terminate``, ``kill``); :func:`run` is :func:`subprocess.run` for one.
``CASHIN_TEST_CHILD_START=exec`` execs every child (to compare: ``bench/suite_cost.py``).
A child forked by the zygote is the zygote's child, not the test's: its exit status comes
over the socket (``-N`` for a signal, as asyncio says it), and signals go to its pid.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from tests.childstart.zygote import DEFERRED, interpreter_env

#: This checkout: a ``python -m bot`` child runs its code.
ROOT = Path(__file__).resolve().parents[2]
ZYGOTE = Path(__file__).with_name("zygote.py")
#: Where the session's zygote listens (a folder), for the xdist workers: the controller starts
#: one for all of them (tests/preload.py); a run without xdist starts its own on first use.
SHARED = "CASHIN_TEST_ZYGOTE"
PIPE, DEVNULL, STDOUT = subprocess.PIPE, subprocess.DEVNULL, subprocess.STDOUT
Stream = int | IO[Any] | None


class _Zygote:
    """A zygote listening in ``folder``: started here (:meth:`start`, ended at exit) or by
    xdist's controller for the whole session (found through ``CASHIN_TEST_ZYGOTE``)."""

    def __init__(self, folder: str, process: subprocess.Popen[bytes] | None = None) -> None:
        self.folder = folder
        self.path = os.path.join(folder, "socket")
        self.process = process
        self.interpreter: dict[str, str] = {}
        #: What the interpreter's start added (PEP 538's LC_CTYPE): a child started alike
        #: gets it too, as an exec'd one would.
        self.added: dict[str, str] = {}

    @classmethod
    def start(cls, base: dict[str, str]) -> _Zygote:
        """Start one with ``base`` (``child_env()``) and return at once: :meth:`wait_ready`."""
        folder = tempfile.mkdtemp(prefix="zygote-")
        Path(folder, "base.json").write_text(json.dumps(interpreter_env(base)))
        with open(os.path.join(folder, "zygote.log"), "ab") as log:
            process = subprocess.Popen(
                [sys.executable, str(ZYGOTE), folder],
                env={k: v for k, v in base.items() if k != DEFERRED},
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=log,
                cwd=folder,
            )
        zygote = cls(folder, process)
        atexit.register(zygote.close)
        return zygote

    def wait_ready(self, timeout: float = 120) -> None:
        ready = Path(self.folder, "ready.json")
        deadline = time.monotonic() + timeout
        while not ready.exists():
            gone = self.process is not None and self.process.poll() is not None
            if gone or time.monotonic() > deadline:
                log = Path(self.folder, "zygote.log").read_text(errors="replace")
                raise RuntimeError(f"the zygote in {self.folder} did not start:\n{log[-3000:]}")
            time.sleep(0.02)
        self.interpreter = json.loads(Path(self.folder, "base.json").read_text())
        started: dict[str, Any] = json.loads(ready.read_text())
        self.added = {
            k: v for k, v in started["interpreter"].items() if self.interpreter.get(k) != v
        }
        if self.process is not None:
            _cpu[0] += started["cpu"]

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # it kills what it still runs, and leaves
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:  # its folder is its starter's to remove
            shutil.rmtree(self.folder, ignore_errors=True)


def start_shared() -> None:
    """In xdist's controller, before the workers start: one zygote for all of them (one
    preload instead of one per worker), which they find through ``CASHIN_TEST_ZYGOTE``."""
    if os.environ.get("CASHIN_TEST_CHILD_START") != "exec":
        os.environ[SHARED] = _Zygote.start(child_env()).folder


_zygote: _Zygote | None = None
_lock = threading.Lock()
#: CPU seconds of the zygote's preload and of the children it forked and reaped: they are not
#: this process's children, so RUSAGE_CHILDREN misses them (bench/suite_cost.py adds these;
#: the preload of a zygote xdist's controller started is not among them).
_cpu = [0.0]


def forked_cpu() -> float:
    return _cpu[0]


def _the_zygote(env: Mapping[str, str]) -> _Zygote | None:
    """The zygote that can fork a child with ``env``, or None (exec it)."""
    global _zygote
    if os.environ.get("CASHIN_TEST_CHILD_START") == "exec":
        return None
    with _lock:
        if _zygote is None:
            shared = os.environ.get(SHARED)
            zygote = _Zygote(shared) if shared else _Zygote.start(child_env())
            zygote.wait_ready()
            _zygote = zygote
    if interpreter_env(dict(env)) != _zygote.interpreter:
        return None
    return _zygote


class ForkedProcess:
    """A child the zygote forked: what tests use of asyncio's ``Process``."""

    def __init__(self, pid: int, conn: socket.socket) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdin: asyncio.StreamWriter | None = None
        self.stdout: asyncio.StreamReader | None = None
        self.stderr: asyncio.StreamReader | None = None
        self._conn = conn
        self._waiting: asyncio.Lock | None = None

    async def wait(self) -> int:
        if self._waiting is None:
            self._waiting = asyncio.Lock()
        async with self._waiting:
            if self.returncode is None:
                data = await asyncio.get_running_loop().sock_recv(self._conn, 64)
                self._finished(data)
        assert self.returncode is not None
        return self.returncode

    def _finished(self, data: bytes) -> None:
        self._conn.close()
        word, *numbers = data.decode().split()
        if word != "exit":
            raise RuntimeError(f"the zygote lost child {self.pid}: {data!r}")
        self.returncode = int(numbers[0])
        _cpu[0] += float(numbers[1])

    def send_signal(self, number: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, number)

    def terminate(self) -> None:
        import signal

        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        import signal

        self.send_signal(signal.SIGKILL)

    async def communicate(self, input: bytes | None = None) -> tuple[bytes | None, bytes | None]:
        async def feed() -> None:
            if self.stdin is None:
                return
            if input:
                self.stdin.write(input)
                with contextlib.suppress(ConnectionError):
                    await self.stdin.drain()
            self.stdin.close()

        async def read(stream: asyncio.StreamReader | None) -> bytes | None:
            return None if stream is None else await stream.read()

        _, out, err = await asyncio.gather(feed(), read(self.stdout), read(self.stderr))
        await self.wait()
        return out, err


def child_env(*, early_tracer: bool = False) -> dict[str, str]:
    """The environment a ``python -m bot`` child starts from: PATH, this checkout on
    PYTHONPATH, and coverage's variable (its subprocess patch measures a child through it; the
    tests' own settings are added by each caller, nothing else of this process leaks in).

    Coverage's tracer starts in the child once the libraries every start imports are loaded
    (``tests/childstart/sitecustomize.py``): the child's own lines are measured as before, and
    the suite spends ~2 CPU-s less per child. ``early_tracer`` keeps coverage's own start, the
    first thing in the interpreter (a test of what a fresh interpreter loads), as does
    ``CASHIN_TEST_CHILD_TRACER=early`` for every child (to measure what the hook saves:
    ``bench/suite_cost.py``)."""
    keep = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    coverage = {k: v for k, v in os.environ.items() if k.startswith("COVERAGE_PROCESS_")}
    early_tracer = early_tracer or os.environ.get("CASHIN_TEST_CHILD_TRACER") == "early"
    if early_tracer or len(coverage) != 1:
        keep.update(coverage)
        return keep
    [(name, value)] = coverage.items()
    keep[DEFERRED] = f"{name}={value}"
    keep["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests" / "childstart")])
    return keep


#: A child, forked or exec'd.
Child = ForkedProcess | asyncio.subprocess.Process


async def start(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | Path | None = None,
    stdin: Stream = None,
    stdout: Stream = None,
    stderr: Stream = None,
    module: str = "bot",
) -> Child:
    """``python -m MODULE ARGS`` with exactly ``env``: forked if the zygote can, else exec'd."""
    zygote = await asyncio.to_thread(_the_zygote, env)
    if zygote is None:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, *args,
            env=dict(env), cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr,
        )  # fmt: skip
    loop = asyncio.get_running_loop()
    ours: list[int] = []  # the test's ends of the pipes (-1: none)
    theirs: list[int] = []  # what the child gets as 0, 1, 2
    opened: list[int] = []  # made for this request: the child holds its copies once sent
    try:
        for number, wanted in enumerate((stdin, stdout, stderr)):
            theirs.append(_child_end(number, wanted, theirs, ours, opened))
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        conn.connect(zygote.path)
        request = {
            "args": list(args),
            "env": {**env, **zygote.added},
            "cwd": str(cwd or os.getcwd()),
            "module": module,
        }
        socket.send_fds(conn, [json.dumps(request).encode()], theirs)
    except BaseException:
        for fd in ours:
            if fd >= 0:
                os.close(fd)
        raise
    finally:
        for fd in opened:
            os.close(fd)
    conn.setblocking(False)
    try:  # the pid, once it has forked: awaited, not blocking the tests' loop
        answer = (await asyncio.wait_for(loop.sock_recv(conn, 64), 30)).decode()
    except (OSError, TimeoutError) as exc:
        answer = f"({exc!r})"
    if not answer.startswith("pid "):
        conn.close()
        for fd in ours:
            if fd >= 0:
                os.close(fd)
        raise RuntimeError(f"the zygote did not start the child: {answer!r}")
    process = ForkedProcess(int(answer.split()[1]), conn)
    if stdin == PIPE:
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(ours[0], "wb", buffering=0)
        )
        process.stdin = asyncio.StreamWriter(transport, protocol, None, loop)
    for name, fd in (("stdout", ours[1]), ("stderr", ours[2])):
        if fd >= 0:
            reader = asyncio.StreamReader(limit=2**16, loop=loop)
            await loop.connect_read_pipe(
                lambda reader=reader: asyncio.StreamReaderProtocol(reader, loop=loop),
                os.fdopen(fd, "rb", buffering=0),
            )
            setattr(process, name, reader)
    return process


def _child_end(
    number: int, wanted: Stream, theirs: list[int], ours: list[int], opened: list[int]
) -> int:
    """The descriptor the child gets as ``number``; a pipe's other end goes to ``ours``."""
    if wanted == PIPE:
        read, write = os.pipe()
        mine, child = (write, read) if number == 0 else (read, write)
        os.set_inheritable(mine, False)
        ours.append(mine)
        opened.append(child)
        return child
    ours.append(-1)
    if wanted == DEVNULL:
        fd = os.open(os.devnull, os.O_RDWR)
        opened.append(fd)
        return fd
    if wanted == STDOUT:
        assert number == 2
        return theirs[1]
    if wanted is None:
        return number
    if isinstance(wanted, int):
        return wanted
    return wanted.fileno()


def run(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | Path | None = None,
    input: bytes | str | None = None,
    text: bool = False,
    timeout: float = 120,
) -> subprocess.CompletedProcess[Any]:
    """:func:`subprocess.run` of ``python -m bot ARGS`` with its output captured."""

    async def go() -> tuple[int, bytes, bytes]:
        process = await start(
            args, env=env, cwd=cwd, stdin=PIPE if input is not None else DEVNULL,
            stdout=PIPE, stderr=PIPE,
        )  # fmt: skip
        data = input.encode() if isinstance(input, str) else input
        try:
            out, err = await asyncio.wait_for(process.communicate(data), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        return int(process.returncode or 0), out or b"", err or b""

    code, out, err = asyncio.run(go())
    command = [sys.executable, "-m", "bot", *args]
    if text:
        return subprocess.CompletedProcess(command, code, out.decode(), err.decode())
    return subprocess.CompletedProcess(command, code, out, err)
