"""Run by every ``python -m bot`` a test execs (``tests/childstart/spawn.py:child_env`` puts this
folder on the child's ``PYTHONPATH``), before the bot's own code; a child the zygote forks is
started the same way by ``zygote.py:become``.

When the test run measures coverage, the child is measured as coverage's subprocess patch
measures it — from before its first line of ``bot/`` — but its tracer starts after the
libraries every ``python -m bot`` imports at start: aiogram (about 450 pydantic models built
at import), aiohttp, pydantic-settings. None of them is measured (``source = ["bot"]``); under
the tracer their import cost ~2 CPU-s more per child, which was a third of the suite's CPU
(bench/README.md, "The test suite's cost"). Without coverage this does nothing.
"""

from __future__ import annotations

import os

#: Where ``child_env`` keeps coverage's own variable, so the ``.pth`` coverage installs does
#: not start the tracer before this hook has imported the libraries.
DEFERRED = "CASHIN_TEST_CHILD_COVERAGE"

_deferred = os.environ.pop(DEFERRED, None)
if _deferred:
    import aiogram.methods
    import aiogram.types  # noqa: F401
    import aiohttp  # noqa: F401
    import pydantic_settings  # noqa: F401

    name, _, value = _deferred.partition("=")
    os.environ[name] = value
    import coverage

    coverage.process_startup()
