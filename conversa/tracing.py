"""Tracing with OpenTelemetry, exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Unset (the default), nothing of OpenTelemetry is imported or installed: every function here
returns at its first line. Set, `setup` installs a tracer provider with an OTLP exporter (the
SDK reads OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS and the rest itself) and the Django,
psycopg and httpx instrumentations that are installed; what is missing is spanned by hand
here: a request's span (`request_span`, from `logs.RequestLogMiddleware`) and the provider
call's (`job_span`).

A message's trace: the request that creates an intent stores its trace context on it
(`traceparent`, MessageIntent.trace_parent); the worker's span for the job is a child of that
context, so the provider call lands in the request's trace, with the correlation id as an
attribute of each span.
"""

import contextlib
import logging
import os

log = logging.getLogger(__name__)

# The tracer once tracing is on; None means off, and every helper below costs one check.
tracer = None
# Whether Django's instrumentation is installed: without it our middleware opens the span.
django_instrumented = False


def setup() -> bool:
    """Turn tracing on when OTEL_EXPORTER_OTLP_ENDPOINT is set; whether it is on."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but opentelemetry-sdk and its OTLP exporter "
            "are not installed: tracing is off"
        )
        return False
    service = os.environ.get("OTEL_SERVICE_NAME", "conversa")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    install(provider)
    return True


def install(provider) -> None:
    """Trace through `provider` (a TracerProvider; the tests' has an in-memory exporter)."""
    global tracer, django_instrumented
    from opentelemetry import trace

    trace.set_tracer_provider(provider)
    tracer = provider.get_tracer("conversa")
    django_instrumented = instrument(
        "opentelemetry.instrumentation.django", "DjangoInstrumentor", tracer_provider=provider
    )
    instrument(
        "opentelemetry.instrumentation.psycopg",
        "PsycopgInstrumentor",
        tracer_provider=provider,
    )
    instrument(
        "opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor", tracer_provider=provider
    )


def instrument(module: str, name: str, **options) -> bool:
    """Install one instrumentation if its package is there; whether it is."""
    try:
        instrumentor = getattr(__import__(module, fromlist=[name]), name)
    except ImportError:
        log.warning("%s is not installed: that part is traced by hand or not at all", module)
        return False
    instrumentor().instrument(**options)
    return True


def traceparent() -> str:
    """The current span's context as a W3C traceparent, or "" (tracing off, or no span)."""
    if tracer is None:
        return ""
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent", "")


@contextlib.contextmanager
def request_span(request):
    """A server span for a request that Django's instrumentation does not already trace."""
    if tracer is None or django_instrumented:
        yield
        return
    from opentelemetry.propagate import extract
    from opentelemetry.trace import SpanKind

    with tracer.start_as_current_span(
        request.method,
        context=extract(dict(request.headers.items())),
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": request.method,
            "conversa.request_id": request.request_id,
        },
    ) as span:
        yield
        # Named by the route, not the path: ids in paths would make a name per conversation.
        match = getattr(request, "resolver_match", None)
        if match is not None:
            span.set_attribute("http.route", match.route)
            span.update_name(f"{request.method} {match.route}")


@contextlib.contextmanager
def job_span(job, provider: str):
    """The span of one job's execution (its provider call), a child of the trace context the
    intent stored, with the correlation id as an attribute."""
    if tracer is None:
        yield
        return
    from opentelemetry.propagate import extract
    from opentelemetry.trace import SpanKind

    intent = job.intent
    with tracer.start_as_current_span(
        "job.send",
        context=extract({"traceparent": intent.trace_parent}) if intent.trace_parent else None,
        kind=SpanKind.PRODUCER,
        attributes={
            "conversa.correlation_id": intent.correlation_id,
            "conversa.job_id": job.pk,
            "conversa.intent_id": intent.pk,
            "conversa.organization_id": job.organization_id,
            "conversa.provider": provider,
            "conversa.attempt": job.attempts,
        },
    ):
        yield
