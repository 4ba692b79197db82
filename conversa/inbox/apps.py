from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "conversa.inbox"
    label = "inbox"

    def ready(self):
        # Presence listens to the socket layer's signals (realtime never imports the inbox).
        from conversa.inbox import presence  # noqa: F401
