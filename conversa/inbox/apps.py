from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "conversa.inbox"
    label = "inbox"

    def ready(self):
        from conversa.inbox import departures  # noqa: F401 (connects the receivers)
