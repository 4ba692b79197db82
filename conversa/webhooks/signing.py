"""Signatures exactly as the Standard Webhooks specification defines them
(github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md):

- a secret is `whsec_` + base64 of random bytes (24 to 64; ours are 32), and the HMAC key is
  the base64-decoded part after the prefix;
- the signed content is `<webhook-id>.<webhook-timestamp>.<body>`, HMAC-SHA256;
- `webhook-signature` is `v1,<base64 signature>`, several separated by spaces (during a
  rotation both the new and the previous secret sign, and a receiver accepts either).
"""

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def key_of(secret: str) -> bytes:
    encoded = secret.removeprefix(PREFIX)
    # Receivers' libraries accept unpadded base64; so do we.
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key_of(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of one attempt, signed with each of `secrets_`."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets_),
    }
