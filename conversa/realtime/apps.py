from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "conversa.realtime"
    label = "realtime"
