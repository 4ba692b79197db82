"""The suite's settings: conversa.settings, run as a deployment runs it.

Before conversa.settings is read, the environment gets what every deployment must set (README,
Deployment): its own SECRET_KEY and FIELD_ENCRYPTION_KEYS, and the simulator on with its own
key (the tests drive it). Fresh random values per run, so nothing depends on the development
defaults; a value already in the environment is kept.

The `conversa serve`, `migrate` and `worker` processes the tests start inherit this environment,
so they pass the deployment checks and read the secrets and sessions this process writes; they
load conversa.settings itself, as a deployment does (DJANGO_SETTINGS_MODULE is reset below for
them; this process has already chosen its module).
"""

import os
import secrets

from cryptography.fernet import Fernet

os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("SANDBOX_ENABLED", "1")
os.environ.setdefault("SANDBOX_API_KEY", secrets.token_urlsafe(32))
os.environ["DJANGO_SETTINGS_MODULE"] = "conversa.settings"

from conversa.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["tests.hashers.CheapArgon2PasswordHasher", *PASSWORD_HASHERS[1:]]  # noqa: F405

if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":  # noqa: F405
    # A connection left inside a transaction by a stuck thread (a live server's request waiting
    # on something outside the database) would keep its locks, and every later test's flush
    # would wait on them until CI's limit: the server ends such a session after two minutes,
    # far longer than any test leaves a transaction idle.
    DATABASES["default"]["OPTIONS"]["options"] += " -c idle_in_transaction_session_timeout=120s"  # noqa: F405
