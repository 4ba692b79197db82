"""Conversa settings, read from the environment with safe development defaults.

Embedded topology (default): SQLite in WAL mode, in-memory channel layer, in-process worker.
Scaled topology: DATABASE_URL=postgres://… and REDIS_URL=redis://… for every process.
"""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE
from django.utils.translation import gettext_lazy as _

from conversa.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("CONVERSA_DATA_DIR", Path.cwd() / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
# Refused outside DEBUG (conversa/checks.py): every deployment sets its own SECRET_KEY.
DEVELOPMENT_SECRET_KEY = "conversa-insecure-development-key-set-SECRET_KEY"  # noqa: S105 (public)
SECRET_KEY = os.environ.get("SECRET_KEY", "").strip() or DEVELOPMENT_SECRET_KEY
# Keys that encrypt provider secrets at rest (conversa/crypto.py): the first encrypts, all
# decrypt. Required outside DEBUG; with DEBUG and none set, one is derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list(
    "CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000"
)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    # Content-Security-Policy (its system checks; the middleware is conversa.headers').
    "csp",
    # Serves Swagger UI's files for /api/docs from our own static files (no CDN).
    "ninja",
    "conversa.accounts",
    "conversa.numbers",
    "conversa.providers",
    "conversa.sandbox",
    "conversa.inbox",
    "conversa.engine",
    "conversa.crm",
    "conversa.campaigns",
    "conversa.assistant",
    "conversa.insights",
    "conversa.realtime",
    "conversa.webhooks",
]

MIDDLEWARE = [
    # Outermost of all: every line a request logs, the other middlewares' too, has its id.
    "conversa.logs.RequestLogMiddleware",
    # Outermost: a request's time on /metrics includes every middleware below.
    "conversa.request_metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "conversa.headers.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: the only middlewares without an async side. Anywhere higher, Django's ASGI handler
    # ran them in a thread and the ones below them back on the event loop, a hop per hook.
    "conversa.accounts.middleware.OrganizationMiddleware",
    # The API's RateLimit-* headers, and its tokens' "last used" written after the answer.
    "conversa.accounts.middleware.ApiAfterwordsMiddleware",
    # The API's 405 in its one error shape (django-ninja answers it in plain text).
    "conversa.error_pages.ApiMethodNotAllowedMiddleware",
]

