"""What operators run beside the bot: Prometheus alerting rules, their unit tests, the Grafana
dashboard, and a /metrics that answers while the journal is down.

promtool (Debian's ``prometheus`` package carries it; ``.ci/run`` unpacks it into
``.ci/bin/``, no daemon) is looked for at ``$PROMTOOL``, on ``PATH``, at ``.ci/bin/promtool``
and at ``/opt/promtool/promtool``. Without it the tests that run it skip in one line — and
fail under ``CI=true``, where a missing promtool is a broken CI, not a laptop.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bot.allpay.protocol import PayStatus
from bot.domain.balance import BalanceState
from bot.domain.clock import utcnow
from bot.domain.model import Status
from bot.infra.loops import BackgroundLoop
from bot.telegram.runtime.pacing import Lane
from bot.telegram.runtime.watch import TelegramReach
from bot.usecases.reports import Reports
from bot.wiring.metrics import JOURNAL_WAIT, Metrics, Vitals
from bot.wiring.web import start_web
from tests.harness import Harness, seed_payment

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULES_TEST = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "cashin-dashboard.json"
README = ROOT / "README.md"

#: Series Prometheus makes itself, not the bot: ``up`` (the scrape of /metrics answered).
PROMETHEUS_OWN = {"up"}


# ---------------------------------------------------------------- promtool


def find_promtool() -> str | None:
    candidates = [
        os.environ.get("PROMTOOL"),
        shutil.which("promtool"),
        str(ROOT / ".ci" / "bin" / "promtool"),
        "/opt/promtool/promtool",
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def promtool() -> str:
    found = find_promtool()
    if found is None:
        reason = (
            "promtool not found ($PROMTOOL, PATH, .ci/bin/promtool, /opt/promtool/promtool); "
            "Debian's prometheus package carries it: .ci/run unpacks it"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: required)", pytrace=False)
        pytest.skip(reason)
    return found


def run_promtool(promtool: str, *args: str) -> str:
    done = subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=60, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{output}"
    return output


def test_promtool_checks_the_rules(promtool: str) -> None:
    output = run_promtool(promtool, "check", "rules", str(RULES))
    assert f"SUCCESS: {len(alerts())} rules found" in output


def test_promtool_unit_tests_fire_each_alert_and_leave_it_quiet(promtool: str) -> None:
    output = run_promtool(promtool, "test", "rules", str(RULES_TEST))
    assert "SUCCESS" in output


def test_promtool_parses_every_dashboard_expression(promtool: str, tmp_path: Path) -> None:
    """Grafana's variables put in (a range, a job, an instance regex), each expression is a
    recording rule: ``promtool check rules`` then parses every one."""
    rules = [
        {"record": f"dashboard:expression_{number}", "expr": grafana_to_promql(expr)}
        for number, expr in enumerate(dashboard_expressions())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    output = run_promtool(promtool, "check", "rules", str(path))
    assert f"SUCCESS: {len(rules)} rules found" in output


# ---------------------------------------------------------------- the files themselves


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard_expressions() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    panels = list(board["panels"])
    for panel in board["panels"]:
        panels.extend(panel.get("panels", []))  # a collapsed row keeps its panels
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def dashboard_variable_metrics() -> list[str]:
    """The metric of each ``label_values(metric{…}, label)`` variable of the dashboard."""
    board = json.loads(DASHBOARD.read_text())
    names = []
    for variable in board["templating"]["list"]:
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        match = re.match(r"label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)", text)
        if variable["type"] == "query":
            assert match, f"dashboard variable {variable['name']}: {text!r}"
            names.append(match.group(1))
    return names


def grafana_to_promql(expr: str) -> str:
    return expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")


def readme_anchors() -> set[str]:
    """GitHub's anchors of README's headings (lower case, punctuation dropped, spaces -)."""
    anchors = set()
    for line in README.read_text().splitlines():
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            text = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def test_every_alert_says_what_to_do_and_has_a_firing_and_a_quiet_test() -> None:
    tests = yaml.safe_load(RULES_TEST.read_text())["tests"]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    anchors = readme_anchors()
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names))
    for rule in alerts():
        name = rule["alert"]
        annotations = rule.get("annotations", {})
        assert annotations.get("summary") and annotations.get("description"), name
        assert rule.get("labels", {}).get("severity") in {"warning", "critical"}, name
        runbook = annotations.get("runbook_url", "")
        assert runbook == f"README.md#{name.lower()}", name
        assert name.lower() in anchors, f"README has no runbook heading for {name}"
        mine = [case for case in cases if case["alertname"] == name]
        assert any(case.get("exp_alerts") for case in mine), f"no test fires {name}"
        assert any(not case.get("exp_alerts") for case in mine), f"no test keeps {name} quiet"


# ---------------------------------------------------------------- names the bot exports

#: PromQL words that are not metric names.
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (a small lexer, enough for these files:
    strings, label matchers, ranges and grouping labels dropped; functions are the words
    followed by a parenthesis)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group()
        before = text[match.start() - 1] if match.start() else " "
        if before.isdigit() or before == ".":  # 5m, 1e3
            continue
        if text[match.end() :].lstrip().startswith("(") or word.lower() in _KEYWORDS:
            continue
        names.add(word)
    return names


def test_the_lexer_finds_metric_names() -> None:
    assert metric_names(
        'max without (instance) (a_total{job="x", status=~"A|B"}) > on (job) b offset 5m'
    ) == {"a_total", "b"}
    assert metric_names(
        "histogram_quantile(0.95, sum by (le) (rate(c_bucket{x='{}'}[$__rate_interval])))"
    ) == {"c_bucket"}
    assert metric_names("time() - d_seconds > 1e3 and bool e") == {"d_seconds", "e"}


class _Reports:
    """Reports' one call /metrics makes: payments per status and the oldest open one."""

    async def health(self) -> tuple[dict[Status, int], datetime | None]:
        return {Status.COMPLETED: 3, Status.PENDING: 1}, utcnow() - timedelta(minutes=1)


