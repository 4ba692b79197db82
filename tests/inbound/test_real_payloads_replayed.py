"""Every published payload in tests/fixtures/payloads (sources in SOURCES.md), signed and posted
through the webhook endpoint three times, all of them interleaved in a shuffled order: each
event is stored exactly once and each message is one row with the content its payload says.

Each file goes to a number of its own, so payloads that reuse one another's ids (pywa's test
data does) stay apart, and a reaction, edit or status whose message is in the same file may
arrive before it, as reordered webhooks do.
"""

import hashlib
import hmac
import random
from pathlib import Path

import pytest

from conversa.inbox.media import without_bytes
from conversa.inbox.models import Message
from conversa.numbers.models import Number
from conversa.providers.base import InboundMessage
from conversa.providers.models import ProviderEvent
from conversa.providers.registry import get_provider

PAYLOADS = Path(__file__).parents[1] / "fixtures" / "payloads"
SECRET = "app-secret-for-tests"  # noqa: S105


def numbered(org, provider: str, names: list[str]) -> dict[str, Number]:
    numbers = {}
    for n, name in enumerate(names):
        numbers[name] = Number.objects.create(
            organization=org.org,
            name=f"{provider} {n}",
            provider=provider,
            provider_name=f"replay-{provider}-{n}",
            provider_token="token",  # noqa: S106
            app_secret=SECRET if provider == Number.Provider.CLOUD else "",
            status=Number.Status.CONNECTED,
        )
    return numbers


def post(client, number: Number, raw: bytes):
    headers = {"X-Conversa-Secret": number.webhook_secret}
    if number.provider == Number.Provider.CLOUD:
        digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        headers = {"X-Hub-Signature-256": f"sha256={digest}"}
    return client.post(
        f"/webhooks/{number.provider}/{number.webhook_key}",
        data=raw,
        content_type="application/json",
        headers=headers,
    )


@pytest.mark.parametrize("provider", ["cloud", "evolution"])
def test_every_published_payload_replayed_three_times_shuffled_is_stored_once(
    client, org, provider
):
    files = sorted(path for path in (PAYLOADS / provider).glob("*.json"))
    numbers = numbered(org, provider, [path.name for path in files])
    raws = {path.name: path.read_bytes() for path in files}
    posts = [name for name in raws for _ in range(3)]
    random.Random(15).shuffle(posts)

    for name in posts:
        assert post(client, numbers[name], raws[name]).status_code == 200

    for name, raw in raws.items():
        number = numbers[name]
        parsed = get_provider(number).parse_webhook(number, raw)
        keys = {item.dedupe_key for item in parsed}
        stored = ProviderEvent.objects.filter(number=number)
        assert sorted(stored.values_list("dedupe_key", flat=True)) == sorted(keys), name
        for item in parsed:
            event = item.event
            if not isinstance(event, InboundMessage):
                continue
            [message] = Message.objects.filter(
                number=number, provider_message_id=event.provider_message_id
            )
            assert message.kind == event.kind, name
            assert message.content == without_bytes(event.content), name
            assert message.is_outbound == event.from_me, name
            if message.edited_at is None:
                assert message.body == event.body, name


def test_the_folders_hold_every_kind_of_both_providers():
    """The replay above is only as good as what it replays: at least one payload per kind."""
    kinds: dict[str, set[str]] = {"cloud": set(), "evolution": set()}
    for provider in kinds:
        number = Number(provider=provider, provider_name="x", app_secret=SECRET)
        for path in (PAYLOADS / provider).glob("*.json"):
            for item in get_provider(number).parse_webhook(number, path.read_bytes()):
                event = item.event
                what = getattr(event, "kind", "") or getattr(event, "change", "")
                kinds[provider].add(what or type(event).__name__)
    every = {"text", "image", "video", "voice", "document", "sticker", "location", "contacts"}
    for provider, seen in kinds.items():
        assert every <= seen, (provider, sorted(every - seen))
        assert {"reaction", "edit", "revoke"} <= seen, (provider, sorted(seen))
    assert {"audio", "choice", "order", "unsupported", "IdentityUpdate"} <= kinds["cloud"]
    assert {"poll", "unsupported"} <= kinds["evolution"]
