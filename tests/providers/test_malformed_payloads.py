"""Malformed webhook bodies, generated: always a 200, never a 500. A verified body that is not a
JSON object (or not JSON the database can store) is kept whole as one Unparsed event saying why;
inside a JSON object, each item that cannot be read is one Unparsed event and the other items are
stored as usual.

Each POST carries the right secret or signature, so the body really is parsed. The database
rolls back once per test, not per example, so every example compares row counts around itself.
"""

import copy
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversa.inbox.models import Contact, Conversation, Message
from conversa.numbers.models import Number
from conversa.providers.cloud import signature
from conversa.providers.evolution import SECRET_HEADER
from conversa.providers.models import ProviderEvent
from tests.conftest import examples

PAYLOADS = Path(__file__).parents[1] / "fixtures" / "payloads"
EVOLUTION = {p.name: json.loads(p.read_bytes()) for p in sorted(PAYLOADS.glob("evolution/*.json"))}
CLOUD = {p.name: json.loads(p.read_bytes()) for p in sorted(PAYLOADS.glob("cloud/*.json"))}
APP_SECRET = "app-secret-for-tests"

# The parsers are what strange payloads try; the database only keeps what they kept.
EXAMPLES = settings(
    max_examples=examples(150, in_full_on="sqlite"),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def cloud_batch() -> dict:
    """Two messages from two real numbers in one POST: breaking the second must not lose the
    first."""
    batch = copy.deepcopy(CLOUD["batch_two_changes_one_entry_netflie.json"])
    for n, change in enumerate(batch["entry"][0]["changes"]):
        change["value"]["contacts"][0]["wa_id"] = f"551199990000{n}"
        change["value"]["messages"][0]["from"] = f"551199990000{n}"
        change["value"]["messages"][0]["id"] = f"wamid.batch{n}"
    return batch


CLOUD["batch_with_numbers"] = cloud_batch()

# Values a field might hold instead of the right one: every JSON type, nested a little, and the
# strings that pass JSON but not the database (NUL, a lone surrogate) or a column's width.
SPECIAL = st.sampled_from(
    [
        "",
        "\x00",
        "a\x00b",
        "\ud800",
        "9" * 30,
        "x" * 300,
        "١٢٣٤٥",
        "abc@s.whatsapp.net",
        "5511999990009@s.whatsapp.net",
        "5511999990009",
        "1e400",
        "messages.upsert",
    ]
)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | SPECIAL
GARBAGE = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths(value, prefix=()):
    """Every place inside a JSON value, as a tuple of keys and indexes."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


@st.composite
def mutated(draw, payloads: dict) -> bytes:
    """A real payload with one to three fields deleted or replaced by a wrong-typed value."""
    payload = copy.deepcopy(payloads[draw(st.sampled_from(sorted(payloads)))])
    for _ in range(draw(st.integers(1, 3))):
        inside = list(paths(payload))[1:]
        if not inside:
            break
        where = draw(st.sampled_from(inside))
        parent = payload
        for step in where[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            del parent[where[-1]]
        else:
            parent[where[-1]] = draw(GARBAGE)
    return json.dumps(payload).encode()


# Bodies that are not JSON, or JSON of the wrong shape altogether.
NOT_A_PAYLOAD = (
    st.binary(max_size=64)
    | st.text(max_size=64).map(str.encode)
    | GARBAGE.map(lambda value: json.dumps(value).encode())
    | st.sampled_from(
        [
            b"NaN",
            b'{"event": "messages.upsert", "data": {"key": NaN}}',
            b'{"entry": [1e999]}',
            b"[" * 5000 + b"]" * 5000,
            b'{"a":' * 100 + b"1" + b"}" * 100,
            b'{"event": "messages.upsert", "data": "\\u0000"}',
        ]
    )
)


@pytest.fixture
def evolution(org) -> Number:
    return Number.objects.create(
        organization=org.org,
        name="Evolution number",
        provider=Number.Provider.EVOLUTION,
        provider_name="servicewa",
        status=Number.Status.CONNECTED,
    )


@pytest.fixture
def cloud(org) -> Number:
    return Number.objects.create(
        organization=org.org,
        name="Cloud number",
        provider=Number.Provider.CLOUD,
        provider_name="106540352242922",
        provider_token="token",
        app_secret=APP_SECRET,
        status=Number.Status.CONNECTED,
    )


def counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (ProviderEvent, Message, Contact, Conversation))


def post(client, number: Number, raw: bytes):
    if number.provider == Number.Provider.CLOUD:
        headers = {"X-Hub-Signature-256": "sha256=" + signature(APP_SECRET, raw)}
    else:
        headers = {SECRET_HEADER: number.webhook_secret}
    return client.post(
        f"/webhooks/{number.provider}/{number.webhook_key}",
        data=raw,
        content_type="application/json",
        headers=headers,
    )


def kept_unparsed(number: Number, raw: bytes) -> ProviderEvent | None:
    key = "unparsed:" + hashlib.sha256(raw).hexdigest()
    return ProviderEvent.objects.filter(number=number, dedupe_key=key).first()


def assert_200_stored_whole_or_kept_unparsed(client, number: Number, raw: bytes) -> None:
    before = counts()
    response = post(client, number, raw)
    assert response.status_code == 200, (response.status_code, raw[:300])
    body = response.json()
    stored = counts()[0] - before[0]
    assert stored == body["stored"]
    record = kept_unparsed(number, raw)
    if record is not None:
        # Refused whole: the one Unparsed event (new, or this same body seen before) and
        # nothing else of the POST.
        assert (record.kind, bool(record.reason)) == ("Unparsed", True)
        assert body["stored"] + body["duplicates"] == 1
        assert counts()[1:] == before[1:], raw[:300]


@EXAMPLES
@given(raw=NOT_A_PAYLOAD)
def test_evolution_body_that_is_not_a_payload_is_kept_or_nothing(client, evolution, raw):
    assert_200_stored_whole_or_kept_unparsed(client, evolution, raw)


@EXAMPLES
@given(raw=NOT_A_PAYLOAD)
def test_cloud_body_that_is_not_a_payload_is_kept_or_nothing(client, cloud, raw):
    assert_200_stored_whole_or_kept_unparsed(client, cloud, raw)


@EXAMPLES
@given(raw=mutated(EVOLUTION))
def test_evolution_real_payload_with_broken_fields_is_kept_or_stored_whole(client, evolution, raw):
    assert_200_stored_whole_or_kept_unparsed(client, evolution, raw)


@EXAMPLES
@given(raw=mutated(CLOUD))
def test_cloud_real_payload_with_broken_fields_is_kept_or_stored_whole(client, cloud, raw):
    assert_200_stored_whole_or_kept_unparsed(client, cloud, raw)


@pytest.mark.parametrize(
    "bad_id",
    [["wamid.list"], {"id": 1}, 42, "", "w" * 129],
    ids=["list", "object", "number", "empty", "too-long"],
)
def test_a_batch_whose_second_message_is_bad_keeps_it_unparsed_and_stores_the_first(
    client, cloud, bad_id
):
    batch = cloud_batch()
    batch["entry"][0]["changes"][1]["value"]["messages"][0]["id"] = bad_id

    raw = json.dumps(batch).encode()
    response = post(client, cloud, raw)

    assert response.json() == {"ok": True, "stored": 2, "duplicates": 0}
    assert counts() == (2, 1, 1, 1)
    assert Message.objects.get().provider_message_id == "wamid.batch0"
    unparsed = ProviderEvent.objects.get(kind="Unparsed")
    assert unparsed.dedupe_key.startswith("unparsed:")


def test_the_same_batch_unbroken_stores_both(client, cloud):
    response = post(client, cloud, json.dumps(cloud_batch()).encode())

    assert response.json() == {"ok": True, "stored": 2, "duplicates": 0}
    assert counts() == (2, 2, 2, 2)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("remoteJid", "123456789012345678901234@s.whatsapp.net"),
        ("remoteJid", "abc@s.whatsapp.net"),
        ("id", "3EB0" * 40),
        ("id", {"nested": "id"}),
    ],
    ids=["phone-too-long", "phone-not-digits", "id-too-long", "id-object"],
)
def test_evolution_fields_the_tables_cannot_hold_are_kept_unparsed(client, evolution, field, value):
    payload = copy.deepcopy(EVOLUTION["messages_upsert_conversation_v2_msgorch.json"])
    payload["data"]["key"][field] = value
    raw = json.dumps(payload).encode()

    response = post(client, evolution, raw)

    assert response.json() == {"ok": True, "stored": 1, "duplicates": 0}
    assert counts() == (1, 0, 0, 0)
    assert ProviderEvent.objects.get().kind == "Unparsed"


@pytest.mark.parametrize(
    "text",
    ["a\x00b", "\ud83d"],
    ids=["nul", "lone-surrogate"],
)
def test_text_postgresql_cannot_store_is_kept_as_text(client, evolution, text):
    payload = copy.deepcopy(EVOLUTION["messages_upsert_conversation_v2_msgorch.json"])
    payload["data"]["message"] = {"conversation": text}
    raw = json.dumps(payload).encode()

    response = post(client, evolution, raw)

    assert response.status_code == 200
    assert counts() == (1, 0, 0, 0)
    # Not storable as JSON: its text is (the escapes are plain characters there).
    assert kept_unparsed(evolution, raw).payload == {"raw": raw.decode()}


def test_someone_elses_long_callback_data_is_not_a_400(client, cloud):
    """Meta sends every subscribed app the statuses of every app's sends: a callback longer than
    our references can be is another app's, ignored rather than refused (and retried for days)."""
    status = copy.deepcopy(CLOUD["status_delivered_meta_docs.json"])
    status["entry"][0]["changes"][0]["value"]["statuses"][0]["biz_opaque_callback_data"] = "z" * 500

    response = post(client, cloud, json.dumps(status).encode())

    assert response.status_code == 200
    assert ProviderEvent.objects.get().reference == ""