class _Loop(BackgroundLoop):
    name = "idle"

    async def run_once(self) -> int:
        return 0

    async def next_due(self) -> datetime | None:
        return None


async def _balance_state() -> BalanceState:
    now = utcnow()
    return BalanceState(True, now, Decimal("99000.50"), now)


async def exported_series() -> set[str]:
    """Every series name a bot's registry exports once each of its metrics has been used:
    histograms' ``_bucket``/``_sum``/``_count`` and counters' ``_total``/``_created`` as
    ``generate_latest`` writes them."""
    metrics = Metrics()
    metrics.observe_allpay("createCashInPayment", 0.2, None)
    metrics.observe_allpay("createCashInPayment", 30.0, "timeout")
    metrics.waited(Lane.STATUS, 0.01)
    metrics.refused(Lane.FEED)
    metrics.telegram_retry_after.inc()
    metrics.watch_queue(lambda: {Lane.REPLY: 2})

    async def yes() -> bool:
        return True

    loop = _Loop()
    loop.last_run = utcnow()
    vitals = Vitals(
        writable=yes,
        telegram=TelegramReach(reachable=True, last_success=utcnow()),
        loops={"resolver": loop, "outbox": loop},
        redis=yes,
        pending_alert_after=600.0,
        allpay_last_success=utcnow(),
        balance=_balance_state,
        balance_alert_below=Decimal(100_000),
    )
    text = (await metrics.render(cast(Reports, _Reports()), vitals)).decode()
    return {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }


async def test_rules_and_dashboard_name_only_series_the_bot_exports() -> None:
    exported = await exported_series() | PROMETHEUS_OWN
    # What the alerts need is there, under these names.
    assert {
        "cashin_telegram_up",
        "cashin_journal_up",
        "cashin_journal_writable",
        "cashin_redis_up",
        "cashin_loop_alive",
        "cashin_resolver_last_pass_timestamp_seconds",
        "cashin_pending_oldest_age_seconds",
        "cashin_pending_alert_after_seconds",
        "cashin_payments",
        "telegram_retry_after_total",
        "cashin_agent_balance_below",
    } <= exported
    used: dict[str, set[str]] = {}
    for rule in alerts():
        used[f"alerts.yml {rule['alert']}"] = metric_names(rule["expr"])
    for number, expr in enumerate(dashboard_expressions()):
        used[f"dashboard expression {number}: {expr}"] = metric_names(expr)
    for name in dashboard_variable_metrics():
        used[f"dashboard variable on {name}"] = {name}
    for test in yaml.safe_load(RULES_TEST.read_text())["tests"]:
        for series in test["input_series"]:
            used[f"alerts_test.yml series {series['series']}"] = metric_names(series["series"])
    for where, names in used.items():
        assert names, f"{where}: no metric name found"
        assert names <= exported, f"{where}: not exported by the bot: {sorted(names - exported)}"


