"""The realtime events' catalogue: one fixed shape per type, ids always in plural lists,
checked where an event is published, and read in that one shape by the pages."""

import re
import types
import typing
from pathlib import Path

import pytest
from pydantic import ValidationError

from conversa.engine import services as engine
from conversa.engine.models import MessageIntent
from conversa.realtime import events, publisher

PACKAGE = Path(events.__file__).resolve().parents[1]
PAGES_JS = [PACKAGE / "static" / "conversa" / name for name in ("app.js", "crm.js", "presence.js")]
CATALOGUE = list(events.CATALOGUE.values())


def id_fields(event: type[events.Event]) -> list[str]:
    return [name for name in event.model_fields if name.endswith("_ids")]


def valid_fields(event: type[events.Event]) -> dict[str, list[int]]:
    return {name: [n + 1] for n, name in enumerate(id_fields(event))}


def closed_words(annotation) -> tuple[str, ...] | None:
    """The words of `Literal["a", "b"] | None`, or None for any other annotation."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None
    literal = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(literal) != 1 or typing.get_origin(literal[0]) is not typing.Literal:
        return None
    words = typing.get_args(literal[0])
    return words if all(isinstance(w, str) for w in words) else None


def test_each_type_has_one_definition_of_ids_and_at_most_a_closed_word():
    """Ids, and beside them only `change`: a word from a closed list, optional. What happened
    (resolved, opted out) is no personal data, and a closed list cannot carry any: no text, no
    phone, no name can slip into an event through it."""
    assert len(events.CATALOGUE) == len(events.Event.__subclasses__()), "a type defined twice"
    for event in CATALOGUE:
        assert re.fullmatch(r"[A-Z]+(_[A-Z]+)*", event.type)
        assert id_fields(event), f"{event.type} names nothing"
        for name, field in event.model_fields.items():
            if name.endswith("_ids"):
                continue
            assert name == "change", f"{event.type}.{name} is neither ids nor a change"
            assert closed_words(field.annotation), f"{event.type}.change is not a closed list"
            assert field.default is None and not field.is_required(), event.type


def test_a_change_outside_its_list_raises():
    ids = {"conversation_ids": [1]}
    assert events.ConversationUpdated(**ids, change="resolved").payload() == {
        "type": "CONVERSATION_UPDATED",
        **ids,
        "change": "resolved",
    }
    for wrong in ("Resolved", "deleted", "Ana Souza", 1):
        with pytest.raises(ValidationError):
            events.ConversationUpdated(**ids, change=wrong)


@pytest.mark.parametrize("event", CATALOGUE, ids=lambda event: event.type)
def test_each_definition_is_published_somewhere(event):
    sources = [
        path.read_text()
        for path in PACKAGE.rglob("*.py")
        if path.name != "events.py" and "migrations" not in path.parts
    ]
    assert any(re.search(rf"\bevents\.{event.__name__}\b", text) for text in sources), (
        f"{event.__name__} is never published: remove it, or publish it"
    )


@pytest.mark.parametrize("event", CATALOGUE, ids=lambda event: event.type)
def test_a_misshapen_event_raises_where_it_is_made(event):
    fields = valid_fields(event)
    assert event(**fields).payload() == {"type": event.type, **fields}
    first = next(iter(fields))
    singular = {**fields, first.removesuffix("s"): 1}
    del singular[first]
    for wrong in (
        singular,
        {**fields, "note_ids": [1]},
        {**fields, first: 1},
        {**fields, first: []},
        {**fields, first: ["1"]},
        {**fields, first: (1,)},
        {name: ids for name, ids in fields.items() if name != first},
    ):
        with pytest.raises(ValidationError):
            event(**wrong)


def test_publish_takes_an_event_and_nothing_beside_it(org):
    with pytest.raises(TypeError):
        publisher.publish(org.org.pk, {"type": "LEAD_UPDATED", "lead_ids": [1]})
    with pytest.raises(TypeError):
        publisher.publish(org.org.pk, events.LeadUpdated(lead_ids=[1]), lead_ids=[2])


def test_a_batch_of_one_is_published_with_plural_keys(
    org, published_events, django_capture_on_commit_callbacks
):
    intent = engine.reply(org.conversation(), "Olá", acting_member=org.owner)[0]
    published_events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        engine.set_intents_status([intent], MessageIntent.Status.FAILED)
    assert published_events == [
        (org.org.pk, {"type": "INTENT_UPDATED", "intent_ids": [intent.pk]}),
    ]


def test_the_pages_read_only_the_catalogues_plural_keys():
    fields = {name for event in CATALOGUE for name in event.model_fields}
    for path in PAGES_JS:
        read = set(re.findall(r"(?<![.\w])event\.(\w+)", path.read_text())) - {"type"}
        assert read, f"{path.name} reads no event"
        assert read <= fields, f"{path.name} reads {read - fields}, which no event carries"
