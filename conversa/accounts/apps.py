from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "conversa.accounts"
    label = "accounts"
