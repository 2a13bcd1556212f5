"""The Telegram stand-in itself: Telegram's HTML parsing and the opt-in realistic mode."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import BufferedInputFile, MenuButtonDefault, MenuButtonWebApp, WebAppInfo

from bot.devtools.telegram import FakeTelegram, Fault, parse_html
from tests.harness import tiny_png

PREFIX = "Bad Request: can't parse entities: "
Call = Callable[..., Coroutine[Any, Any, tuple[int, dict[str, Any]]]]


class Clock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def options() -> dict[str, Any]:
    """Constructor arguments for the stand-in; tests override this fixture's result."""
    return {}


@pytest.fixture
async def tg(options: dict[str, Any]) -> AsyncIterator[FakeTelegram]:
    telegram = FakeTelegram(**options)
    await telegram.start()
    try:
        yield telegram
    finally:
        await telegram.close()


@pytest.fixture
async def call(tg: FakeTelegram) -> AsyncIterator[Call]:
    """POST a Bot API method as JSON; answer (HTTP status, body)."""
    async with aiohttp.ClientSession() as session:

        async def post(method: str, **payload: Any) -> tuple[int, dict[str, Any]]:
            url = f"{tg.base_url}/bot123:abc/{method}"
            async with session.post(url, json=payload) as response:
                return response.status, await response.json()

        yield post


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url))
    bot = Bot("123:abc", session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    try:
        yield bot
    finally:
        await session.close()


def realistic(clock: Clock, **more: Any) -> dict[str, Any]:
    return {"realistic": True, "seed": 1, "latency": (0.0, 0.0), "clock": clock, **more}


# ---------------------------------------------------------------------- HTML


@pytest.mark.parametrize(
    ("html", "plain"),
    [
        ("<b>bold <i>both</i></b> <u>u</u> <s>s</s>", "bold both u s"),
        ("<STRONG>x</strong><em>y</em><ins>z</ins><del>d</del><strike>e</strike>", "xyzde"),
        ("&lt;tag&gt; &amp; &quot;q&quot; &#65;&#x42;", '<tag> & "q" AB'),
        ('<a href="https://example.com/?a=1&amp;b=2">link</a>', "link"),
        ("2 > 1, and 3 >= 2", "2 > 1, and 3 >= 2"),
        ("<tg-spoiler>secret</tg-spoiler>", "secret"),
        ('<span class="tg-spoiler">secret</span>', "secret"),
        ('<pre><code class="language-python">if a &lt; b: pass</code></pre>', "if a < b: pass"),
        ("<blockquote expandable>quote</blockquote>", "quote"),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍"),
    ],
)
async def test_telegram_accepts_its_html(
    tg: FakeTelegram, call: Call, html: str, plain: str
) -> None:
    status, body = await call("sendMessage", chat_id=5, text=html, parse_mode="HTML")
    assert status == 200, body
    assert body["result"]["text"] == plain  # Telegram answers with the parsed text
    assert tg.last(5).text == html  # kept as sent
    assert tg.last(5).plain == plain


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("Tom <3", "Unclosed start tag at byte offset 4"),
        ("Привет <3", "Unclosed start tag at byte offset 13"),  # offsets count UTF-8 bytes
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ('<a href="x">unclosed', 'Can\'t find end tag corresponding to start tag "a"'),
        ("<b><i></b></i>", 'Unmatched end tag at byte offset 6, expected "</i>", found "</b>"'),
        ("<script>alert(1)</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<a href=https://x.y>t</a>", "Unexpected end of name token at byte offset 8"),
    ],
)
async def test_telegram_refuses_what_it_cannot_parse(
    tg: FakeTelegram, call: Call, html: str, reason: str
) -> None:
    status, body = await call("sendMessage", chat_id=5, text=html, parse_mode="html")
    assert status == 400
    assert body == {"ok": False, "error_code": 400, "description": PREFIX + reason}
    assert tg.messages(5) == []


