"""``python -m bot demo`` as a person uses it: a whole top-up through stdin and stdout."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Terminal:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def expect(self, needle: str, timeout: float = 30.0) -> str:
        """Read the screen until a line containing ``needle`` appears; return it."""
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(timeout):
                return await self._read_until(needle)
        except TimeoutError:
            raise AssertionError(f"no {needle!r} on screen; last: {self.lines[-12:]}") from None

    async def _read_until(self, needle: str) -> str:
        assert self.process.stdout is not None
        while True:
            raw = await self.process.stdout.readline()
            if not raw:
                raise AssertionError(f"demo ended before {needle!r}: {self.lines[-10:]}")
            line = raw.decode().rstrip("\n")
            self.lines.append(line)
            if needle in line:
                return line

    async def type(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode() + b"\n")
        await self.process.stdin.drain()


async def test_demo_runs_a_whole_top_up_in_the_terminal(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "ALLPAY_URL": "https://must-not-be-used.example/soap",  # the demo ignores it
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "demo",
        "--lang",
        "en",
        "--data",
        str(tmp_path / "demo"),
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    term = Terminal(process)
    try:
        await term.expect("menu: 💵 Top up")
        await term.type("/cashin")
        await term.expect("Enter the client's Allpay login")
        await term.type("+7 700 000 00 01")
        await term.expect("Identified: yes")
        buttons = await term.expect("[1] 1\u202f000 ₸")  # quick amounts, pressed by number
        assert "[3] 5\u202f000 ₸" in buttons
        await term.type("3")
        await term.expect("(pressed «5\u202f000 ₸»)")
        confirm = await term.expect("[1] ✅ Confirm")
        assert "[3] ✖️ Cancel" in confirm
        await term.type("1")
        await term.expect("(pressed «✅ Confirm»)")
        await term.expect("✅ Top-up completed")  # the sandbox's client 01: pending, then ✅
        await term.expect("── supervisors ──")
        await term.type("/history")
        await term.expect("page 1 of 1")
        # Another persona: a cashier asks for a large top-up, the supervisor approves it.
        await term.type("/as cashier")
        await term.expect("you are now the cashier")
        await term.expect("Hello, Cashier!")
        await term.type("/cashin")
        await term.expect("Enter the client's Allpay login")
        await term.type("77000000001")
        await term.expect("Identified: yes")
        await term.type("150000")
        await term.expect("[1] ✅ Confirm")
        await term.type("1")
        await term.expect("needs a supervisor's approval")
        await term.type("/as supervisor")
        await term.expect("you are now the supervisor")
        await term.expect("[1] ✅ Approve")
        await term.type("1")
        await term.expect("Approved by Supervisor")
        await term.expect("✅ 150 000 ₸ · Cashier")  # the supervisors' feed
        await term.type("/export")
        await term.expect(".xlsx")
        await term.type("/as nobody")
        await term.expect("usage: /as cashier | supervisor | admin")
        await term.type("/quit")
        await term.expect("bye")
        async with asyncio.timeout(15):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert (tmp_path / "demo" / "demo.sqlite3").is_file()
    assert sorted(p.suffix for p in (tmp_path / "demo" / "files").iterdir()) == [".csv", ".xlsx"]
