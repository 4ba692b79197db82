from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "conversa.inbox"
    label = "inbox"
