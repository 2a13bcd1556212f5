"""A preloaded interpreter that forks the ``python -m bot`` children tests start
(``tests/childstart/spawn.py`` asks it; run as ``python zygote.py FOLDER``: it listens on
``FOLDER/socket`` and writes ``FOLDER/ready.json`` once it does).

A ``python -m bot`` spends ~4 CPU-s of these machines importing aiogram (about 450 pydantic
models built at import), aiohttp and pydantic-settings before its first line of work; the
suite starts about a hundred of them. This process imports those libraries once, then for each
request forks a child that becomes what ``python -m MODULE ARGS`` would have been: the
request's environment (replaced, not merged), working directory, standard streams (file
descriptors passed over the socket), ``sys.argv`` and ``sys.path[0]`` as ``-m`` sets them,
coverage started as ``sitecustomize.py`` starts it (nothing of ``bot`` is loaded here, so
the child's own lines are measured from its first), and the module run by the same
``runpy`` function ``-m`` uses. The child is a real process: its exit status is its own
(``sys.exit``, an uncaught exception's traceback and status 1, a signal), reported to the
asking test by this process, which reaps it.

Only requests whose interpreter would start exactly as this one did are served — the same
``PYTHONPATH``, no other ``PYTHON*`` variable, the same locale variables, and what the start
added to them (``LC_CTYPE=C.UTF-8`` where the locale is C, PEP 538); the client runs any
other with ``exec``. The zygote itself is single-threaded (forking is safe) and ends when its
standard input (a pipe from the test worker) closes, killing any child still running.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import sys
import time
from typing import Any

#: The libraries every ``python -m bot`` imports at start, and nothing whose import reads what
#: the tests vary (matplotlib reads its config folder: it is not here). What differs from an
#: exec'd child: these are loaded (aiohttp's default SSL context made at import), and every
#: forked child shares the zygote's hash seed.
PRELOAD = ("aiogram", "aiogram.types", "aiogram.methods", "aiohttp", "aiohttp.web")
#: Environment variables an interpreter reads at start: a request must agree on them.
#: ``sitecustomize.py`` defers coverage under this name (its ``DEFERRED``): the child's business.
DEFERRED = "CASHIN_TEST_CHILD_COVERAGE"
#: The largest request (its environment); the descriptors ride along.
MAX_REQUEST = 1 << 20


def interpreter_env(env: dict[str, str]) -> dict[str, str]:
    """What of ``env`` shapes an interpreter's start: PYTHON* and the locale."""
    return {
        k: v
        for k, v in env.items()
        if k.startswith("PYTHON") or k in ("LANG", "LANGUAGE") or k.startswith("LC_")
    }


def serve(folder: str) -> dict[str, Any]:
    """Serve requests until stdin closes; returns only in a forked child, its request."""
    for name in PRELOAD:
        __import__(name)
    import pydantic_settings  # noqa: F401  (the settings; imported last: it is quick)

    mine = interpreter_env(dict(os.environ))
    path = os.path.join(folder, "socket")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "listener")
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
    children: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, the asker)
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    ready = {"interpreter": mine, "cpu": usage.ru_utime + usage.ru_stime}
    with open(os.path.join(folder, "ready.tmp"), "w", encoding="utf-8") as out:
        json.dump(ready, out)  # what the interpreter's start set; the preload's CPU
    os.replace(os.path.join(folder, "ready.tmp"), os.path.join(folder, "ready.json"))
    try:
        while True:
            for key, _ in selector.select():
                if key.data == "stdin":
                    if not os.read(sys.stdin.fileno(), 4096):
                        return _shutdown(children)
                elif key.data == "listener":
                    conn, _ = listener.accept()
                    request = _receive(conn, mine)
                    if request is None:
                        conn.close()
                        continue
                    pid = os.fork()
                    if pid == 0:
                        selector.close()
                        listener.close()
                        conn.close()
                        for pidfd, (_, asker) in children.items():
                            os.close(pidfd)
                            asker.close()
                        return request
                    for fd in request["fds"]:
                        os.close(fd)
                    pidfd = os.pidfd_open(pid)
                    children[pidfd] = (pid, conn)
                    selector.register(pidfd, selectors.EVENT_READ, "child")
                    with contextlib.suppress(OSError):
                        conn.send(f"pid {pid}".encode())
                else:
                    pidfd = key.fd
                    pid, conn = children.pop(pidfd)
                    selector.unregister(pidfd)
                    os.close(pidfd)
                    _, status, usage = os.wait4(pid, 0)
                    code, cpu = os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
                    with contextlib.suppress(OSError):
                        conn.send(f"exit {code} {cpu:.3f}".encode())
                    conn.close()
    finally:
        if os.getpid() == _ZYGOTE:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _receive(conn: socket.socket, mine: dict[str, str]) -> dict[str, Any] | None:
    """The request on ``conn``, or None for one this zygote cannot serve as asked (refused:
    the asker execs it) or cannot read at all: a bad request never ends the zygote."""
    fds: list[int] = []
    try:
        conn.settimeout(10)
        data, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 3)
        request: dict[str, Any] = json.loads(data)
        request["fds"] = fds
        usable = len(fds) == 3 and interpreter_env(request["env"]) == mine
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        usable = False
    if not usable:
        for fd in fds:
            os.close(fd)
        with contextlib.suppress(OSError):
            conn.send(b"refused")
        return None
    return request


def _shutdown(children: dict[int, tuple[int, socket.socket]]) -> dict[str, Any]:
    for pid, _ in children.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid, _ in children.values():
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    raise SystemExit(0)


def become(request: dict[str, Any]) -> None:
    """In the forked child: the request's streams, directory, environment and arguments."""
    for target, fd in enumerate(request["fds"]):
        os.dup2(fd, target)
    for fd in set(request["fds"]):
        if fd > 2:
            os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()  # the zone a fresh interpreter would read from TZ
    deferred = os.environ.pop(DEFERRED, None)
    if deferred:  # as sitecustomize.py starts coverage in an exec'd child
        name, _, value = deferred.partition("=")
        os.environ[name] = value
        import coverage

        coverage.process_startup()
    sys.argv = ["-m", *request["args"]]
    sys.path[0] = os.getcwd()  # what ``-m`` puts first


_ZYGOTE = os.getpid()

if __name__ == "__main__":
    import runpy
    import types

    wanted = serve(sys.argv[1])  # returns in a forked child only
    become(wanted)
    module = wanted["module"]
    del wanted
    sys.modules["__main__"] = types.ModuleType("__main__")  # a fresh one, as ``-m`` has
    runpy._run_module_as_main(module)  # type: ignore[attr-defined]  # what ``-m`` calls
