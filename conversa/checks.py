"""What an insecure deployment is refused for: Django system checks, so every entry point that
runs them refuses to start (`conversa serve`, `conversa worker`, `conversa migrate`, `conversa
sandbox`, `conversa check --deploy`), and the ASGI application runs them too when a server
imports it directly (`refuse_to_start_insecure`).

With DEBUG on, none of these apply: a developer's machine may use the development keys.
"""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

TAG = "conversa_deployment"
# A Fernet key is 32 bytes in url-safe base64 (44 characters); a passphrase shorter than a
# key is too easy to guess.
SHORTEST_KEY = 32


def deployment_errors(*, sandbox_enabled: bool | None = None) -> list[checks.CheckMessage]:
    """The settings a non-DEBUG process refuses to start with, each naming the setting."""
    if settings.DEBUG:
        return []
    errors = []
    if not settings.SECRET_KEY or settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        errors.append(
            checks.Error(
                "SECRET_KEY is not set: the development key is public.",
                hint="Set SECRET_KEY in the environment to a long random value, e.g. the "
                "output of `python -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
                id="conversa.E001",
            )
        )
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        errors.append(
            checks.Error(
                "FIELD_ENCRYPTION_KEYS is not set: provider secrets at rest need their own key.",
                hint="Set FIELD_ENCRYPTION_KEYS to a Fernet key, e.g. the output of `python -c "
                "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
                " (comma-separated: the first encrypts, all decrypt; README, Deployment).",
                id="conversa.E002",
            )
        )
    weak = [
        index
        for index, key in enumerate(keys, 1)
        if len(key) < SHORTEST_KEY
        or key in (settings.DEVELOPMENT_SECRET_KEY, settings.DEVELOPMENT_SANDBOX_API_KEY)
    ]
    if weak:
        errors.append(
            checks.Error(
                f"FIELD_ENCRYPTION_KEYS: key {', '.join(map(str, weak))} is a development key or "
                f"shorter than {SHORTEST_KEY} characters.",
                hint="Use Fernet keys (Fernet.generate_key()), never a key anyone else has.",
                id="conversa.E003",
            )
        )
    enabled = settings.SANDBOX_ENABLED if sandbox_enabled is None else sandbox_enabled
    if enabled and settings.SANDBOX_API_KEY == settings.DEVELOPMENT_SANDBOX_API_KEY:
        errors.append(
            checks.Error(
                "SANDBOX_ENABLED is on with the development SANDBOX_API_KEY: anyone could drive "
                "the simulator's numbers with it.",
                hint="Turn the simulator off (SANDBOX_ENABLED=0, the default) or set "
                "SANDBOX_API_KEY to a long random value.",
                id="conversa.E004",
            )
        )
    return errors


@checks.register(TAG)
def check_deployment(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return deployment_errors()


@checks.register(TAG, deploy=True)
def check_metrics(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if settings.METRICS_TOKEN:
        return []
    return [
        checks.Warning(
            "METRICS_TOKEN is not set: /metrics answers only clients on the loopback, and "
            "behind a proxy on the same machine every visitor may look like one.",
            hint="Set METRICS_TOKEN and give Prometheus `authorization: {credentials: …}`.",
            id="conversa.W001",
        )
    ]


def refuse_to_start_insecure(*, sandbox_enabled: bool | None = None) -> None:
    """Raise ImproperlyConfigured with every reason, for entry points that run no checks."""
    errors = deployment_errors(sandbox_enabled=sandbox_enabled)
    if errors:
        raise ImproperlyConfigured(
            "Conversa refuses to start: " + " ".join(f"{e.id}: {e.msg} {e.hint}" for e in errors)
        )
