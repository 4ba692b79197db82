from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "conversa.providers"
    label = "providers"