@pytest.mark.parametrize("options", [{"strict_entities": False}])
async def test_telegram_itself_keeps_a_bare_ampersand(tg: FakeTelegram, call: Call) -> None:
    """Telegram keeps an "&" that starts no entity as typed (TDLib's decode_html_entity);
    the stand-in refuses it unless told to be as lenient, to catch unescaped text."""
    status, _ = await call("sendMessage", chat_id=5, text="a & b &nbsp;", parse_mode="HTML")
    assert status == 200
    assert tg.last(5).plain == "a & b &nbsp;"


@pytest.mark.parametrize("html", ["a & b", "&nbsp;", "AT&T"])
def test_strict_entities_refuse_a_bare_ampersand(html: str) -> None:
    with pytest.raises(ValueError, match="Unsupported HTML entity at byte offset"):
        parse_html(html, strict_entities=True)
    assert parse_html("&amp; &lt; &#33;", strict_entities=True) == "& < !"


@pytest.mark.parametrize("options", [{"strict_entities": True}])
@pytest.mark.parametrize(("html", "offset"), [("a & b", 2), ("&nbsp;", 0), ("ok &amp; AT&T", 11)])
async def test_strict_entities_over_http(
    call: Call, options: dict[str, Any], html: str, offset: int
) -> None:
    status, body = await call("sendMessage", chat_id=5, text=html, parse_mode="HTML")
    assert status == 400
    assert body["description"] == PREFIX + f"Unsupported HTML entity at byte offset {offset}"


async def test_text_without_parse_mode_is_not_parsed(tg: FakeTelegram, call: Call) -> None:
    status, _ = await call("sendMessage", chat_id=5, text="Tom <3")
    assert status == 200
    assert tg.last(5).plain == "Tom <3"


async def test_edits_and_captions_are_parsed_too(tg: FakeTelegram, call: Call) -> None:
    _, sent = await call("sendMessage", chat_id=5, text="<b>ok</b>", parse_mode="HTML")
    message_id = sent["result"]["message_id"]
    status, body = await call(
        "editMessageText", chat_id=5, message_id=message_id, text="<i>bad", parse_mode="HTML"
    )
    assert (status, body["description"]) == (
        400,
        PREFIX + 'Can\'t find end tag corresponding to start tag "i"',
    )
    status, _ = await call(
        "editMessageText",
        chat_id=5,
        message_id=message_id,
        text="<i>a &amp; b</i>",
        parse_mode="HTML",
    )
    assert status == 200
    assert tg.last(5).plain == "a & b"

    async def send_document(caption: str) -> tuple[int, dict[str, Any]]:
        form = aiohttp.FormData()
        form.add_field("chat_id", "5")
        form.add_field("parse_mode", "HTML")
        form.add_field("caption", caption)
        form.add_field("document", b"x;y\n", filename="report.csv")
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{tg.base_url}/bot123:abc/sendDocument", data=form) as response,
        ):
            return response.status, await response.json()

    status, body = await send_document("Report <for> May")
    assert (status, body["description"]) == (
        400,
        PREFIX + 'Unsupported start tag "for" at byte offset 7',
    )
    assert (await send_document("&lt;" * 1024))[0] == 200  # 1024 characters once parsed
    status, body = await send_document("x" * 1025)
    assert (status, body["description"]) == (400, "Bad Request: message caption is too long")


async def test_length_is_counted_after_parsing(call: Call) -> None:
    ok = await call("sendMessage", chat_id=5, text=f"<b>{'&amp;' * 4096}</b>", parse_mode="HTML")
    assert ok[0] == 200
    status, body = await call("sendMessage", chat_id=5, text="x" * 4097, parse_mode="HTML")
    assert (status, body["description"]) == (400, "Bad Request: message is too long")
    status, body = await call("sendMessage", chat_id=5, text="<b> </b>", parse_mode="HTML")
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")


