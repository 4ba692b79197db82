"""Tracing: off and free unless configured; configured, one reply is one trace from the
operator's request to the provider call, the worker's job span a child of the request's."""

import pytest

from conversa import tracing
from conversa.engine.models import MessageIntent
from conversa.engine.worker import Worker
from tests.conftest import make_org


def test_tracing_is_off_and_imports_nothing_without_an_endpoint(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert tracing.setup() is False
    assert tracing.tracer is None
    assert tracing.traceparent() == ""


@pytest.fixture
def spans(monkeypatch):
    sdk = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "tracer", provider.get_tracer("conversa-tests"))
    # The test client's requests never reach a middleware Django's instrumentation would add
    # after startup: our own request span stands in for it.
    monkeypatch.setattr(tracing, "django_instrumented", False)
    yield exporter
    provider.shutdown()


def test_one_reply_is_one_trace_from_the_request_to_the_provider_call(delivered_webhooks, spans):
    org = make_org(webhook_base=delivered_webhooks)
    conversation = org.conversation()
    answer = org.client().post(
        f"/api/conversations/{conversation.pk}/reply",
        {"body": "Pode deixar"},
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    intent = MessageIntent.objects.get(pk=answer.json()["id"])
    assert intent.trace_parent
    assert Worker().run_once() == 1

    finished = spans.get_finished_spans()
    request = next(s for s in finished if s.name.startswith("POST ") and "reply" in s.name)
    job = next(s for s in finished if s.name == "job.send")
    assert job.context.trace_id == request.context.trace_id
    assert job.parent.span_id == request.context.span_id
    assert job.attributes["conversa.correlation_id"] == intent.correlation_id
    # With httpx's instrumentation installed, the provider's HTTP call is in the same trace.
    calls = [s for s in finished if s.parent and s.parent.span_id == job.context.span_id]
    assert all(s.context.trace_id == request.context.trace_id for s in calls)
