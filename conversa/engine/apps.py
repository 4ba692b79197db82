from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "conversa.engine"
    label = "engine"
