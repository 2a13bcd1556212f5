"""Telegram's HTML, as the Bot API reads ``parse_mode=HTML``: a port of TDLib's ``parse_html``.

A text the stand-in is sent is parsed here first: what a person would read, or
:class:`HtmlError` with the reason Telegram gives after "can't parse entities: ". The port
follows td/telegram/MessageEntity.cpp: ``>`` outside a tag is plain text (only ``<`` opens a
tag), and an ``&`` that starts no known entity stays a literal ``&`` (Telegram shows "a & b"
and "&nbsp;" as typed); ``strict_entities`` refuses that ``&`` instead, since user data with
"&lt;" in it would be shown decoded. Offsets in the reasons are in UTF-8 bytes.
"""

from __future__ import annotations

import re
import string

_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler"}
    | {"tg-emoji", "tg-time", "code", "pre", "blockquote"}
)
_SPACE = " \t\r\n\v\0"  # TDLib's is_space; "\0" also marks the end of the text
_NAME_TOKEN = frozenset(string.ascii_letters + string.digits + ".-")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_REFERENCE = re.compile(r"&(?:#x([0-9a-fA-F]*)|#([0-9]*)|([A-Za-z]*))(;?)")


class HtmlError(ValueError):
    """Why Telegram can't parse a text (the reason after "can't parse entities: ")."""


def _reference(text: str, pos: int) -> tuple[str, int] | None:
    """The character the reference at ``text[pos] == "&"`` stands for and where it ends."""
    match = _REFERENCE.match(text, pos)
    assert match is not None
    hexa, decimal, name, _ = match.groups()
    if name is not None:
        char = _NAMED.get(name)
        return None if char is None else (char, match.end())
    digits = hexa if hexa is not None else decimal
    code = int(digits, 16 if hexa is not None else 10) if digits else 0
    if code == 0 or code >= 0x10FFFF or match.end(1 if hexa is not None else 2) - pos >= 10:
        return None
    return chr(code), match.end()


def parse_html(text: str, *, strict_entities: bool = False) -> str:
    """The text a person reads, or :class:`HtmlError` with Telegram's reason."""
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else "\0"

    def offset(k: int) -> str:
        return f"at byte offset {len(text[:k].encode(errors='surrogatepass'))}"

    def skip_spaces(k: int) -> int:
        while at(k) != "\0" and at(k) in _SPACE:
            k += 1
        return k

    def skip_name(k: int, stop: str) -> int:
        while at(k) not in _SPACE and at(k) not in stop:
            k += 1
        return k

    out: list[str] = []
    stack: list[tuple[str, str, int]] = []  # tag, its argument, len(out) where it opened
    i = 0
    while i < n:
        c = text[i]
        ref = _reference(text, i) if c == "&" else None
        if ref is not None:
            out.append(ref[0])
            i = ref[1]
            continue
        if c == "&" and strict_entities:
            raise HtmlError(f"Unsupported HTML entity {offset(i)}")
        if c != "<":
            out.append(c)
            i += 1
            continue
        begin, i = i, i + 1
        if at(i) != "/":  # a start tag
            i = skip_name(i, ">")
            if at(i) == "\0":
                raise HtmlError(f"Unclosed start tag {offset(begin)}")
            tag = text[begin + 1 : i].lower()
            if tag not in _TAGS:
                raise HtmlError(f'Unsupported start tag "{tag}" {offset(begin)}')
            argument = ""
            while at(i) != ">":
                i = skip_spaces(i)
                if at(i) == ">":
                    break
                start, i = i, skip_name(i, "=>/\"'")
                attribute = text[start:i]
                if not attribute:
                    raise HtmlError(f'Empty attribute name in the tag "{tag}" {offset(begin)}')
                i = skip_spaces(i)
                if at(i) == "\0":
                    raise HtmlError(f'Unclosed start tag "{tag}" {offset(begin)}')
                if at(i) != "=":  # a bare attribute: ignored, but "expandable"
                    if (tag, attribute) == ("blockquote", "expandable"):
                        argument = "1"
                    continue
                i = skip_spaces(i + 1)
                if at(i) == "\0":
                    raise HtmlError(f'Unclosed start tag "{tag}" {offset(begin)}')
                if at(i) not in "'\"":  # a name token
                    start = i
                    while at(i) in _NAME_TOKEN:
                        i += 1
                    value = text[start:i].lower()
                    if at(i) not in _SPACE and at(i) != ">":
                        raise HtmlError(f"Unexpected end of name token {offset(start)}")
                else:  # a quoted string, its references decoded
                    quote, chars, i = at(i), [], i + 1
                    while at(i) not in (quote, "\0"):
                        ref = _reference(text, i) if at(i) == "&" else None
                        chars.append(text[i] if ref is None else ref[0])
                        i = i + 1 if ref is None else ref[1]
                    if at(i) == quote:
                        i += 1
                    value = "".join(chars)
                if at(i) == "\0":
                    raise HtmlError(f"Unclosed start tag {offset(begin)}")
                if (tag, attribute) in {("a", "href"), ("tg-emoji", "emoji-id")}:
                    argument = value
                elif attribute == "class" and tag == "code" and value.startswith("language-"):
                    argument = value[9:]
                elif attribute == "class" and tag == "span" and value.startswith("tg-"):
                    argument = value[3:]
            if tag == "span" and argument != "spoiler":
                raise HtmlError(f'Tag "span" must have class "tg-spoiler" {offset(begin)}')
            stack.append((tag, argument, len(out)))
        else:  # an end tag
            if not stack:
                raise HtmlError(f"Unexpected end tag {offset(begin)}")
            i = skip_name(i, ">")
            name = text[begin + 2 : i].lower()
            i = skip_spaces(i)
            if at(i) != ">":
                raise HtmlError(f"Unclosed end tag {offset(begin)}")
            tag, argument, opened = stack.pop()
            if name and name != tag:
                raise HtmlError(
                    f'Unmatched end tag {offset(begin)}, expected "</{tag}>", found "</{name}>"'
                )
            if tag == "tg-emoji" and len(out) > opened and not _emoji_id(argument):
                raise HtmlError("Invalid custom emoji identifier specified")
        i += 1  # past the ">"
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    result = "".join(out)
    if any("\ud800" <= ch <= "\udfff" for ch in result):
        raise HtmlError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    return result


def _emoji_id(argument: str) -> bool:
    return argument.isascii() and argument.isdigit() and 0 < int(argument) < 2**63


def is_html(parse_mode: object) -> bool:
    """``parse_mode`` is Telegram's HTML (its name is not case-sensitive)."""
    return isinstance(parse_mode, str) and parse_mode.lower() == "html"
