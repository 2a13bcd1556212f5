"""Maintain the translations: ``python tools/i18n.py extract|merge FILE|compile|check``.

``merge FILE.json`` takes ``{msgid: {"ru": ..., "kk": ..., "en": ...}}`` ("en" defaults to
the msgid), adds or updates those translations, drops messages the code no longer uses and
compiles. A plural message (``ngettext``) is keyed by its singular msgid and given a list of
forms per language (ru three, kk and en two).

``locales/{ru,kk,en}/LC_MESSAGES/messages.po`` are the source; the ``.mo`` files next to them
are compiled from them and committed (the bot loads .mo). ``check`` fails on any missing
translation, stale .mo, a term ``locales/GLOSSARY.md`` says never to use, or a word from
the code's inside (:data:`INSIDE_WORDS`: "journal" for our records, "payment" for a top-up);
the test suite runs the same check.
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
LANGUAGES = ("ru", "kk", "en")
GLOSSARY = LOCALES / "GLOSSARY.md"
#: Plural forms each language's catalog must have (its CLDR rule: ru one/few/many).
PLURAL_FORMS = {"ru": 3, "kk": 2, "en": 2}
KEYWORDS: dict[str, object] = {"_": None, "N_": None, "__": None, "ngettext": (1, 2)}
#: Words of the code's inside that people never read, per language: (pattern, allowed
#: phrases). Checked in every msgid and translation (English: the msgid too, as en falls
#: back to it) after the allowed phrases are taken out, so a word only in them passes.
#: - "journal" is what the code calls its database; people read "our records" (GLOSSARY.md:
#:   "expected (by our records)"). Only the audit trail keeps the word in ru/kk: «журнал
#:   аудита» / «аудит журналы» (English says "audit trail" / "audit entries").
#: - "payment": every payment this bot makes is a wallet top-up (GLOSSARY.md), so English
#:   says "top-up". Allpay's protocol names (createCashInPayment) are one camel-case word
#:   and do not match; "paid" ("Nothing was paid") is a different word and stays. Nothing
#:   else is allowed: a new use belongs in GLOSSARY.md first, with its reason.
INSIDE_WORDS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "en": [(r"\bjournal", ()), (r"\bpayments?\b", ())],
    "ru": [(r"журнал", (r"журнал\w* аудита",))],
    "kk": [(r"журнал", (r"аудит журнал\w*",))],
}


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


def _key(msgid: str | tuple[str, ...]) -> str:
    """How a message is named in a merge file and the catalog: its (singular) msgid."""
    return msgid if isinstance(msgid, str) else msgid[0]


def merge(path: Path) -> None:
    wanted = {_key(m.id): m for m in extract() if m.id}
    given: dict[str, dict[str, str | list[str]]] = json.loads(path.read_text(encoding="utf-8"))
    for lang in LANGUAGES:
        catalog = load_po(lang)
        for message in list(catalog):
            if message.id and _key(message.id) not in wanted:
                del catalog[message.id]
        for msgid, strings in given.items():
            if msgid not in wanted:
                raise SystemExit(f"not in the code: {msgid!r}")
            code = wanted[msgid]
            text = strings.get(lang) or (code.id if lang == "en" else "")
            if not text:
                raise SystemExit(f"{lang}: no translation given for {msgid!r}")
            string = tuple(text) if isinstance(text, list | tuple) else text
            if isinstance(code.id, tuple) != isinstance(string, tuple):
                raise SystemExit(
                    f"{lang}: {msgid!r} needs {'forms' if code.pluralizable else 'a string'}"
                )
            existing = catalog.get(code.id)
            if existing is not None and existing.id == code.id:
                existing.string = string
            else:
                if existing is not None:  # the singular became plural, or back
                    del catalog[existing.id]
                catalog.add(code.id, string, flags=code.flags)
        with po_path(lang).open("wb") as fp:
            write_po(fp, catalog, omit_header=False, no_location=True, width=100)
    compile_all()


def never_terms() -> dict[str, list[str]]:
    """What GLOSSARY.md says is never written, per language (its "never (ru)"/"never (kk)"
    columns): known-wrong terms a translation must not contain."""
    found: dict[str, list[str]] = {"ru": [], "kk": []}
    columns: list[str] = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == "concept":
            columns = cells
            continue
        if not columns or set(cells[0]) <= {"-", ":"}:
            continue
        for lang in found:
            cell = cells[columns.index(f"never ({lang})")]
            found[lang] += [term.strip().lower() for term in cell.split(",") if term.strip()]
    return found


def _plain(value: object) -> object:
    """A plural message's id and forms as a tuple (read_mo gives lists), to compare."""
    return tuple(value) if isinstance(value, list | tuple) else value


def _texts(string: str | tuple[str, ...]) -> tuple[str, ...]:
    return (string,) if isinstance(string, str) else tuple(string)


def glossary_problems(catalogs: dict[str, Catalog] | None = None) -> list[str]:
    """Every translation that uses a term the glossary rules out."""
    found: list[str] = []
    for lang, terms in never_terms().items():
        catalog = catalogs[lang] if catalogs else load_po(lang)
        for message in catalog:
            if not message.id:
                continue
            for text in _texts(message.string):
                lowered = text.lower()
                for term in terms:
                    if term in lowered:
                        found.append(f"{lang}: {term!r} (GLOSSARY.md: never) in {text!r}")
    return found


def inside_word_problems(catalogs: dict[str, Catalog] | None = None) -> list[str]:
    """Every message that shows people a word of the code's inside (:data:`INSIDE_WORDS`)."""
    found: list[str] = []
    for lang, rules in INSIDE_WORDS.items():
        catalog = catalogs[lang] if catalogs else load_po(lang)
        for message in catalog:
            if not message.id:
                continue
            texts = _texts(message.string) + (_texts(message.id) if lang == "en" else ())
            for text in dict.fromkeys(texts):  # an en msgstr that is its msgid: said once
                for pattern, allowed in rules:
                    rest = text
                    for phrase in allowed:
                        rest = re.sub(phrase, " ", rest, flags=re.IGNORECASE)
                    if re.search(pattern, rest, flags=re.IGNORECASE):
                        found.append(f"{lang}: {pattern!r} (a word of the code) in {text!r}")
    return found


def problems() -> list[str]:
    found: list[str] = []
    wanted = {m.id for m in extract() if m.id}
    for lang in LANGUAGES:
        catalog = load_po(lang)
        have = {_plain(m.id): _plain(m.string) for m in catalog if m.id}
        if catalog.num_plurals != PLURAL_FORMS[lang]:
            found.append(
                f"{lang}: Plural-Forms has {catalog.num_plurals} forms, not {PLURAL_FORMS[lang]}"
            )
        for msgid in sorted(wanted, key=str):
            if not have.get(msgid) or not all(_texts(have[msgid])):
                found.append(f"{lang}: no translation for {msgid!r}")
            elif isinstance(msgid, tuple) and len(_texts(have[msgid])) != PLURAL_FORMS[lang]:
                found.append(f"{lang}: {msgid[0]!r} needs {PLURAL_FORMS[lang]} plural forms")
        mo_file = po_path(lang).with_suffix(".mo")
        if not mo_file.is_file():
            found.append(f"{lang}: {mo_file} missing")
            continue
        with mo_file.open("rb") as fp:
            compiled = {_plain(m.id): _plain(m.string) for m in read_mo(fp) if m.id}
        if compiled != {k: v for k, v in have.items() if v}:
            found.append(f"{lang}: {mo_file.name} is stale against messages.po; run compile")
    return found + glossary_problems() + inside_word_problems()


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
