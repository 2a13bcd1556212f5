"""Maintain the translations: ``python tools/i18n.py extract|merge FILE|compile|check``.

``merge FILE.json`` takes ``{msgid: {"ru": ..., "kk": ..., "en": ...}}`` ("en" defaults to
the msgid), adds or updates those translations, drops messages the code no longer uses and
compiles.

``locales/{ru,kk,en}/LC_MESSAGES/messages.po`` are the source; the ``.mo`` files next to them
are compiled from them and committed (the bot loads .mo). ``check`` fails on any missing
translation or stale .mo; the test suite runs the same check.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
LANGUAGES = ("ru", "kk", "en")
KEYWORDS = {"_": None, "N_": None, "__": None}


def extract() -> Catalog:
    catalog = Catalog(project="allpay-cashin-bot", charset="utf-8")
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "bot"), keywords=KEYWORDS, comment_tags=()
    ):
        catalog.add(message, flags=("python-brace-format",) if "{" in str(message) else ())
    return catalog


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / "messages.po"


def load_po(lang: str) -> Catalog:
    with po_path(lang).open("rb") as fp:
        return read_po(fp, locale=lang)


def mo_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def compile_all() -> None:
    for lang in LANGUAGES:
        catalog = load_po(lang)
        po_path(lang).with_suffix(".mo").write_bytes(mo_bytes(catalog))


def merge(path: Path) -> None:
    wanted = extract()
    given: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    for lang in LANGUAGES:
        catalog = load_po(lang)
        for message in list(catalog):
            if message.id and message.id not in wanted:
                del catalog[message.id]
        for msgid, strings in given.items():
            if msgid not in wanted:
                raise SystemExit(f"not in the code: {msgid!r}")
            text = strings.get(lang) or (msgid if lang == "en" else "")
            if not text:
                raise SystemExit(f"{lang}: no translation given for {msgid!r}")
            catalog.add(msgid, text, flags=wanted[msgid].flags)
        with po_path(lang).open("wb") as fp:
            write_po(fp, catalog, omit_header=False, no_location=True, width=100)
    compile_all()


def problems() -> list[str]:
    found: list[str] = []
    wanted = {m.id for m in extract() if m.id}
    for lang in LANGUAGES:
        catalog = load_po(lang)
        have = {m.id: m.string for m in catalog if m.id}
        for msgid in sorted(wanted, key=str):
            if not have.get(msgid):
                found.append(f"{lang}: no translation for {msgid!r}")
        mo_file = po_path(lang).with_suffix(".mo")
        if not mo_file.is_file():
            found.append(f"{lang}: {mo_file} missing")
            continue
        with mo_file.open("rb") as fp:
            compiled = {m.id: m.string for m in read_mo(fp) if m.id}
        if compiled != {k: v for k, v in have.items() if v}:
            found.append(f"{lang}: {mo_file.name} is stale against messages.po; run compile")
    return found


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "compile":
        compile_all()
    elif command == "check":
        issues = problems()
        print("\n".join(issues) or "translations complete and compiled")
        return 1 if issues else 0
    elif command == "merge" and len(argv) > 2:
        merge(Path(argv[2]))
    elif command == "extract":
        write_po(sys.stdout.buffer, extract(), omit_header=True, no_location=True)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
