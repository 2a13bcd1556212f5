"""How the suite is collected: backends, the pyramid's marks, the slow suites first; and its
fixtures (``tests/fixtures.py``), loaded where tests run.

xdist's controller loads this file before it starts its workers, and runs no test: it does not
load the fixtures (aiogram's ~450 models, the bot, Playwright: seconds of CPU before any worker
could start). A worker, or a run without ``-n``, loads them as a plugin.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    controller = bool(config.getoption("numprocesses", None)) and not hasattr(config, "workerinput")
    if not controller:
        config.pluginmanager.import_plugin("tests.fixtures")


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Where the backend is what is tested (``@pytest.mark.backends``, on a test or a
    module), a test runs on SQLite and on PostgreSQL; people's flows run on SQLite. A test
    that names its backend itself (``parametrize("database_url", …, indirect=True)``) keeps
    it."""
    if "database_url" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        if "database_url" in (names.split(",") if isinstance(names, str) else names):
            return
    both = metafunc.definition.get_closest_marker("backends") is not None
    metafunc.parametrize("database_url", BACKENDS if both else BACKENDS[:1], indirect=True)


#: Suites whose tests take tens of seconds each and spend them waiting (a part held away for
#: 15 or 35 s), not computing: each one worker's from the start, while the other workers keep
#: both cores busy.
WAITING = ("test_parts", "test_blips")
#: Then the suites that take longest (summed; measured: bench/suite_cost.py), the longest
#: first, so that no worker starts one of them when the others are nearly done; then the rest,
#: the largest first.
LONG = (
    "test_cluster",
    "test_faults",
    "test_crash",
    "test_rush",
    "test_demo",
    "test_ops",
    "test_security",
    "test_docker",
    "test_architecture",
    "test_preflight",
    "test_security_2",
    "test_childstart",
    "test_imports",
    # These wait more than they compute: after the busy ones, once the waiting suites end.
    "test_approvals_26",
    "test_loops",
    "test_desk_browser",
    "test_browser",
    "test_db",
)


def _schedule(items: list[pytest.Item]) -> list[pytest.Item]:
    """The order xdist hands the suites out in (``--dist loadscope --no-loadscope-reorder`` in
    pyproject.toml: a test module is one worker's, the next module goes to the next worker that
    frees up): the waiting suites, the long ones, then the rest, the largest first.
    Measured: bench/README.md, "The test suite's cost"."""
    by_suite: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_suite.setdefault(item.path.stem, []).append(item)
    first = [item for name in WAITING + LONG for item in by_suite.pop(name, [])]
    rest = sorted(by_suite.values(), key=len, reverse=True)
    return first + [item for suite in rest for item in suite]


#: The suites where the bot's own parts fail: processes killed, the journal, Redis, Allpay
#: or Telegram away, several instances (marked ``failures``).
FAILURE_SUITES = frozenset(
    {"test_crash", "test_blips", "test_faults", "test_parts", "test_cluster", "test_loops"}
)


#: Fixtures that start the whole bot over HTTP (the Bot API stand-in), and the suites that
#: start ``python -m bot`` (or a wheel, a container's command) as a process: ``e2e``.
WHOLE_BOT = frozenset({"telegram", "controlled", "harness"})
PROCESS_SUITES = frozenset({"test_docker", "test_demo", "test_make", "test_ops", "test_preflight"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The pyramid's floors marked (``-m "not e2e and not failures"``: the domain's, the use
    cases' and the handlers' tests alone, in seconds; the README's command runs them all),
    and the order the workers take them in (:func:`_schedule`)."""
    for item in items:
        if item.path.stem in FAILURE_SUITES:
            item.add_marker(pytest.mark.failures)
        if item.path.stem in PROCESS_SUITES or WHOLE_BOT & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
    items[:] = _schedule(items)
