from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "conversa.engine"
    label = "engine"

    def ready(self):
        # Here, before any request handler loads its middleware: Django's instrumentation adds
        # one. Off (and nothing imported) unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
        from conversa import tracing

        tracing.setup()
