from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "conversa.crm"
    label = "crm"
