"""Loaded by pytest before coverage starts (``-p tests.preload`` in pyproject's ``addopts``):
a test process's start, measured by coverage without the cost of tracing the libraries.

Coverage measures ``bot/`` only (``source``), but its tracer is called on every frame, and
importing aiogram (~450 pydantic models built at import), openpyxl, hypothesis and the rest
under it made each xdist worker's start ~2x dearer: four workers on two cores
(bench/README.md, "The test suite's cost"). So:

- xdist's workers start without the variable coverage's subprocess patch puts in the
  controller's environment (``COVERAGE_PROCESS_CONFIG``): with it, coverage's ``.pth`` traced
  each worker from its first line, beside the measurement pytest-cov starts in the worker
  itself (which sets the variable again there, for the ``python -m bot`` children). The
  imports it measured are not measured in a worker now (see ``pytest_load_initial_conftests``).
- The ``python -m bot`` children all workers start are forked by one zygote the controller
  starts (``tests/childstart/``): one import of aiogram instead of one per worker.
- Its test modules' asserts are rewritten once, by the controller, while the workers start.
- In each process that runs tests, the libraries the suite's modules import are imported
  before pytest-cov's tracer starts. Every module named here is imported at collection anyway;
  nothing of ``bot/`` is (its lines are measured from their first). xdist's controller runs no
  test and imports none of them.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Generator
from pathlib import Path

import pytest

#: Third-party modules the test modules and their fixtures import at collection (matplotlib,
#: drawn in ``draws`` tests only, and Playwright, started by browser tests, are not).
LIBRARIES = (
    "aiogram",
    "aiogram.types",
    "aiogram.methods",
    "aiohttp",
    "aiohttp.web",
    "pydantic_settings",
    "hypothesis",
    "openpyxl",
    "psycopg",
    "redis.asyncio",
    "pypdf",
    "pypdfium2",
    "prometheus_client",
    "lxml.etree",
    "xmlsec",
    "babel",
)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> Generator[None]:
    """Around pytest-cov's own ``pytest_load_initial_conftests``, which starts its tracer."""
    worker = os.environ.get("PYTEST_XDIST_WORKER") is not None
    if worker or not getattr(early_config.known_args_namespace, "numprocesses", None):
        _preload()  # not in xdist's controller
    if worker:
        # The fixtures (and the bot they import) too: in a worker, what pytest-cov traces
        # before the session starts is never saved (the instance it starts here, as in xdist's
        # controller, is replaced at the session's start and not kept). Coverage's .pth, which
        # measured a worker's imports, no longer runs in workers (above): a partial run under
        # xdist counts a module's import-time lines only where a child or a test imports it
        # later; the whole suite's figure is unchanged (94.8 %). A run without xdist measures
        # them from here.
        pytest.register_assert_rewrite("tests.fixtures")
        importlib.import_module("tests.fixtures")
    return (yield)


#: Coverage's variables, kept from the workers' start (see above) and put back once they run.
_kept: dict[str, str] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_setupnodes(config: pytest.Config) -> None:
    from tests.childstart.spawn import start_shared

    start_shared()  # one zygote for the workers' children, found through the environment
    threading.Thread(target=_rewrite_ahead, args=(config,), daemon=True).start()
    for name in [name for name in os.environ if name.startswith("COVERAGE_PROCESS_")]:
        _kept[name] = os.environ.pop(name)


def pytest_testnodeready() -> None:
    os.environ.update(_kept)  # every worker is started by now


def _rewrite_ahead(config: pytest.Config) -> None:
    """Rewrite the test modules' asserts once, here, while the workers start, into pytest's
    own cache (``tests/__pycache__/*-pytest-*.pyc``, checked by the source's hash): otherwise
    each worker rewrites all of them at collection, ~3 CPU-s apiece, and on a machine that sets
    PYTHONDONTWRITEBYTECODE (these do) never keeps them. pytest's rewriting functions are not
    public: if they change, this does nothing and each worker rewrites as before."""
    try:
        from _pytest.assertion import rewrite

        for source in sorted(Path(__file__).parent.glob("*.py")):
            if not (source.name.startswith("test_") or source.stem in ("conftest", "fixtures")):
                continue
            folder = rewrite.get_cache_dir(source)
            pyc = folder / (source.stem + rewrite.PYC_TAIL)
            if rewrite._read_pyc(source, pyc) is not None or not rewrite.try_makedirs(folder):
                continue
            source_hash, code = rewrite._rewrite_test(source, config)
            rewrite._write_pyc(_Quiet(), code, source_hash, pyc)  # type: ignore[arg-type]
    except Exception:  # only a head start: a worker rewrites what is not here
        pass


class _Quiet:
    def trace(self, message: str) -> None:
        pass


def _preload() -> None:
    for name in LIBRARIES:
        importlib.import_module(name)
