"""``python -m bot demo`` as a person uses it: a whole top-up through stdin and stdout,
piped input, the banner in each language, pop-ups, the supervisors' group, the digest and
the log's clock."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import aiohttp

from tests.childstart import spawn
from tests.harness import child_env

ROOT = Path(__file__).resolve().parents[1]
ALMATY = ZoneInfo("Asia/Almaty")  # the demo's TIMEZONE (the settings' default)


def demo_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **child_env(),
        "HOME": str(tmp_path),
        "ALLPAY_URL": "https://must-not-be-used.example/soap",  # the demo ignores it
        **extra,
    }


def piped(tmp_path: Path, script: str, lang: str = "en", **env: str) -> tuple[str, str]:
    """``printf SCRIPT | python -m bot demo --lang LANG``: (stdout, stderr)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    done = spawn.run(
        ["demo", "--lang", lang, "--data", str(tmp_path / "demo")],
        input=script.encode(),
        cwd=tmp_path,
        env=demo_env(tmp_path, **env),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout.decode(), done.stderr.decode()


class Terminal:
    def __init__(self, process: spawn.Child) -> None:
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
    process = await start_demo(tmp_path)
    term = Terminal(process)
    try:
        await term.expect("menu: 💵 Top up")
        await _opens_the_desk(term.lines)
        await term.type("/cashin")
        await term.expect("Enter the client's Allpay login")
        await term.type("+7 700 000 00 01")
        await term.expect("Identified: yes")
        buttons = await term.expect("[1] 1\u202f000\u00a0₸")  # quick amounts, pressed by number
        assert "[3] 5\u202f000\u00a0₸" in buttons
        await term.type("3")
        await term.expect("(pressed «5\u202f000\u00a0₸»)")
        confirm = await term.expect("✖️ Cancel")
        assert "[1] ✅ Confirm" in confirm
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
        await term.expect("✖️ Cancel")
        await term.type("1")
        await term.expect("needs a supervisor's approval")
        await term.type("/as supervisor")
        await term.expect("you are now the supervisor")
        await term.expect("[1] ✅ Approve")
        await term.type("1")
        await term.expect("Approved by Supervisor")
        await term.expect("✅ 150\u202f000\u00a0₸ · Cashier")  # the supervisors' feed
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


async def _opens_the_desk(lines: list[str]) -> None:
    """The printed desk link: a loopback page whose fragment carries launch data signed for
    the demo's persona (the admin), which the desk's API takes."""
    [link] = [line.strip() for line in lines if "/desk/#tgWebAppData=" in line]
    base, fragment = link.split("#", 1)
    assert base.startswith("http://127.0.0.1:") and "?" not in base  # not in the URL proper
    init_data = parse_qs(fragment)["tgWebAppData"][0]
    async with aiohttp.ClientSession() as session:
        async with session.get(base) as page:
            assert page.status == 200 and "telegram-web-app.js" in await page.text()
        headers = {"Authorization": f"tma {init_data}"}
        async with session.get(base + "api/me", headers=headers) as me:
            assert me.status == 200, await me.text()
            assert (await me.json())["role"] == "admin"


async def start_demo(tmp_path: Path, lang: str = "en") -> spawn.Child:
    return await spawn.start(
        ["demo", "--lang", lang, "--data", str(tmp_path / "demo")],
        cwd=tmp_path,
        env=demo_env(tmp_path),
        stdin=spawn.PIPE,
        stdout=spawn.PIPE,
        stderr=spawn.DEVNULL,
    )


def test_piped_input_gets_its_replies(tmp_path: Path) -> None:
    """``printf '/help\\n/quit\\n' | python -m bot demo``: each line waits for the bot's answers."""
    out, _err = piped(tmp_path, "/help\n/quit\n")
    replies = out.split("── bot ──")  # the banner, then /start's greeting and /help's answer
    assert len(replies) == 3, out[-1500:]
    assert "/cashin" in replies[2] and "/history" in replies[2]
    assert replies[2].rstrip().endswith("bye")


def test_a_piped_top_up_presses_the_buttons_its_replies_brought(tmp_path: Path) -> None:
    # "3" presses the amount prompt's third quick amount only if that prompt came first, and
    # the end of the input waits for Allpay's final answer (client 01: pending, then ✅).
    out, _err = piped(tmp_path, "/cashin\n77000000001\n3\n1\n/quit\n")
    assert "(pressed «5\u202f000\u00a0₸»)" in out, out[-1500:]
    assert "(pressed «✅ Confirm»)" in out
    assert out.index("✅ Top-up completed") < out.rindex("bye")


def test_the_banner_follows_the_language(tmp_path: Path) -> None:
    english = "terminal demo (no real money"
    out, _err = piped(tmp_path / "kk", "/quit\n", "kk")
    assert english not in out and "терминалдағы демо" in out, out[:600]
    assert "сау болыңыз" in out
    out, _err = piped(tmp_path / "ru", "/quit\n", "ru")
    assert english not in out and "демо в терминале" in out, out[:600]
    out, _err = piped(tmp_path / "en", "/quit\n", "en")
    assert english in out


def test_log_lines_tell_the_demos_local_time(tmp_path: Path) -> None:
    """Messages show the time in TIMEZONE; so do the log lines, with its offset, whatever the
    machine's own zone."""
    _out, err = piped(tmp_path, "/quit\n", TZ="UTC")
    line = next(ln for ln in err.splitlines() if "SANDBOX" in ln)
    stamp = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:,\d{3})?\+05:00 WARNING ", line)
    assert stamp is not None, line
    when = datetime.strptime(stamp[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ALMATY)
    assert abs(datetime.now(ALMATY) - when) < timedelta(minutes=5)


async def test_pop_ups_the_group_and_the_digest_are_seen(tmp_path: Path) -> None:
    process = await start_demo(tmp_path)
    term = Terminal(process)
    try:
        await term.expect("menu: 💵 Top up")
        # The supervisor's own large top-up: its card goes to the supervisors' group.
        await term.type("/as supervisor")
        await term.expect("you are now the supervisor")
        await term.type("/cashin")
        await term.expect("Enter the client's Allpay login")
        await term.type("77000000001")
        await term.expect("Identified: yes")
        await term.type("150000")
        await term.expect("✖️ Cancel")
        await term.type("1")
        # In the group, as the supervisor: their press on their own request is refused.
        await term.type("/as group")
        await term.expect("you are now the supervisor in the supervisors' group")
        await term.expect("[1] ✅ Approve")
        await term.type("1")
        await term.expect("(pressed «✅ Approve»)")
        await term.expect("── alert (supervisor) ──")
        assert "own" in await term.expect("")  # the alert's text, on the next line
        # The admin in the group decides it: the pop-up says what happened.
        await term.type("/as group admin")
        await term.expect("you are now the admin in the supervisors' group")
        await term.expect("[1] ✅ Approve")
        await term.type("1")
        await term.expect("── pop-up (admin) ──")
        assert "Approved: sending to Allpay." in await term.expect("")
        await term.expect("✅ 150\u202f000\u00a0₸ · Supervisor")  # the supervisors' feed
        # The digest: a supervisor's /digest now, and the group's as at DIGEST_TIME.
        await term.type("/as supervisor")
        await term.expect("you are now the supervisor")
        await term.type("/digest")
        title = await term.expect("📊 Daily digest for")
        assert term.lines[-2] == "── bot ──", term.lines[-3:]
        assert f"{datetime.now(ALMATY):%d.%m.%Y}" in title
        await term.expect("150\u202f000\u00a0₸")
        await term.type("/daily_digest")
        await term.expect("📊 Daily digest for")
        assert term.lines[-2] == "── supervisors ──", term.lines[-3:]
        await term.type("/daily_digest")
        await term.expect("already")  # once a day, as the scheduled one
        await term.type("/quit")
        await term.expect("bye")
        async with asyncio.timeout(15):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
