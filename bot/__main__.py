"""``python -m bot``: run the bot; ``python -m bot sandbox``: the Allpay sandbox alone."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config.settings import ConfigError, Settings, load_settings
from bot.infra.logs import one_line, setup_logging
from bot.infra.redaction import register_secret

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Allpay cash-in Telegram bot. Settings come from the environment and .env "
        "(see README.md).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="run the bot (the default): polling, or webhook if set")
    demo = commands.add_parser(
        "demo", help="chat with the real bot in this terminal: no token or internet needed"
    )
    demo.add_argument(
        "--lang", default="ru", help="ru, kk (kz) or en: the demo user's language (default ru)"
    )
    demo.add_argument(
        "--data", type=Path, default=None, help="keep the demo's database here (default: temp)"
    )
    commands.add_parser(
        "health", help="ask a running bot's /healthz (WEB_PORT); exit 0 if healthy, 1 if not"
    )
    backup = commands.add_parser(
        "backup",
        help="a consistent copy of the journal while the bot runs, verified (restore: stop the "
        "bot, put the copy at DATABASE_URL's path, start it)",
    )
    backup.add_argument("dest", type=Path, help="a new file, or a folder for a dated file")
    commands.add_parser(
        "check",
        help="pre-flight: settings, keys, Allpay echo and balance, Telegram, the database; "
        "one line each, exit 0 only if all pass",
    )
    sandbox = commands.add_parser("sandbox", help="run the embedded Allpay sandbox alone")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sandbox.add_argument("--port", type=int, default=8089, help="port to listen on (0: free)")
    sandbox.add_argument("--data", type=Path, default=None, help="folder for keys and ledger")
    return parser


async def _serve_sandbox(settings: Settings, host: str, port: int, data: Path | None) -> None:
    from bot.devtools.sandbox import start_sandbox

    folder = data or settings.sandbox_folder
    running = await start_sandbox(
        folder, host=host, port=port, slow_delay=settings.allpay_timeout + 1
    )
    keys = running.keys
    print(f"Allpay sandbox: {running.url}  (WSDL: {running.url}?wsdl)", flush=True)
    print(
        f"  agent key: {keys.agent_private} (certificate {keys.certificate_number}); "
        f"sandbox public key: {keys.allpay_public}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await running.close()


#: Files the bot and the sandbox create (database, -wal/-shm, ledger, keys, exports) are
#: readable by their owner only: 0600 files in 0700 folders.
PRIVATE_UMASK = 0o077


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.umask(PRIVATE_UMASK)
    if args.command == "demo":
        return _demo(args.lang, args.data)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.command == "health":
        return _health(settings)
    for secret in settings.secret_values():
        register_secret(secret)
    setup_logging(settings.log_level, settings.log_format.value)
    command = args.command or "run"
    try:
        if command == "check":
            return _check(settings)
        if command == "backup":
            return _backup(settings, args.dest)
        if command == "sandbox":
            asyncio.run(_serve_sandbox(settings, args.host, args.port, args.data))
        else:
            from bot.wiring.serving import run_bot

            return int(asyncio.run(run_bot(settings)))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        # One redacted line, never a traceback: it could carry the token inside a URL.
        log.debug("start-up failure", exc_info=exc)
        print(f"the bot stopped: {one_line(exc)}", file=sys.stderr)
        return 1
    return 0


def _check(settings: Settings) -> int:
    from bot.wiring.preflight import preflight

    logging.getLogger().setLevel(logging.CRITICAL)  # the lines below say it all
    outcomes = asyncio.run(preflight(settings))
    for outcome in outcomes:
        print(outcome.line(), flush=True)
    return 0 if all(o.ok for o in outcomes if o.counts) else 1


def _backup(settings: Settings, dest: Path) -> int:
    from datetime import UTC, datetime

    from bot.store.backup import backup

    if settings.on_postgres:
        print(
            "❌ backup: the journal is on PostgreSQL: back it up with pg_dump "
            "(or the server's own backups); this command copies SQLite",
            file=sys.stderr,
        )
        return 2
    try:
        report = backup(settings.database_path, dest, datetime.now(UTC))
    except (OSError, RuntimeError, sqlite3.Error) as exc:
        print(f"❌ backup: {one_line(exc)}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{table} {count}" for table, count in report.counts.items())
    print(f"✅ backup: {report.path} (integrity ok; {counts})")
    return 0


def _health(settings: Settings) -> int:
    """For Docker's HEALTHCHECK: the image has no curl."""
    import urllib.error
    import urllib.request

    host, port = settings.health_address
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    url = f"http://{host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            print(response.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(exc.read().decode(errors="replace"))
    except OSError as exc:
        print(f"{url}: {exc}")
    return 1


def _demo(language: str, data: Path | None) -> int:
    """The demo ignores the environment's settings: it is always the sandbox and a stand-in."""
    from bot.config.languages import normalize_language
    from bot.devtools.demo import run_demo

    code = normalize_language(language)
    if code is None:
        print(f"--lang: ru, kk or en (got {language!r})", file=sys.stderr)
        return 2
    setup_logging("WARNING", "text")
    try:
        return asyncio.run(run_demo(code, data))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
