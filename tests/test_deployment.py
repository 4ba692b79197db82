"""An insecure deployment refuses to start (issue 16, problem 2 and item 10): without DEBUG, a
missing or development SECRET_KEY, no FIELD_ENCRYPTION_KEYS, or the simulator on with its
development key stop every entry point with an error naming the setting; a proper production
environment passes `conversa check --deploy`. And /metrics is for Prometheus only."""

import os
import secrets
import sqlite3
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client

from conversa import checks, crypto
from conversa.numbers.models import Number

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
# What the subprocesses below prove is about settings, not the database.
subprocesses = pytest.mark.skipif(
    ON_POSTGRES, reason="settings checks: the SQLite run proves them, no database involved"
)


def environment(tmp_path, **settings: str) -> dict[str, str]:
    """A bare environment (nothing of this test process's keys), and `settings`."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "conversa.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        "CONVERSA_DATA_DIR": str(tmp_path),
        **settings,
    }


def production(tmp_path, **more: str) -> dict[str, str]:
    """What README's Deployment section says a deployment sets."""
    return environment(
        tmp_path,
        SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="chat.example.com",
        CSRF_TRUSTED_ORIGINS="https://chat.example.com",
        CONVERSA_PUBLIC_URL="https://chat.example.com",
        SECURE_COOKIES="1",
        SECURE_SSL_REDIRECT="1",
        # Every subdomain on HTTPS too: the opt-ins Django's W005 and W021 ask about.
        SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
        SECURE_HSTS_PRELOAD="1",
        METRICS_TOKEN=secrets.token_urlsafe(24),
        **more,
    )


def conversa(tmp_path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # A timeout, not a wait: an entry point that failed to refuse would serve forever.
    return subprocess.run(
        [sys.executable, "-m", "conversa.cli", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@subprocesses
def test_a_production_environment_passes_check_deploy(tmp_path):
    done = conversa(tmp_path, production(tmp_path), "check", "--deploy")

    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "conversa." not in output
    # HSTS for a year comes with SECURE_COOKIES: no warning of Django's is left either.
    assert "(security." not in output, output


@subprocesses
def test_a_production_environment_with_the_simulator_and_its_own_key_passes(tmp_path):
    env = production(tmp_path, SANDBOX_ENABLED="1", SANDBOX_API_KEY=secrets.token_urlsafe(32))

    done = conversa(tmp_path, env, "check", "--deploy")

    assert done.returncode == 0, done.stderr
    assert "conversa." not in done.stdout + done.stderr


@subprocesses
def test_check_deploy_names_every_missing_setting(tmp_path):
    done = conversa(tmp_path, environment(tmp_path, SANDBOX_ENABLED="1"), "check", "--deploy")

    assert done.returncode != 0
    for error, setting in [
        ("conversa.E001", "SECRET_KEY is not set"),
        ("conversa.E002", "FIELD_ENCRYPTION_KEYS is not set"),
        ("conversa.E004", "SANDBOX_ENABLED is on with the development SANDBOX_API_KEY"),
        ("conversa.W001", "METRICS_TOKEN is not set"),
    ]:
        assert f"({error}) {setting}" in done.stderr


@subprocesses
@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--port", "1"],
        ["worker"],
        ["migrate", "--noinput"],
        ["sandbox", "--port", "1"],
    ],
)
def test_every_entry_point_refuses_to_start_without_its_keys(tmp_path, command):
    done = conversa(tmp_path, environment(tmp_path), *command)

    assert done.returncode != 0
    assert "conversa.E001" in done.stderr
    assert "SECRET_KEY" in done.stderr
    if command[0] == "migrate":
        assert not migrated(tmp_path / "deploy.sqlite3")


def migrated(database) -> bool:
    if not database.exists():
        return False
    with sqlite3.connect(database) as db:
        return bool(db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall())


@subprocesses
def test_the_simulator_with_its_development_key_refuses_to_start(tmp_path):
    env = production(tmp_path, SANDBOX_ENABLED="1")

    served = conversa(tmp_path, env, "serve", "--port", "1")
    alone = conversa(tmp_path, production(tmp_path), "sandbox", "--port", "1")

    assert served.returncode != 0
    assert "conversa.E004" in served.stderr
    assert alone.returncode != 0
    assert "conversa.E004" in alone.stderr


@subprocesses
def test_a_development_machine_may_use_the_development_keys(tmp_path):
    done = conversa(tmp_path, environment(tmp_path, DEBUG="1", SANDBOX_ENABLED="1"), "check")

    assert done.returncode == 0, done.stderr


@subprocesses
def test_the_embedded_default_checks_its_database_without_warnings(tmp_path):
    """SQLite keeps the covering indexes without their PostgreSQL-only columns, as intended:
    `make run`'s migration and start say nothing of it."""
    env = environment(tmp_path, DEBUG="1", SANDBOX_ENABLED="1")
    done = conversa(tmp_path, env, "check", "--database", "default")

    assert done.returncode == 0, done.stderr
    assert "WARNINGS" not in done.stderr + done.stdout, done.stderr


# The same rules, in this process


def test_weak_field_encryption_keys_are_refused(settings):
    settings.DEBUG = False
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), "short"]

    ids = [e.id for e in checks.deployment_errors()]

    assert ids == ["conversa.E003"]


def test_the_asgi_application_refuses_what_the_checks_refuse(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = settings.DEVELOPMENT_SECRET_KEY

    with pytest.raises(ImproperlyConfigured, match="conversa.E001: SECRET_KEY is not set"):
        checks.refuse_to_start_insecure()


def test_without_keys_no_secret_is_encrypted_with_a_key_nobody_chose(settings):
    settings.DEBUG = False
    settings.FIELD_ENCRYPTION_KEYS = []
    crypto.forget_keys()
    try:
        with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS is not set"):
            crypto.encrypt("segredo")
        settings.DEBUG = True
        assert crypto.decrypt(crypto.encrypt("segredo")) == "segredo"
    finally:
        crypto.forget_keys()


def test_reencrypt_secrets_moves_every_secret_to_the_new_key(org, settings):
    old = list(settings.FIELD_ENCRYPTION_KEYS)
    secret = org.number.webhook_secret
    new = Fernet.generate_key().decode()
    try:
        settings.FIELD_ENCRYPTION_KEYS = [new, *old]
        crypto.forget_keys()
        call_command("reencrypt_secrets", stdout=open(os.devnull, "w"))  # noqa: SIM115

        settings.FIELD_ENCRYPTION_KEYS = [new]
        crypto.forget_keys()
        number = Number.objects.get(pk=org.number.pk)
        assert number.webhook_secret == secret
        assert number.provider_token == org.twin.token
    finally:
        settings.FIELD_ENCRYPTION_KEYS = old
        crypto.forget_keys()


# /metrics


def test_metrics_answer_the_token_only(db, settings):
    settings.METRICS_TOKEN = "prometheus-token"
    client = Client()

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer prometheus-token"})
    assert answer.status_code == 200
    assert b"python_info" in answer.content
    assert client.get("/metrics")["WWW-Authenticate"].startswith("Bearer")


def test_metrics_without_a_token_answer_the_loopback_only(db, settings):
    settings.METRICS_TOKEN = ""

    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics").status_code == 404
    assert Client(REMOTE_ADDR="10.0.0.5").get("/metrics").status_code == 404
