"""Every action the code writes to the audit timeline has a sentence on the audit log page."""

import ast
from pathlib import Path

import conversa
from conversa.accounts.audit import ACTORS, VERBS

WRITERS = {"record", "event", "record_for_person"}


def recorded_labels() -> set[str]:
    """The `label=` literals passed to the timeline's writers: what acted, when no person did."""
    labels = set()
    for path in Path(conversa.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            for keyword in node.keywords:
                literal = isinstance(keyword.value, ast.Constant)
                if literal and (
                    (keyword.arg == "label" and name in WRITERS | {"timeline"})
                    or keyword.arg == "actor_label"
                ):
                    labels.add(keyword.value.value)
    return labels


def recorded_verbs() -> set[str]:
    """The verbs passed as literals to the timeline's writers anywhere in the code."""
    verbs = set()
    for path in Path(conversa.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            verb = node.args[1]
            if name in WRITERS and isinstance(verb, ast.Constant) and isinstance(verb.value, str):
                verbs.add(verb.value)
    return verbs


def test_every_recorded_action_reads_as_a_sentence():
    verbs = recorded_verbs()
    assert len(verbs) > 30
    assert sorted(verbs - set(VERBS)) == []


def test_every_recorded_actor_has_words():
    labels = recorded_labels()
    # (The Gate's entries are built from its decisions now; "gate" stays in ACTORS for old rows.)
    assert {"worker", "presence", "assistant"} <= labels
    # "system" is the writers' default; mfa.py and message_changes.py pick theirs in a variable.
    assert sorted((labels | {"system", "sign-in", "phone", "customer"}) - set(ACTORS)) == []
