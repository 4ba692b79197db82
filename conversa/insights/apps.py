from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "conversa.insights"
    label = "insights"
