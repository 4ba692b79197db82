"""The Brazilian Portuguese catalog: complete, compiled, and actually served."""

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

PO_PATH = Path(settings.LOCALE_PATHS[0]) / "pt_BR" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\{.*?\}\}")


@dataclass
class Entry:
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0


def parse_po(path: Path) -> list[Entry]:
    """A small reader for the subset of the PO format that xgettext/msgmerge write."""
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int] = ("", 0)  # the field a "continuation" line extends

    def append(e: Entry, key: tuple[str, int], text: str) -> None:
        name, index = key
        if name == "msgctxt":
            e.msgctxt = (e.msgctxt or "") + text
        elif name == "msgid":
            e.msgid += text
        elif name == "msgid_plural":
            e.msgid_plural = (e.msgid_plural or "") + text
        else:
            e.msgstr[index] = e.msgstr.get(index, "") + text

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            if entry is not None:
                entries.append(entry)
            entry = None
            continue
        if entry is None:
            entry = Entry(line=lineno)
        if line.startswith("#~"):
            raise AssertionError(f"{path}:{lineno}: obsolete entry left in the catalog")
        if line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            assert target[0], f"{path}:{lineno}: continuation line outside a field"
            append(entry, target, ast.literal_eval(line))
        else:
            keyword, _, rest = line.partition(" ")
            match = re.fullmatch(r"(msgctxt|msgid|msgid_plural|msgstr)(?:\[(\d+)\])?", keyword)
            assert match, f"{path}:{lineno}: unexpected line {raw!r}"
            target = (match.group(1), int(match.group(2) or 0))
            append(entry, target, ast.literal_eval(rest))
    if entry is not None:
        entries.append(entry)
    return entries


def messages() -> list[Entry]:
    return [e for e in parse_po(PO_PATH) if e.msgid]


def test_catalog_parses_and_has_messages():
    header = parse_po(PO_PATH)[0]
    assert header.msgid == ""
    assert "Language: pt_BR\n" in header.msgstr[0]
    assert "Plural-Forms: nplurals=2; plural=(n > 1);\n" in header.msgstr[0]
    assert "fuzzy" not in header.flags
    assert len(messages()) > 50


def test_every_entry_is_translated_and_none_is_fuzzy():
    untranslated, fuzzy = [], []
    for e in messages():
        expected_forms = 2 if e.msgid_plural is not None else 1
        if len(e.msgstr) != expected_forms or not all(s.strip() for s in e.msgstr.values()):
            untranslated.append(f"line {e.line}: {e.msgid!r}")
        if "fuzzy" in e.flags:
            fuzzy.append(f"line {e.line}: {e.msgid!r}")
    assert not untranslated, "untranslated:\n" + "\n".join(untranslated)
    assert not fuzzy, "fuzzy:\n" + "\n".join(fuzzy)


def test_placeholders_survive_translation():
    for e in messages():
        sources = [e.msgid] + ([e.msgid_plural] if e.msgid_plural is not None else [])
        wanted = sorted(set().union(*(PLACEHOLDER.findall(s) for s in sources)))
        for s in e.msgstr.values():
            assert sorted(set(PLACEHOLDER.findall(s))) == wanted, (e.msgid, s)


def test_compiled_catalog_matches_the_po():
    """A stale django.mo (compilemessages not rerun after editing the .po) fails here."""
    stale = []
    with translation.override("pt-br"):
        for e in messages():
            if e.msgctxt is not None:
                got = {0: translation.pgettext(e.msgctxt, e.msgid)}
            elif e.msgid_plural is None:
                got = {0: translation.gettext(e.msgid)}
            else:
                got = {
                    0: translation.ngettext(e.msgid, e.msgid_plural, 1),
                    1: translation.ngettext(e.msgid, e.msgid_plural, 2),
                }
            if got != e.msgstr:
                stale.append(f"{e.msgid!r}: .mo gives {got}, .po says {e.msgstr}")
    assert not stale, "recompile with `conversa compilemessages`:\n" + "\n".join(stale)


@pytest.mark.django_db
def test_sign_in_page_speaks_portuguese(client, org):
    response = client.get("/login/", headers={"accept-language": "pt-BR"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Entrar" in page
    assert '<html lang="pt-br">' in page
    assert "Sign in" not in page


@pytest.mark.django_db
def test_sign_in_page_stays_english_by_default(client, org):
    response = client.get("/login/", headers={"accept-language": "en"})
    assert "Sign in" in response.content.decode()
