"""The layering docs/architecture.md describes, checked on the source: each table is written
by its owner module only; the domain model does no I/O; nothing below the Telegram layer
imports aiogram; handlers reach the database only through use cases."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"
OWNERS = {
    "users": "store/roster.py",
    "user_prefs": "store/roster.py",
    "drafts": "store/drafts.py",
    "payments": "store/payments.py",
    "approvals": "store/approvals.py",
    "approval_cards": "store/approvals.py",
    "outbox": "store/outbox.py",
    "audit": "store/audit.py",
    "digests": "store/digests.py",
    "fsm": "store/conversations.py",
    "handovers": "store/handovers.py",
    "handover_write_offs": "store/handovers.py",
    "handover_cards": "store/handovers.py",
    "leases": "store/leases.py",
    "updates": "store/updates.py",
    "balance_watch": "store/balance_watch.py",
}
# The sandbox keeps its own ledger in its own file; migrations create the schema.
OUTSIDE = {"devtools/sandbox/ledger.py", "store/schema/sqlite.py", "store/schema/postgres.py"}


def _sources() -> dict[str, str]:
    return {
        str(path.relative_to(BOT)): path.read_text(encoding="utf-8")
        for path in sorted(BOT.rglob("*.py"))
    }


def _imports(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("table", sorted(OWNERS))
def test_each_table_is_written_by_its_owner_only(table: str) -> None:
    write = re.compile(rf"\b(INSERT INTO|UPDATE|DELETE FROM)\s+{table}\b", re.IGNORECASE)
    writers = {name for name, text in _sources().items() if write.search(text)} - OUTSIDE
    assert writers == {OWNERS[table]}


def test_the_domain_model_does_no_io() -> None:
    allowed_bot = ("bot.domain",)
    for name, text in _sources().items():
        if not name.startswith("domain/"):
            continue
        for module in _imports(text):
            top = module.split(".")[0]
            if top == "bot":
                assert module.startswith(allowed_bot), (name, module)
            else:
                assert top in {
                    "__future__", "collections", "csv", "dataclasses", "datetime",
                    "decimal", "enum", "io", "re", "secrets", "unicodedata", "uuid", "typing",
                }, (name, module)  # fmt: skip


@pytest.mark.parametrize("layer", ["domain/", "store/", "usecases/", "allpay/", "documents/"])
def test_no_aiogram_below_the_telegram_layer(layer: str) -> None:
    for name, text in _sources().items():
        if name.startswith(layer):
            assert not any(m.split(".")[0] == "aiogram" for m in _imports(text)), name


def test_documents_know_the_domain_and_their_formats_only() -> None:
    """The PDF receipt and the XLSX export: no database, no Allpay, no Telegram."""
    for name, text in _sources().items():
        if name.startswith("documents/"):
            for module in _imports(text):
                if module.startswith("bot."):
                    assert module.startswith(("bot.domain", "bot.documents")), (name, module)


def test_the_telegram_layer_never_sees_allpay_wire_types() -> None:
    """Handlers and texts render the domain (``Client``, ``AgentBalance``), which the use
    cases map Allpay's answers to: nothing under bot/telegram imports bot.allpay."""
    for name, text in _sources().items():
        if name.startswith("telegram/"):
            wire = {m for m in _imports(text) if m == "bot.allpay" or m.startswith("bot.allpay.")}
            assert not wire, (name, wire)


def test_handlers_reach_the_database_only_through_use_cases() -> None:
    for name, text in _sources().items():
        if name.startswith("telegram/"):
            assert not any(m.startswith("bot.store") for m in _imports(text)) or name in {
                "telegram/runtime/storage.py"  # aiogram's FSM storage is a store adapter
            }, name
            assert "SELECT " not in text and "UPDATE " not in text, name


def test_no_filter_or_handler_runs_in_a_worker_thread() -> None:
    """aiogram runs a synchronous filter or handler (a bare ``F.text``, a ``State``) in a
    worker thread: a thread hop on every update that reaches it. Every one here is async."""
    from aiogram import Router

    from bot.telegram.routers import build_router

    def walk(router: Router) -> list[str]:
        sync: list[str] = []
        for name, observer in router.observers.items():
            for handler in observer.handlers:
                where = f"{router.name}.{name}.{handler.callback.__name__}"
                if not handler.awaitable:
                    sync.append(where)
                sync += [
                    f"{where}: {f.callback!r}" for f in handler.filters or [] if not f.awaitable
                ]
            sync += [
                f"{router.name}.{name}: {f.callback!r}"
                for f in observer._handler.filters or []
                if not f.awaitable
            ]
        for child in router.sub_routers:
            sync += walk(child)
        return sync

    assert walk(build_router()) == []


def _module_graph() -> dict[str, set[str]]:
    """Which of bot/'s modules each one imports — at its top, under TYPE_CHECKING or inside a
    function alike: a cycle is a cycle to a reader whichever way Python resolves it."""
    modules = {
        ".".join(("bot", *path.relative_to(BOT).with_suffix("").parts)).removesuffix(
            ".__init__"
        ): path
        for path in BOT.rglob("*.py")
    }
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def test_no_module_imports_itself_back() -> None:
    """No import cycles in bot/ (Tarjan's strongly connected components)."""
    graph = _module_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert cycles == []
    assert "bot.store.db" in graph["bot.store.postgres"]  # the graph sees imports at all


