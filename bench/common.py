"""Shared pieces of the benchmarks: a recording Bot API session, a sandbox process, tables."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import statistics
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, Message

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:BENCH-token-abcdefghijklmnopqrstuvwxyz0"


class RecordingSession(BaseSession):
    """Answers every Bot API call at once, as Telegram would, and counts the calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self._ids = 0

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        self.calls += 1
        if isinstance(method, AnswerCallbackQuery):
            return True  # type: ignore[return-value]
        chat_id = getattr(method, "chat_id", None)
        if method.__returning__ is Message or "Message" in str(method.__returning__):
            self._ids += 1
            return Message(  # type: ignore[return-value]
                message_id=self._ids,
                date=int(time.time()),
                chat=Chat(id=int(chat_id or 1), type="private"),
                text=str(getattr(method, "text", "") or ""),
            )
        return True  # type: ignore[return-value]

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncIterator[bytes]:
        raise NotImplementedError
        yield b""  # pragma: no cover

    async def close(self) -> None:
        return None


def recording_bot() -> tuple[Bot, RecordingSession]:
    session = RecordingSession()
    return Bot(TOKEN, session=session), session


@dataclass
class SandboxProcess:
    url: str
    folder: Path
    process: asyncio.subprocess.Process


@contextlib.asynccontextmanager
async def sandbox_process(folder: Path) -> AsyncIterator[SandboxProcess]:
    """``python -m bot sandbox`` in its own process: its CPU is not the measured bot's."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ALLPAY_TIMEOUT": "30"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--port",
        "0",
        "--data",
        str(folder),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
    url = line.split()[2]
    try:
        yield SandboxProcess(url, folder, process)
    finally:
        process.terminate()
        await process.wait()


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [f"### {title}", ""]
    for n, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines) + "\n"


def machine() -> str:
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
