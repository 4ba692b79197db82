from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "conversa.accounts"
    label = "accounts"

    def ready(self):
        from conversa.accounts import signals  # noqa: F401 (connects the receivers)
