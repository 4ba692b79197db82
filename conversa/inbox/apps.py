from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "conversa.inbox"
    label = "inbox"

    def ready(self):
        # Presence listens to the socket layer's signals (realtime never imports the inbox).
        from conversa.inbox import (
            departures,  # noqa: F401 (connects the receivers)
            presence,  # noqa: F401
        )
