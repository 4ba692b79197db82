from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "conversa.campaigns"
    label = "campaigns"
