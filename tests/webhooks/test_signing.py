"""Our signatures are Standard Webhooks' exactly: the specification's published test vector,
and the `standardwebhooks` library verifying as a receiver would."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from conversa.webhooks import signing
from conversa.webhooks.models import Endpoint


def test_the_specifications_published_test_vector():
    # The vector every reference library of the specification tests its `sign` with
    # (github.com/standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py,
    # test_sign_function; the same in the Go, JavaScript, C#, PHP and Ruby libraries' tests).
    key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    timestamp = 1614265330
    payload = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signing.signature(key, msg_id, timestamp, payload) == expected


def test_a_new_secret_is_whsec_and_32_random_bytes():
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert signing.new_secret() != secret


def test_the_receivers_library_verifies_our_headers():
    secret = signing.new_secret()
    body = '{"type":"message.received","data":{"text":"olá"}}'.encode()
    now = int(datetime.now(UTC).timestamp())
    headers = signing.headers([secret], "evt_1", now, body)
    assert Webhook(secret).verify(body, headers)["data"]["text"] == "olá"
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)


def test_during_a_rotation_either_secret_verifies():
    old, new = signing.new_secret(), signing.new_secret()
    body = b"{}"
    headers = signing.headers([new, old], "evt_2", int(datetime.now(UTC).timestamp()), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)


def test_the_previous_secret_signs_for_a_day_only():
    now = datetime.now(UTC)
    endpoint = Endpoint(secret="whsec_new", previous_secret="whsec_old")
    endpoint.previous_secret_until = now + timedelta(hours=24)
    assert endpoint.secrets(now) == ["whsec_new", "whsec_old"]
    assert endpoint.secrets(now + timedelta(hours=24, seconds=1)) == ["whsec_new"]