async def test_a_bot_without_redis_exports_no_redis_gauge() -> None:
    """An absent gauge, not a 0: CashinRedisDown must not fire where there is no Redis."""
    metrics = Metrics()

    async def yes() -> bool:
        return True

    vitals = Vitals(writable=yes, telegram=TelegramReach(reachable=True))
    text = (await metrics.render(cast(Reports, _Reports()), vitals)).decode()
    assert "cashin_redis_up" not in text and "cashin_journal_writable 1.0" in text
    assert "cashin_agent_balance" not in text  # nor the balance's, where it is not watched


# ------------------------------------------------------- /metrics while the journal is down


async def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        text = await response.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


UP = ("cashin_journal_up", ())
WRITABLE = ("cashin_journal_writable", ())
READ_AT = ("cashin_journal_last_read_timestamp_seconds", ())
COMPLETED = ("cashin_payments", (("status", "COMPLETED"),))
OPEN = ("cashin_pending_payments", ())
OLDEST = ("cashin_pending_oldest_age_seconds", ())


async def test_metrics_answer_while_the_journal_is_down(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = harness.app
    await seed_payment(harness.journal, status=PayStatus.COMPLETED)
    await seed_payment(
        harness.journal, status=PayStatus.PENDING, created_at=utcnow() - timedelta(minutes=30)
    )
    runner = await start_web(app, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/metrics"
    release = asyncio.Event()

    async def hangs(*_args: Any) -> Any:
        """A journal that accepts the connection and never answers (until released)."""
        await release.wait()
        raise ConnectionError("the journal went away")

    async def refuses(*_args: Any) -> Any:
        raise ConnectionRefusedError("connection refused")

    try:
        before = await scrape(url)
        assert before[UP] == 1 and before[WRITABLE] == 1
        assert before[COMPLETED] == 1 and before[OPEN] == 1 and before[OLDEST] >= 30 * 60
        # Each scrape from here asks the journal again (no few seconds' reuse).
        for probe in (app.metrics.journal_probe, app.metrics.writable_probe):
            monkeypatch.setattr(probe, "fresh", 0.0)

        with monkeypatch.context() as down:
            # It hangs: the scrape waits JOURNAL_WAIT at most, then serves the last figures.
            down.setattr(app.db, "read", hangs)
            down.setattr(app.db, "writable", hangs)
            started = time.monotonic()
            during = await scrape(url)
            assert time.monotonic() - started < JOURNAL_WAIT + 1.0
            assert during[UP] == 0 and during[WRITABLE] == 0
            assert during[COMPLETED] == 1 and during[OPEN] == 1
            assert during[READ_AT] == before[READ_AT]
            assert during[OLDEST] >= before[OLDEST]  # the open payment keeps ageing meanwhile

            # A second scraper while that read still hangs: answered at once, no second wait.
            started = time.monotonic()
            again = await scrape(url)
            assert time.monotonic() - started < 0.5
            assert again[UP] == 0 and again[COMPLETED] == 1

            # The hung read fails; then the journal refuses outright: still 200, still the
            # last figures.
            release.set()
            down.setattr(app.db, "read", refuses)
            down.setattr(app.db, "writable", refuses)
            await asyncio.sleep(0.05)
            refused = await scrape(url)
            assert refused[UP] == 0 and refused[WRITABLE] == 0 and refused[COMPLETED] == 1

        # Back: fresh figures at the next scrape.
        after = await scrape(url)
        assert after[UP] == 1 and after[WRITABLE] == 1 and after[READ_AT] > before[READ_AT]
    finally:
        release.set()
        monkeypatch.undo()
        await runner.cleanup()
