"""The words people see (docs/ui.md): the one relative-time phrase, sign-in's error in the
words of its form, and the pt-BR catalogue free of our internal words."""

import ast
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.template import engines
from django.test import Client
from django.utils import timezone, translation

from conversa.timetext import relative_time

CATALOGUE = Path(__file__).resolve().parents[2] / "conversa/locale/pt_BR/LC_MESSAGES/django.po"
NOW = timezone.now()


@pytest.mark.parametrize(
    ("seconds", "english", "portuguese"),
    [
        (0, "just now", "agora há pouco"),
        (59, "just now", "agora há pouco"),
        (5 * 60 + 20, "5 minutes ago", "há 5 minutos"),
        (26 * 3600, "1 day ago", "há 1 dia"),
        (-30, "in under a minute", "em menos de um minuto"),
        (-2 * 3600 - 60, "in 2 hours", "em 2 horas"),
    ],
)
def test_a_time_is_said_relative_to_now_never_as_zero_minutes(seconds, english, portuguese):
    when = NOW - timedelta(seconds=seconds)
    # Django joins number and unit with a no-break space: "5 minutes" never splits.
    with translation.override("en"):
        assert relative_time(when, NOW).replace("\xa0", " ") == english
    with translation.override("pt-br"):
        assert relative_time(when, NOW).replace("\xa0", " ") == portuguese


def test_every_template_has_the_relative_filter_without_loading_it():
    template = engines["django"].from_string("{{ a|relative }}|{{ b|relative|default:'—' }}")
    with translation.override("en"):
        assert template.render({"a": timezone.now(), "b": None}) == "just now|—"


def test_a_wrong_password_speaks_of_the_email_field(org):
    for language, words in [
        ("en", "That email and password do not match."),
        ("pt-br", "O e-mail e a senha não conferem."),
    ]:
        client = Client()
        client.cookies["django_language"] = language
        email = org.owner.user.username
        page = client.post("/login/", {"username": email, "password": "wrong"}).content.decode()
        assert words in page
        # Django's own message: "Please enter a correct username and password."
        assert "correct username" not in page and "nome de usuário" not in page


def translations() -> list[str]:
    """Every msgstr of the pt-BR catalogue, its continued lines joined."""
    text = CATALOGUE.read_text()
    return [
        "".join(re.findall(r'"(.*)"', block))
        for block in re.findall(r'^msgstr(?:\[\d\])? ((?:".*"\n?)+)', text, re.M)
    ]


@pytest.mark.parametrize("word", ["Gate", "Disjuntor", "instância", "Instância"])
def test_the_portuguese_screens_do_not_use_our_internal_words(word):
    found = [t for t in translations() if re.search(rf"\b{word}\b", t)]
    assert not found, f"pt-BR says {word!r} (docs/ui.md, Words): {found}"


def test_no_screen_calls_a_number_an_instance():
    """Every string on screen has its msgid in the catalogue: none says "instance" (the
    Evolution server's own term belongs only on its admin fields, explained)."""
    msgids = re.findall(r'^msgid ((?:".*"\n?)+)', CATALOGUE.read_text(), re.M)
    found = [m for m in msgids if re.search(r"(?<!Evolution )\binstances?\b", m, re.I)]
    assert not found, found


def catalogue_msgids() -> set[str]:
    text = CATALOGUE.read_text()
    return {
        "".join(ast.literal_eval(line) for line in re.findall(r'^(".*")$', block, re.M))
        for block in re.findall(r'^msgid ((?:".*"\n)+)', text, re.M)
    }


def strings_on_screen():
    """(file, string) for every literal a template translates ({% translate %}, and the
    untrimmed {% blocktranslate %} blocks with their {{ variables }} as %(variables)s) and
    every literal the Python code passes to gettext."""
    package = CATALOGUE.parents[3]
    for path in (package / "templates").rglob("*.html"):
        text = path.read_text()
        for m in re.finditer(r'{%\s*translate\s+("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')', text):
            yield path.name, m.group(1)[1:-1]
        blocks = r"{%\s*blocktranslate(?![^%]*trimmed)[^%]*%}(.*?){%\s*(?:endblocktranslate|plural)"
        for m in re.finditer(blocks, text, re.S):
            yield path.name, re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", m.group(1))
    for path in package.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        calls = r'\b(?:_|gettext|gettext_lazy)\(\s*("(?:[^"\\]|\\.)*")\s*[,)%]'
        for m in re.finditer(calls, path.read_text()):
            yield path.name, ast.literal_eval(m.group(1))


def test_every_string_on_screen_has_its_portuguese():
    """The catalogue is written by hand (no makemessages): a string added without its entry
    stays English on a pt-BR screen. The simulator's forms did."""
    known = catalogue_msgids()
    missing = sorted(
        {f"{name}: {text!r}" for name, text in strings_on_screen() if text not in known}
    )
    assert not missing, "no pt-BR entry for:\n" + "\n".join(missing)
