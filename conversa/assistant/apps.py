from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "conversa.assistant"
    label = "assistant"