def test_settings_know_neither_the_store_nor_the_protocol() -> None:
    """Settings are read by every layer: they import none of them (the URL helpers live in
    bot/infra/redaction.py, the API version is a plain value the Allpay client turns into its
    own)."""
    modules = sorted((BOT / "config").glob("*.py"))
    assert {path.name for path in modules} >= {"settings.py", "checks.py"}
    for path in modules:
        imported = _imports(path.read_text(encoding="utf-8"))
        assert not {name for name in imported if name.startswith(("bot.store", "bot.allpay"))}


#: What each named layer may not import (docs/architecture.md's table).
LAYER_NEVER = {
    "domain": ("bot.store", "bot.allpay", "bot.usecases", "bot.telegram", "bot.wiring"),
    "infra": ("bot.store", "bot.allpay", "bot.usecases", "bot.telegram", "bot.wiring"),
    "config": ("bot.store", "bot.allpay", "bot.usecases", "bot.telegram", "bot.wiring"),
    "allpay": ("bot.store", "bot.usecases", "bot.telegram", "bot.wiring"),
    "store": ("bot.allpay", "bot.usecases", "bot.telegram", "bot.wiring"),
    "usecases": ("bot.telegram", "bot.wiring"),
    "telegram": ("bot.wiring", "bot.allpay"),
}


@pytest.mark.parametrize("layer", sorted(LAYER_NEVER))
def test_each_layer_imports_only_the_layers_below_it(layer: str) -> None:
    """Counting imports under TYPE_CHECKING and inside functions: the wiring is imported by
    ``python -m bot`` (and the stand-ins, which run the bot), nothing else."""
    graph = _module_graph()
    found = {
        (name, target)
        for name, targets in graph.items()
        if name.startswith(f"bot.{layer}.") or name == f"bot.{layer}"
        for target in targets
        if target.startswith(LAYER_NEVER[layer])
    }
    assert found == set()


def test_every_aiogram_middleware_is_in_the_telegram_layer() -> None:
    """A class whose bases name aiogram's middlewares (its own, its request middleware,
    I18nMiddleware, or a subclass of one defined here) lives under bot/telegram/."""
    aiogram_bases = {"BaseMiddleware", "BaseRequestMiddleware", "I18nMiddleware"}
    homes: dict[str, str] = {}
    for _round in range(3):  # subclasses of subclasses
        for name, text in _sources().items():
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.ClassDef):
                    bases = {ast.unparse(base).rpartition(".")[2] for base in node.bases}
                    if bases & (aiogram_bases | set(homes)):
                        homes[node.name] = name
    assert "LocaleMiddleware" in homes and "Pacer" in homes  # the walk sees them
    outside = {cls: name for cls, name in homes.items() if not name.startswith("telegram/")}
    assert outside == {}


#: bot/telegram/'s packages that are not features: what the features share, what they run on.
NOT_FEATURES = {"shared", "runtime"}


def _features() -> list[Path]:
    return sorted(
        path
        for path in (BOT / "telegram").iterdir()
        if (path / "__init__.py").exists() and path.name not in NOT_FEATURES
    )


def test_each_feature_has_its_router_factory() -> None:
    """Every feature package under bot/telegram/ has a ``router.py`` building its router."""
    features = _features()
    assert {"cashin", "cash", "approvals", "history", "reports", "roster", "basics"} <= {
        feature.name for feature in features
    }
    for feature in features:
        router = feature / "router.py"
        assert router.exists(), feature.name
        factories = [
            node.name
            for node in ast.parse(router.read_text(encoding="utf-8")).body
            if isinstance(node, ast.FunctionDef) and re.fullmatch(r"make_\w*router", node.name)
        ]
        assert factories, feature.name


def test_a_feature_imports_no_other_features_router() -> None:
    """A feature may use another's words or buttons, never its handlers: only
    bot/telegram/routers.py puts the routers together."""
    graph = _module_graph()
    features = {feature.name for feature in _features()}
    found = []
    for name, targets in graph.items():
        parts = name.split(".")
        if parts[:2] != ["bot", "telegram"] or len(parts) < 3 or parts[2] not in features:
            continue
        for target in targets:
            other = target.split(".")
            if (
                other[:2] == ["bot", "telegram"]
                and len(other) >= 4
                and other[2] in features
                and other[2] != parts[2]
                and other[3] == "router"
            ):
                found.append((name, target))
    assert found == []


#: No module in bot/ is longer: one that grows past it splits by responsibility.
MODULE_LINES = 400


def test_no_module_is_longer_than_the_bound() -> None:
    long = {
        name: lines
        for name, text in _sources().items()
        if (lines := len(text.splitlines())) > MODULE_LINES
    }
    assert long == {}


def test_the_root_holds_only_the_entry_point() -> None:
    """Every module sits in a named layer (docs/architecture.md); the root has the package and
    ``python -m bot``."""
    root = sorted(path.name for path in BOT.glob("*.py"))
    assert root == ["__init__.py", "__main__.py"]