async def test_aiogram_raises_bad_request(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Unclosed start tag"):
        await bot.send_message(5, "Tom <3")
    sent = await bot.send_message(5, "Tom &lt;3 <b>you</b>")
    assert sent.text == "Tom <3 you"


# ---------------------------------------------------------------------- menu buttons, photos


png = tiny_png  # tests/harness.py


DESK = "https://desk.example.com/desk/"


async def test_menu_button_per_private_chat(tg: FakeTelegram, bot: Bot) -> None:
    """A private chat's own button (a Web App here), what the person sees, and the default
    taking it away; the other chats keep the bot's."""
    assert tg.menu_button(300) == {"type": "default"}
    button = MenuButtonWebApp(text="Desk", web_app=WebAppInfo(url=DESK))
    assert await bot.set_chat_menu_button(chat_id=300, menu_button=button) is True
    assert tg.menu_button(300) == {"type": "web_app", "text": "Desk", "web_app": {"url": DESK}}
    assert tg.menu_button(301) == {"type": "default"}
    seen = await bot.get_chat_menu_button(chat_id=300)
    assert isinstance(seen, MenuButtonWebApp) and seen.web_app.url == DESK
    await bot.set_chat_menu_button(chat_id=300, menu_button=MenuButtonDefault())
    assert tg.menu_button(300) == {"type": "default"}
    assert 300 not in tg.menu_buttons
    await bot.set_chat_menu_button(chat_id=300)  # no button at all: the default
    assert tg.menu_button(300) == {"type": "default"}


@pytest.mark.parametrize(
    ("chat_id", "button", "description"),
    [
        (
            300,
            {"type": "web_app", "text": "Desk", "web_app": {"url": "http://desk.example.com/"}},
            "Bad Request: menu button Web App URL 'http://desk.example.com/' is invalid: "
            "Only HTTPS links are allowed",
        ),
        (
            300,
            {"type": "web_app", "text": "Desk", "web_app": {"url": "desk.example.com"}},
            "Bad Request: menu button Web App URL 'desk.example.com' is invalid: "
            "Only HTTPS links are allowed",
        ),
        (
            300,
            {"type": "web_app", "text": " ", "web_app": {"url": DESK}},
            "Bad Request: menu button text is empty",
        ),
        (
            300,
            {"type": "link", "text": "Desk"},
            "Bad Request: can't parse menu button: MenuButton has unsupported type",
        ),
        (
            -1000500,  # a group: menu buttons are private chats'
            {"type": "web_app", "text": "Desk", "web_app": {"url": DESK}},
            "Bad Request: Invalid chat_id specified",
        ),
        (-1000500, {"type": "default"}, "Bad Request: Invalid chat_id specified"),
        (
            -1000500,  # the button is checked before the chat
            {"type": "web_app", "text": "Desk", "web_app": {"url": "http://x.example/"}},
            "Bad Request: menu button Web App URL 'http://x.example/' is invalid: "
            "Only HTTPS links are allowed",
        ),
    ],
)
async def test_menu_button_refusals(
    tg: FakeTelegram, call: Call, chat_id: int, button: dict[str, Any], description: str
) -> None:
    status, body = await call("setChatMenuButton", chat_id=chat_id, menu_button=button)
    assert (status, body["description"]) == (400, description)
    assert tg.menu_buttons == {}


async def test_aiogram_sees_the_menu_refusal(bot: Bot) -> None:
    button = MenuButtonWebApp(text="Desk", web_app=WebAppInfo(url="http://desk.example.com/"))
    with pytest.raises(TelegramBadRequest, match="Only HTTPS links are allowed"):
        await bot.set_chat_menu_button(chat_id=300, menu_button=button)
    with pytest.raises(TelegramBadRequest, match="Invalid chat_id specified"):
        await bot.set_chat_menu_button(chat_id=-1000500, menu_button=MenuButtonDefault())


async def test_send_photo_keeps_the_png_and_checks_the_caption(tg: FakeTelegram, bot: Bot) -> None:
    picture = png(4, 3)
    sent = await bot.send_photo(
        -1000500,
        BufferedInputFile(picture, "today.png"),
        caption="<b>Today</b> &amp; yesterday",
    )
    assert sent.photo is not None
    assert (sent.photo[-1].width, sent.photo[-1].height) == (4, 3)
    assert sent.caption == "Today & yesterday"
    message = tg.last(-1000500)
    assert message.photo == ("today.png", picture)
    assert message.photo[1].startswith(b"\x89PNG\r\n\x1a\n")
    assert message.plain == "Today & yesterday"
    # The same picture again by its file_id: nothing uploaded.
    again = await bot.send_photo(5, sent.photo[-1].file_id)
    assert again.photo is not None and tg.last(5).photo == ("today.png", picture)

    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_photo(5, BufferedInputFile(picture, "x.png"), caption="<b>Today")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(5, BufferedInputFile(picture, "x.png"), caption="x" * 1025)
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(5, BufferedInputFile(b"%PDF-1.7", "x.png"))
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(5, "no-such-file")
    assert len(tg.messages(5)) == 1  # a refused photo is no message


async def test_a_user_who_blocked_the_bot_gets_no_photo(tg: FakeTelegram, bot: Bot) -> None:
    tg.blocked_by.add(5)
    with pytest.raises(TelegramForbiddenError):
        await bot.send_photo(5, BufferedInputFile(png(), "x.png"))


# ---------------------------------------------------------------------- realistic mode


def too_many(seconds: int) -> dict[str, Any]:
    return {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {seconds}",
        "parameters": {"retry_after": seconds},
    }


async def test_limits_are_off_by_default(tg: FakeTelegram, call: Call) -> None:
    for _ in range(40):
        assert (await call("sendMessage", chat_id=5, text="hi"))[0] == 200
    assert tg.refusals == 0
    assert not tg.accepted


class TestFloodLimits:
    @pytest.fixture
    def options(self, clock: Clock) -> dict[str, Any]:
        return realistic(clock)

    async def test_private_chat_bursts_eight_then_one_a_second(
        self, tg: FakeTelegram, call: Call, clock: Clock
    ) -> None:
        _, first = await call("sendMessage", chat_id=7, text="1")
        message_id = first["result"]["message_id"]
        for n in range(7):  # edits spend tokens like sends
            status, _ = await call(
                "editMessageText", chat_id=7, message_id=message_id, text=f"edit {n}"
            )
            assert status == 200
        status, body = await call("sendMessage", chat_id=7, text="9th")
        assert (status, body) == (429, too_many(1))
        assert tg.windows == [(7, clock.now + 1)]
        assert tg.accepted[7] == 8

        clock.now += 0.5  # too soon: Telegram refuses it again, and it is noted
        status, body = await call("sendMessage", chat_id=7, text="again")
        assert (status, body) == (429, too_many(1))
        assert tg.calls_inside_window == [(clock.now, "sendMessage", 7)]
        assert (await call("sendMessage", chat_id=8, text="other chat"))[0] == 200

        clock.now += 0.5  # the window is over and a token has come back: one
        assert (await call("sendMessage", chat_id=7, text="later"))[0] == 200
        assert (await call("sendMessage", chat_id=7, text="and one more"))[0] == 429
        assert tg.refusals == 3
        assert tg.accepted == {7: 9, 8: 1}

    async def test_group_gets_twenty_a_minute(
        self, tg: FakeTelegram, call: Call, clock: Clock
    ) -> None:
        for n in range(20):
            assert (await call("sendMessage", chat_id=-100, text=str(n)))[0] == 200
        status, body = await call("sendMessage", chat_id=-100, text="21st")
        assert (status, body) == (429, too_many(3))
        assert tg.windows == [(-100, clock.now + 3)]
        clock.now += 3
        assert (await call("sendMessage", chat_id=-100, text="later"))[0] == 200

    async def test_bot_wide_burst_of_thirty(
        self, tg: FakeTelegram, call: Call, clock: Clock
    ) -> None:
        for chat_id in range(1, 31):
            assert (await call("sendMessage", chat_id=chat_id, text="hi"))[0] == 200
        status, body = await call("sendMessage", chat_id=31, text="hi")
        assert (status, body) == (429, too_many(1))
        assert tg.windows == [(None, clock.now + 1)]
        clock.now += 0.1  # the bot-wide window covers every chat
        assert (await call("editMessageReplyMarkup", chat_id=32, message_id=1))[0] == 429
        assert tg.calls_inside_window == [(clock.now, "editMessageReplyMarkup", 32)]
        clock.now += 0.9
        for chat_id in range(31, 61):  # a second has refilled the whole burst
            assert (await call("sendMessage", chat_id=chat_id, text="hi"))[0] == 200
        assert (await call("sendMessage", chat_id=61, text="hi"))[0] == 429

    async def test_uncounted_methods_are_never_limited(self, tg: FakeTelegram, call: Call) -> None:
        for n in range(50):
            assert (await call("answerCallbackQuery", callback_query_id=str(n)))[0] == 200
            assert (await call("sendChatAction", chat_id=7, action="typing"))[0] == 200
            assert (await call("getMe"))[0] == 200
        assert tg.refusals == 0

    async def test_faults_come_first(self, tg: FakeTelegram, call: Call) -> None:
        for _ in range(8):
            await call("sendMessage", chat_id=7, text="hi")
        tg.faults.append(Fault("sendMessage", 502, "Bad Gateway"))
        assert (await call("sendMessage", chat_id=7, text="hi"))[0] == 502
        assert (await call("sendMessage", chat_id=7, text="hi"))[0] == 429

    async def test_aiogram_raises_retry_after(self, bot: Bot) -> None:
        for n in range(8):
            await bot.send_message(7, f"<b>{n}</b>")
        with pytest.raises(TelegramRetryAfter) as refused:
            await bot.send_message(7, "one too many")
        assert refused.value.retry_after == 1


@pytest.mark.parametrize("options", [{"realistic": True, "latency": (0.05, 0.05)}])
async def test_latency_is_applied(tg: FakeTelegram, call: Call, options: Any) -> None:
    started = time.monotonic()
    assert (await call("getMe"))[0] == 200
    assert time.monotonic() - started >= 0.049


@pytest.mark.parametrize("options", [{"realistic": True, "seed": 3}])
async def test_long_poll_still_answers_at_once(tg: FakeTelegram, call: Call, options: Any) -> None:
    started = time.monotonic()
    polling = asyncio.create_task(call("getUpdates", timeout=5))
    await tg.wait_for(lambda: any(method == "getUpdates" for method, _ in tg.calls))
    tg.send_text(FakeTelegram.user(7), "hello")
    status, body = await polling
    assert status == 200
    assert [u["message"]["text"] for u in body["result"]] == ["hello"]
    assert time.monotonic() - started < 4  # woke by the update, not by the 5 s timeout


@pytest.mark.parametrize(
    ("base", "waits"), [("http://127.0.0.1:8081", False), ("https://api.telegram.org", True)]
)
async def test_the_bot_api_session_waits_for_tls_only_where_there_is_tls(
    base: str, waits: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiogram sleeps 250 ms after closing its session, for TLS connections to shut down:
    over plain HTTP there are none, and nothing to wait for."""
    from aiogram.client.telegram import TelegramAPIServer

    from bot.wiring.clients import BotApiSession

    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float, *args: object) -> None:
        slept.append(delay)
        await real_sleep(0)

    session = BotApiSession(api=TelegramAPIServer.from_base(base))
    await session.create_session()
    monkeypatch.setattr(asyncio, "sleep", sleep)
    await session.close()
    assert (0.25 in slept) is waits
