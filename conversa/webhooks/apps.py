from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "conversa.webhooks"
    label = "webhooks"

    def ready(self):
        # Outbound webhooks hear every typed event inside the transaction that made it (the
        # realtime layer is below every app and cannot import this one).
        from conversa.realtime import publisher
        from conversa.webhooks import outbox

        if outbox.on_event not in publisher.subscribers:
            publisher.subscribers.append(outbox.on_event)
