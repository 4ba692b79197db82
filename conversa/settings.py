"""Conversa settings, read from the environment with safe development defaults.

Embedded topology (default): SQLite in WAL mode, in-memory channel layer, in-process worker.
Scaled topology: DATABASE_URL=postgres://… and REDIS_URL=redis://… for every process.
"""

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("CONVERSA_DATA_DIR", Path.cwd() / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
# Development default only: any real deployment sets SECRET_KEY in its environment.
SECRET_KEY = os.environ.get("SECRET_KEY", "conversa-insecure-development-key-set-SECRET_KEY")
# Keys that encrypt provider secrets at rest (conversa/crypto.py): the first encrypts, all
# decrypt. Without them a key is derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", "") or [SECRET_KEY]
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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: the only middleware without an async side. Anywhere higher, Django's ASGI handler
    # ran it in a thread and the ones below it back on the event loop, a hop per hook.
    "conversa.accounts.middleware.OrganizationMiddleware",
]

ROOT_URLCONF = "conversa.urls"
ASGI_APPLICATION = "conversa.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
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
else:
    # A pool of connections per process: opening a PostgreSQL connection costs more than
    # the queries of a whole webhook (Django's psycopg pool; it needs CONN_MAX_AGE 0).
    # Our queries are short and many run at once: a parallel plan's workers take longer to
    # start than the query takes, and take the cores the other requests need; a JIT-compiled
    # plan spends tens of milliseconds compiling for a query that runs in a few.
    DATABASES["default"]["OPTIONS"] = {
        "pool": {"min_size": 1, "max_size": int(os.environ.get("DATABASE_POOL_SIZE", "16"))},
        "options": "-c max_parallel_workers_per_gather=0 -c jit=off",
    }
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
X_FRAME_OPTIONS = "DENY"
# The reverse proxies in front of Conversa (addresses or networks, comma-separated): only a
# request from one of them has its X-Forwarded-For read for the client's address (the audit
# log's "from where"). Empty (the default): the connecting address is the client.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
SECURE_CONTENT_TYPE_NOSNIFF = True

# Where providers deliver webhooks to this Conversa (what the sandbox and Evolution call back).
PUBLIC_URL = os.environ.get("CONVERSA_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# The sandbox speaks the Evolution API v2 protocol under this base URL.
SANDBOX_URL = os.environ.get("SANDBOX_URL", f"{PUBLIC_URL}/sandbox/evolution").rstrip("/")
# The global API key of the sandbox (Evolution's AUTHENTICATION_API_KEY).
SANDBOX_API_KEY = os.environ.get("SANDBOX_API_KEY", "conversa-sandbox-development-key")
# Seconds the sandbox waits before it reports an outbound message as delivered.
SANDBOX_DELIVERY_DELAY = float(os.environ.get("SANDBOX_DELIVERY_DELAY", "0.5"))

# Worker timing (seconds): how long a claim is leased, and the fallback poll when no wake-up comes.
WORKER_LEASE_SECONDS = int(os.environ.get("WORKER_LEASE_SECONDS", "60"))
WORKER_POLL_SECONDS = float(os.environ.get("WORKER_POLL_SECONDS", "1.0"))
WAKE_SNOOZED_SECONDS = float(os.environ.get("WAKE_SNOOZED_SECONDS", "5"))
PROVIDER_TIMEOUT_SECONDS = float(os.environ.get("PROVIDER_TIMEOUT_SECONDS", "10"))
# Set by `conversa serve` (without --no-worker) so the ASGI lifespan starts the in-process worker.
INPROCESS_WORKER = env_bool("CONVERSA_INPROCESS_WORKER")

NINJA_PAGINATION_PER_PAGE = 50

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}

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
# Serve the simulator under /sandbox/ in this process (the embedded default).
SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", True)
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
# Inbound media: how many attempts to fetch a file before it shows "Download failed", and the
# first wait between them (doubling: 1, 2, 4, 8 minutes… about half an hour in all).
MEDIA_FETCH_ATTEMPTS = int(os.environ.get("CONVERSA_MEDIA_FETCH_ATTEMPTS", "5"))
MEDIA_RETRY_BASE_SECONDS = float(os.environ.get("CONVERSA_MEDIA_RETRY_BASE_SECONDS", "120"))
# How long a worker holds an attachment it is fetching before another may take it over.
MEDIA_FETCH_LEASE_SECONDS = int(os.environ.get("CONVERSA_MEDIA_FETCH_LEASE_SECONDS", "300"))
# How many files a worker pass fetches (between its batches of sends).
MEDIA_FETCH_BATCH = int(os.environ.get("CONVERSA_MEDIA_FETCH_BATCH", "4"))
