"""Logs: one JSON object per line through structlog (plain coloured lines on a terminal).

Every line has `timestamp`, `level`, `logger` and `event`; a request's lines add `request_id`
(the client's `X-Request-ID` when it is a sane token, else a new one, and returned in the
response's header), `organization_id` and `member_id` once known, and a `correlation_id`. A
message carries the correlation id of the request that asked for it on its intent, and the
Gate, the worker's job, the provider call and the provider's status webhooks log that id:
`grep <correlation id>` shows a message's whole life.

Django's and our `logging` calls go through the same formatter, so `log.info(...)` lines come
out as JSON too. Nothing logged at the default level names a message's text, a phone number or
a secret: the log calls are written so, and `redact` masks known sensitive keys and phone-like
numbers in what gets through anyway.
"""

import functools
import logging
import os
import re
import sys
import time
import uuid

import structlog
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from structlog.contextvars import bind_contextvars, clear_contextvars, get_contextvars

from conversa import tracing

# A client's request id is kept only when it is a short token of safe characters: anything else
# (a line break, a quote, a megabyte) would be written into every log line of the request.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")

# A key is masked when it is one of these, or one of its "_" parts is (`phone_number`,
# `webhook_secret`, `x_api_key`).
SENSITIVE_KEYS = {"api_key", "apikey", "content", "template", "variables", "payload", "raw"}
SENSITIVE_PARTS = {
    "authorization",
    "body",
    "caption",
    "cookie",
    "email",
    "password",
    "phone",
    "secret",
    "text",
    "token",
}
# A run of 10 to 15 digits, perhaps after a "+": a phone number in a message string.
PHONE_LIKE = re.compile(r"(?<![\w.-])\+?\d{10,15}(?![\w.-])")
REDACTED = "[redacted]"


def redact(_logger, _method, event_dict: dict) -> dict:
    """The safety net: sensitive keys masked, and phone-like numbers in strings."""
    for key, value in event_dict.items():
        verdict = key_verdict(key)
        if verdict == MASKED:
            event_dict[key] = REDACTED
        elif verdict == SEARCHED and isinstance(value, str):
            event_dict[key] = PHONE_LIKE.sub(REDACTED, value)
    return event_dict


MASKED, SEARCHED, KEPT = "masked", "searched", "kept"


@functools.lru_cache(maxsize=1024)
def key_verdict(key: str) -> str:
    """What `redact` does to a key's value. Remembered: a line's keys are the few its log
    calls name, and working each out again was most of the cost of every request's line."""
    lowered = key.lower()
    if lowered in SENSITIVE_KEYS or SENSITIVE_PARTS & set(lowered.split("_")):
        return MASKED
    return KEPT if lowered.endswith("_id") else SEARCHED


def request_id_from(header: str | None) -> str:
    """The client's request id when it is sane, else a new one."""
    if header and SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def correlation_id() -> str:
    """The correlation id of what is running now (a request's id), or a new one."""
    return get_contextvars().get("correlation_id") or uuid.uuid4().hex


# Before the renderer, for structlog's own loggers and (as `foreign_pre_chain`) for `logging`'s.
SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def json_wanted() -> bool:
    """LOG_FORMAT=json or console; by default JSON unless a person's terminal is attached."""
    chosen = os.environ.get("LOG_FORMAT", "").strip().lower()
    if chosen in {"json", "console"}:
        return chosen == "json"
    return not sys.stderr.isatty()


def formatter(json: bool) -> dict:
    """A `logging` formatter (dictConfig's form) rendering every record through structlog."""
    renderer = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=True)
    )
    return {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": [*SHARED, structlog.stdlib.ExtraAdder()],
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # A traceback as plain text (never its frames' local variables), so that `redact`
            # sees it too: a database error's detail may quote a phone number.
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    }


def logging_config(level: str, json: bool | None = None) -> dict:
    """Settings' LOGGING: one stderr handler whose formatter is structlog's."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structlog": formatter(json_wanted() if json is None else json)},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structlog"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "httpx": {"level": "WARNING"},
            "django.channels.server": {"level": "WARNING"},
            # Our own access line (`request.finished`) says what Django's would.
            "django.server": {"level": "WARNING"},
        },
    }


# What `logging` would look up for every record and no line of ours shows (the calling frame,
# the thread's and process's names): the Python logging HOWTO's "Optimization" switches. The
# caller's frame alone was a seventh of each request's line.
logging._srcfile = None
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False

structlog.configure(
    processors=[
        *SHARED,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)

log = structlog.get_logger(__name__)


class RequestLogMiddleware:
    """Binds the request's id (and correlation id: the same) to every line it logs, answers
    with it in `X-Request-ID`, and logs one `request.finished` line. Outermost, sync and async
    alike (no thread hop under ASGI). The organization and member are bound where they become
    known (`OrganizationMiddleware`, the API's token check)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        started = self.start(request)
        try:
            with tracing.request_span(request):
                response = self.get_response(request)
            self.finish(request, response, started)
        finally:
            clear_contextvars()
        return response

    async def __acall__(self, request):
        started = self.start(request)
        try:
            with tracing.request_span(request):
                response = await self.get_response(request)
            self.finish(request, response, started)
        finally:
            clear_contextvars()
        return response

    def start(self, request) -> float:
        request_id = request_id_from(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        clear_contextvars()
        bind_contextvars(request_id=request_id, correlation_id=request_id)
        return time.perf_counter()

    def finish(self, request, response, started: float) -> None:
        response["X-Request-ID"] = request.request_id
        match = getattr(request, "resolver_match", None)
        log.info(
            "request.finished",
            method=request.method,
            # The path without its query string: a search may hold a phone number.
            path=request.path,
            route=match.view_name if match else "unmatched",
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
