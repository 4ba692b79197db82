"""Secrets at rest: provider tokens, app secrets and webhook secrets are stored encrypted.

Fernet (AES-128-CBC with HMAC-SHA256) from `cryptography`. The keys come from the
environment (FIELD_ENCRYPTION_KEYS, comma-separated, the first one encrypts, all decrypt, so a
key can be rotated by putting the new one first, then `conversa reencrypt-secrets`). They are
required outside DEBUG (conversa/checks.py refuses to start without them); with DEBUG and none
set, one is derived from SECRET_KEY, for development only.
"""

import base64
import binascii
import hashlib
from functools import cache, lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def fernet_key(secret: str) -> bytes:
    """`secret` itself when it is a Fernet key, else a key derived from it (any passphrase)."""
    try:
        if len(base64.urlsafe_b64decode(secret.encode())) == 32:
            return secret.encode()
    except (binascii.Error, ValueError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())


def field_keys() -> list[str]:
    """FIELD_ENCRYPTION_KEYS, or (DEBUG only) SECRET_KEY: never a key nobody chose."""
    if settings.FIELD_ENCRYPTION_KEYS:
        return list(settings.FIELD_ENCRYPTION_KEYS)
    if settings.DEBUG:
        return [settings.SECRET_KEY]
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS is not set: provider secrets cannot be encrypted or read. "
        "Set it in the environment (README, Deployment)."
    )


@cache
def keyring() -> MultiFernet:
    return MultiFernet([Fernet(fernet_key(key)) for key in field_keys()])


def forget_keys() -> None:
    """Read the keys again (after FIELD_ENCRYPTION_KEYS changed) and forget what they opened."""
    keyring.cache_clear()
    decrypt.cache_clear()


def encrypt(plain: str) -> str:
    return keyring().encrypt(plain.encode()).decode()


@lru_cache(maxsize=4096)
def decrypt(token: str) -> str:
    # Memoized: a number's row is read on every webhook it receives, and its ciphertext does
    # not change between reads. The plaintext is in this process's memory either way.
    try:
        return keyring().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted: FIELD_ENCRYPTION_KEYS (or SECRET_KEY) is not "
            "the key it was stored with. Put the old key after the new one to rotate."
        ) from exc


def masked(secret: str) -> str:
    """How a stored secret is shown again: never in full, only its last four characters."""
    if not secret:
        return ""
    return "••••" + secret[-4:] if len(secret) > 8 else "••••"


class EncryptedField(models.TextField):
    """A text column whose value is encrypted in the database and plain in Python.

    Each write encrypts afresh (Fernet is randomized), so the column cannot be filtered on.
    """

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else value