ROOT_URLCONF = "conversa.urls"
ASGI_APPLICATION = "conversa.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # `relative` (times as "just now", "5 minutes ago") on every template, unloaded.
            "builtins": ["conversa.timetext"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "conversa.accounts.context_processors.organization",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'conversa.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web app, the worker and the sandbox read while one of them writes;
    # IMMEDIATE transactions take the write lock up front so two writers queue on the
    # busy timeout instead of failing with "database is locked" on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file beside the database (not in memory) so the live server, the worker threads and
    # subprocesses of the tests see the same data.
    _db_path = Path(DATABASES["default"]["NAME"])
    DATABASES["default"]["TEST"] = {"NAME": str(_db_path.with_name(f"test_{_db_path.name}"))}
    # The covering indexes' extra columns (INCLUDE) are for PostgreSQL's index-only reads of
    # the Insights counts; SQLite keeps the index without them, as intended, and each start
    # and migration warned of it six times.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
else:
    # A pool of connections per process: opening a PostgreSQL connection costs more than
    # the queries of a whole webhook (Django's psycopg pool; it needs CONN_MAX_AGE 0).
    # Our queries are short and many run at once: a parallel plan's workers take longer to
    # start than the query takes, and take the cores the other requests need; a JIT-compiled
    # plan spends tens of milliseconds compiling for a query that runs in a few.
    DATABASES["default"]["OPTIONS"] = {
        "pool": {"min_size": 1, "max_size": int(os.environ.get("DATABASE_POOL_SIZE", "16"))},
        "options": "-c max_parallel_workers_per_gather=0 -c jit=off",
        # Only bulk.prepared_cursor's statements can be prepared (Django's cursors bind on
        # the client): from their second run on a connection.
        "prepare_threshold": 1,
    }
    # The ingest bench's run without the Insights upkeep (insights/triggers.py), to measure
    # what it costs; nothing else turns it off.
    if os.environ.get("INSIGHTS_UPKEEP") == "off":
        DATABASES["default"]["OPTIONS"]["options"] += " -c conversa.insights_upkeep=off"
if os.environ.get("TEST_DATABASE_NAME"):
    DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ["TEST_DATABASE_NAME"]

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # A consumer's read blocks in Redis for up to 5 s (channels_redis' brpop_timeout);
                # redis-py 8 times socket reads out at 5 s by default, which killed every socket
                # after a quiet spell. 10 s: longer than that read, and still a bound on how long
                # a cancelled read may hold a process open at shutdown.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 10}],
                "prefix": os.environ.get("CHANNELS_PREFIX", "conversa"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Abuse limits (conversa/ratelimits.py), in `limits`' notation: "N/period" windows separated by
# ";". Counted in Redis when REDIS_URL is set (every process shares the budget), else in memory.
RATELIMIT_ENABLED = os.environ.get("RATELIMIT_ENABLED", "1") != "0"
RATELIMIT_STORAGE_URL = os.environ.get("RATELIMIT_STORAGE_URL", REDIS_URL or "memory://")
# Failed sign-ins per account (email) and per client address: past either, every attempt (the
# right password too) is refused until the window ends. 5 a minute, then 20 an hour: the wait
# grows from a minute to the rest of the hour.
LOGIN_RATE_LIMIT_ACCOUNT = os.environ.get("LOGIN_RATE_LIMIT_ACCOUNT", "5/minute;20/hour")
LOGIN_RATE_LIMIT_ADDRESS = os.environ.get("LOGIN_RATE_LIMIT_ADDRESS", "20/minute;100/hour")
# API requests per token (or signed-in member) and per organization.
API_RATE_LIMIT_TOKEN = os.environ.get("API_RATE_LIMIT_TOKEN", "600/minute")
API_RATE_LIMIT_ORGANIZATION = os.environ.get("API_RATE_LIMIT_ORGANIZATION", "3000/minute")
# Webhook POSTs per number, counted before the signature check; and the POSTs per number that
# fail it, past which the rest of the window is refused before reading the body.
WEBHOOK_RATE_LIMIT_NUMBER = os.environ.get("WEBHOOK_RATE_LIMIT_NUMBER", "6000/minute")
WEBHOOK_REJECTED_LIMIT_NUMBER = os.environ.get("WEBHOOK_REJECTED_LIMIT_NUMBER", "60/minute")
# Messages and statuses in one webhook POST: Meta batches at most 1,000 updates per webhook.
WEBHOOK_MAX_ITEMS = int(os.environ.get("WEBHOOK_MAX_ITEMS", "1000"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
# Anyone may create a further organization on this install ("Create an organization" on the
# sign-in page). Off: only the first organization is created from the web (the first run);
# `conversa createorganization` always works.
SIGNUP_ENABLED = env_bool("SIGNUP_ENABLED")
# Invitations and password resets: SMTP when EMAIL_HOST is set, else printed to the console
# (development). The password comes from the environment and is never shown back.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587" if env_bool("EMAIL_USE_TLS") else "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_TIMEOUT = 15
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Conversa <conversa@localhost>")
# A password reset link works this long (Django's default is three days).
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
LOGIN_REDIRECT_URL = "inbox"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("pt-br", _("Portuguese (Brazil)"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = None
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
# Media files (uploads to send, and fetched inbound media) through Django's storage API: local
# files here, never served publicly (no MEDIA_URL route).
MEDIA_ROOT = os.environ.get("CONVERSA_MEDIA_ROOT", str(DATA_DIR / "media"))
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind a proxy that terminates TLS: send plain-HTTP visitors to HTTPS (health checks and
# providers' webhooks should use the https URL too).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT")
X_FRAME_OPTIONS = "DENY"
# The reverse proxies in front of Conversa (addresses or networks, comma-separated): only a
# request from one of them has its X-Forwarded-For read for the client's address (the audit
# log's "from where"). Empty (the default): the connecting address is the client.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
SECURE_CONTENT_TYPE_NOSNIFF = True
# Other sites learn nothing of our URLs (conversation and lead ids) from a clicked link.
SECURE_REFERRER_POLICY = "same-origin"
# HTTPS deployments (SECURE_COOKIES=1) tell browsers to use nothing else for a year. Django
# sends the header on HTTPS requests only: behind a proxy that terminates TLS, set
# SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto (the proxy must set it, and strip it from clients).
SECURE_HSTS_SECONDS = 31_536_000 if SESSION_COOKIE_SECURE else 0
# Opt-in: every subdomain must serve HTTPS too before these are turned on.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    _proxy_header = os.environ["SECURE_PROXY_SSL_HEADER"].strip().upper().replace("-", "_")
    SECURE_PROXY_SSL_HEADER = (f"HTTP_{_proxy_header.removeprefix('HTTP_')}", "https")

# Where providers deliver webhooks to this Conversa (what the sandbox and Evolution call back).
PUBLIC_URL = os.environ.get("CONVERSA_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# The sandbox speaks the Evolution API v2 protocol under this base URL.
SANDBOX_URL = os.environ.get("SANDBOX_URL", f"{PUBLIC_URL}/sandbox/evolution").rstrip("/")
# The global API key of the sandbox (Evolution's AUTHENTICATION_API_KEY): the install's own,
# never an organization's (each gets a key derived from it, conversa/sandbox/tenants.py). The
# development default is refused outside DEBUG while the sandbox is on (conversa/checks.py).
DEVELOPMENT_SANDBOX_API_KEY = "conversa-sandbox-development-key"
SANDBOX_API_KEY = os.environ.get("SANDBOX_API_KEY", "").strip() or DEVELOPMENT_SANDBOX_API_KEY
# Seconds the sandbox waits before it reports an outbound message as delivered.
SANDBOX_DELIVERY_DELAY = float(os.environ.get("SANDBOX_DELIVERY_DELAY", "0.5"))

# Worker timing (seconds): how long a claim is leased, and the fallback poll when no wake-up comes.
WORKER_LEASE_SECONDS = int(os.environ.get("WORKER_LEASE_SECONDS", "60"))
WORKER_POLL_SECONDS = float(os.environ.get("WORKER_POLL_SECONDS", "1.0"))
WAKE_SNOOZED_SECONDS = float(os.environ.get("WAKE_SNOOZED_SECONDS", "5"))
# How often a worker records its heartbeat, and what /ready (conversa/health.py) accepts: a
# worker seen within READY_WORKER_MAX_AGE_SECONDS (a pass can hold a few provider timeouts),
# and no runnable job waiting longer than READY_QUEUE_LAG_SECONDS.
WORKER_HEARTBEAT_SECONDS = float(os.environ.get("WORKER_HEARTBEAT_SECONDS", "5"))
READY_WORKER_MAX_AGE_SECONDS = float(os.environ.get("READY_WORKER_MAX_AGE_SECONDS", "120"))
READY_QUEUE_LAG_SECONDS = float(os.environ.get("READY_QUEUE_LAG_SECONDS", "300"))
# Presence (conversa/inbox/presence.py), in seconds: an operator whose tabs have all had no
# input for PRESENCE_IDLE_SECONDS turns away; one whose last tab closed turns offline after the
# grace (a reload is not leaving). A web process renews its sockets every heartbeat; a socket
# not renewed for the expiry belonged to a process that died, and the worker's sweep (every
# PRESENCE_SWEEP_SECONDS) removes it. Settings for the whole install, not per organization.
PRESENCE_IDLE_SECONDS = int(os.environ.get("PRESENCE_IDLE_SECONDS", str(10 * 60)))
PRESENCE_GRACE_SECONDS = float(os.environ.get("PRESENCE_GRACE_SECONDS", "60"))
PRESENCE_HEARTBEAT_SECONDS = float(os.environ.get("PRESENCE_HEARTBEAT_SECONDS", "30"))
PRESENCE_SOCKET_EXPIRY_SECONDS = float(os.environ.get("PRESENCE_SOCKET_EXPIRY_SECONDS", "95"))
PRESENCE_SWEEP_SECONDS = float(os.environ.get("PRESENCE_SWEEP_SECONDS", "10"))
# How often a worker applies the organizations' retention periods (engine/retention.py).
RETENTION_INTERVAL_SECONDS = float(os.environ.get("RETENTION_INTERVAL_SECONDS", "3600"))
# How often a worker lets sending campaigns add the people who joined their audience, and
# finishes those with nothing left to send (campaigns/sending.py).
CAMPAIGN_PASS_SECONDS = float(os.environ.get("CAMPAIGN_PASS_SECONDS", "10"))
# Exports (insights/exports.py): a finished file is kept EXPORT_KEEP_HOURS, then deleted by a
# worker's sweep (every EXPORT_SWEEP_SECONDS); its link then answers 410.
EXPORT_KEEP_HOURS = float(os.environ.get("EXPORT_KEEP_HOURS", "24"))
EXPORT_SWEEP_SECONDS = float(os.environ.get("EXPORT_SWEEP_SECONDS", "60"))
# How often a worker folds the Insights deltas into hourly rows (insights/aggregates.py).
INSIGHTS_FOLD_SECONDS = float(os.environ.get("INSIGHTS_FOLD_SECONDS", "5"))
PROVIDER_TIMEOUT_SECONDS = float(os.environ.get("PROVIDER_TIMEOUT_SECONDS", "10"))
# Set by `conversa serve` (without --no-worker) so the ASGI lifespan starts the in-process worker.
INPROCESS_WORKER = env_bool("CONVERSA_INPROCESS_WORKER")

NINJA_PAGINATION_PER_PAGE = 50

# /metrics (Prometheus): with a token, only `Authorization: Bearer <token>` reads it; without
# one, only clients on the loopback (a Prometheus on the same machine) do, everyone else gets 404.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()

# JSON lines (conversa/logs.py); LOG_FORMAT=console for coloured lines, which is the default
# when a terminal is attached.
LOGGING = logging_config(os.environ.get("LOG_LEVEL", "INFO"))

# An Evolution API v2 server this Conversa talks to (issue: providers and numbers).
EVOLUTION_URL = os.environ.get("EVOLUTION_URL", "http://127.0.0.1:8080")
# The Graph API; the version is added to it (a URL ending in its own /vNN.N is used as it is).
# The sandbox plays it at <SANDBOX_BASE>/sandbox/graph, any version.
CLOUD_API_URL = os.environ.get("CLOUD_API_URL", "https://graph.facebook.com").rstrip("/")
# The Graph API version Cloud API calls use; Meta supports v25.0 until 2027.
GRAPH_API_VERSION = os.environ.get("CONVERSA_GRAPH_API_VERSION", "v25.0").strip("/")
# A number whose sends got no webhook back (not even a status) for this long is shown as not
# receiving its webhooks.
WEBHOOK_SILENCE_MINUTES = float(os.environ.get("WEBHOOK_SILENCE_MINUTES", "10"))
EVOLUTION_API_KEY = os.environ.get("EVOLUTION_API_KEY", "")
# Outbound calls (conversa/providers/outbound.py): provider URLs must resolve to public
# addresses, except the hosts of the URLs configured here by the operator (SANDBOX_URL while
# the simulator is on, CLOUD_API_URL, EVOLUTION_URL when set, and PROVIDER_TRUSTED_URLS).
PROVIDER_TRUSTED_URLS = env_list("PROVIDER_TRUSTED_URLS", "")
if "EVOLUTION_URL" in os.environ:
    PROVIDER_TRUSTED_URLS.append(EVOLUTION_URL)
if os.environ.get("ASSISTANT_BASE_URL", "").strip():
    # The assistant's model server the operator chose (a vLLM or Ollama on the same network).
    PROVIDER_TRUSTED_URLS.append(os.environ["ASSISTANT_BASE_URL"].strip())
# Any private address (an Evolution server on the office network, say): development only.
ALLOW_PRIVATE_PROVIDER_URLS = env_bool("ALLOW_PRIVATE_PROVIDER_URLS", DEBUG)
# Serve the simulator under /sandbox/ in this process: off unless turned on (`make run` turns
# it on for the demo). Its pages are for signed-in members, each seeing its organization's
# numbers only: SANDBOX_TENANTS names the function that says which (conversa/sandbox/tenants.py).
SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", False)
SANDBOX_TENANTS = "conversa.numbers.sandbox_tenants.visible_tenants"
# How long an injected "timeout" or "accept then hang" holds the sandbox's answer.
SANDBOX_HANG_SECONDS = float(os.environ.get("SANDBOX_HANG_SECONDS", "30"))
# Retry backoff: RETRY_BASE_SECONDS × 2^attempt with ±20% jitter, capped at 15 minutes.
RETRY_BASE_SECONDS = float(os.environ.get("RETRY_BASE_SECONDS", "1"))
# How long an UNCERTAIN send waits for the provider's echo before the provider is asked.
ECHO_GRACE_SECONDS = float(os.environ.get("ECHO_GRACE_SECONDS", "5"))
# The per-number circuit breaker holds sends off this long after repeated failures.
BREAKER_HOLD_SECONDS = float(os.environ.get("BREAKER_HOLD_SECONDS", "30"))
# After WhatsApp refuses a number (Evolution's `refused`), the Gate holds its sends this long.
REFUSED_COOLDOWN_SECONDS = float(os.environ.get("REFUSED_COOLDOWN_SECONDS", "1800"))
# The assistant's model (conversa/assistant/llm.py): any server speaking OpenAI's Chat
# Completions API (OpenAI, Azure OpenAI, OpenRouter, Groq, vLLM, llama.cpp's server, Ollama).
# These are every organization's defaults; an owner or admin may set the organization's own on
# Settings → Assistant. The key set here goes only to the base URL set here, never to an
# address an organization typed. With no base URL and the sandbox on, the simulator plays the
# model (/sandbox/v1, beside SANDBOX_URL).
ASSISTANT_BASE_URL = os.environ.get("ASSISTANT_BASE_URL", "").strip().rstrip("/")
ASSISTANT_API_KEY = os.environ.get("ASSISTANT_API_KEY", "").strip()
ASSISTANT_MODEL = os.environ.get("ASSISTANT_MODEL", "").strip()
# Tokens (prompt and answer) an organization may spend a day, its local day; then the
# assistant stops until midnight and says so.
ASSISTANT_DAILY_TOKEN_BUDGET = int(os.environ.get("ASSISTANT_DAILY_TOKEN_BUDGET", "200000"))
# Seconds to wait for the model's next bytes (a streamed answer: between two pieces).
ASSISTANT_TIMEOUT_SECONDS = float(os.environ.get("ASSISTANT_TIMEOUT_SECONDS", "30"))
# Extra attempts after a transient failure (429, 5xx, no connection, a timeout), waiting
# ASSISTANT_RETRY_BASE_SECONDS × 2^attempt, or the server's Retry-After when it says one, never
# more than ASSISTANT_RETRY_MAX_WAIT_SECONDS (a longer Retry-After fails the call at once).
ASSISTANT_RETRIES = int(os.environ.get("ASSISTANT_RETRIES", "2"))
ASSISTANT_RETRY_BASE_SECONDS = float(os.environ.get("ASSISTANT_RETRY_BASE_SECONDS", "0.5"))
ASSISTANT_RETRY_MAX_WAIT_SECONDS = float(os.environ.get("ASSISTANT_RETRY_MAX_WAIT_SECONDS", "10"))
# The per-organization circuit breaker: after this many failed calls in a row the model is not
# called for the hold; then one call tries it again (half-open).
ASSISTANT_BREAKER_FAILURES = int(os.environ.get("ASSISTANT_BREAKER_FAILURES", "5"))
ASSISTANT_BREAKER_HOLD_SECONDS = float(os.environ.get("ASSISTANT_BREAKER_HOLD_SECONDS", "60"))
# What the models cost, for the AI log's estimate: US dollars per million tokens, prompt and
# answer, per model: "gpt-4o-mini=0.15:0.60 openai/gpt-4o=2.5:10" (entries apart by spaces or
# ";"; each price 0 to 1000). A model with no price here has no estimate; the simulator's is free.
ASSISTANT_PRICES = os.environ.get("ASSISTANT_PRICES", "")
# Customers' answers the worker asks the model for in one pass (each waits for the model).
ASSISTANT_ANSWERS_PER_PASS = int(os.environ.get("ASSISTANT_ANSWERS_PER_PASS", "4"))
# Benchmarks: call the sandbox in-process instead of over HTTP (it accepts instantly).
SANDBOX_IN_PROCESS = env_bool("SANDBOX_IN_PROCESS")

# Media (customers' photos, voice notes, documents) is kept through Django's storage API and is
# never served publicly: there is no MEDIA_URL route, only the authorized `/media/<id>` view
# (conversa/inbox/media_views.py), which hands S3 files out as short-lived signed URLs.
MEDIA_ROOT = Path(os.environ.get("CONVERSA_MEDIA_ROOT", DATA_DIR / "media"))
S3_BUCKET = os.environ.get("CONVERSA_S3_BUCKET", "")
# How long a signed S3 link given to a member stays valid (seconds).
MEDIA_SIGNED_URL_SECONDS = int(os.environ.get("CONVERSA_MEDIA_SIGNED_URL_SECONDS", "300"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if S3_BUCKET:
    # Any S3-compatible service (AWS, MinIO, R2, Backblaze…): private objects, every link signed.
    # The credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment.
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": os.environ.get("CONVERSA_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("CONVERSA_S3_REGION") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": MEDIA_SIGNED_URL_SECONDS,
            "file_overwrite": False,
        },
    }
# Content-Security-Policy (django-csp; conversa/headers.py adds the WebSocket's address).
# Scripts: this site's files only (inline ones only with the request's nonce, none today), no
# eval. Styles: this site's files; style *attributes* stay allowed (style-src-attr) because
# stage colours, any hex the API accepts, are set as CSS custom properties in markup (their
# values are validated colours). Images: QR codes and previews are data:/blob: URLs; media
# stored on S3 is handed out as signed links to the bucket's host.
_S3_ORIGIN = ""
if S3_BUCKET:
    _endpoint = os.environ.get("CONVERSA_S3_ENDPOINT_URL", "")
    _S3_ORIGIN = "/".join(_endpoint.split("/")[:3]) if _endpoint else "https://*.amazonaws.com"
_MEDIA_SOURCES = ["'self'", "data:", "blob:", *([_S3_ORIGIN] if _S3_ORIGIN else [])]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", NONCE],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": _MEDIA_SOURCES,
        "media-src": _MEDIA_SOURCES,
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Inbound media: how many attempts to fetch a file before it shows "Download failed", and the
# first wait between them (doubling: 1, 2, 4, 8 minutes… about half an hour in all).
MEDIA_FETCH_ATTEMPTS = int(os.environ.get("CONVERSA_MEDIA_FETCH_ATTEMPTS", "5"))
MEDIA_RETRY_BASE_SECONDS = float(os.environ.get("CONVERSA_MEDIA_RETRY_BASE_SECONDS", "120"))
# How long a worker holds an attachment it is fetching before another may take it over.
MEDIA_FETCH_LEASE_SECONDS = int(os.environ.get("CONVERSA_MEDIA_FETCH_LEASE_SECONDS", "300"))
# How many files a worker pass fetches (between its batches of sends).
MEDIA_FETCH_BATCH = int(os.environ.get("CONVERSA_MEDIA_FETCH_BATCH", "4"))

# Outbound webhooks (conversa.webhooks): each attempt waits this long for an answer, reads at
# most WEBHOOK_RESPONSE_LIMIT bytes of it, and a pass of the worker sends up to
# WEBHOOK_BATCH deliveries, WEBHOOK_CONCURRENCY at once.
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "5"))
WEBHOOK_RESPONSE_LIMIT = 64 * 1024
WEBHOOK_BATCH = int(os.environ.get("WEBHOOK_BATCH", "50"))
WEBHOOK_CONCURRENCY = int(os.environ.get("WEBHOOK_CONCURRENCY", "4"))
# A claim is a lease: a worker that dies mid-send leaves its deliveries to the others after it.
WEBHOOK_LEASE_SECONDS = float(
    os.environ.get("WEBHOOK_LEASE_SECONDS", str(WEBHOOK_TIMEOUT_SECONDS * 3 + 30))
)
# The wait after a first failed attempt: then four times longer each time, at most a day.
WEBHOOK_FIRST_RETRY_SECONDS = float(os.environ.get("WEBHOOK_FIRST_RETRY_SECONDS", "5"))
