from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "conversa.accounts"
    label = "accounts"

    def ready(self):
        # The deployment checks (conversa/checks.py) are registered on import; accounts is the
        # app every install has, and the checks import nothing of the other apps.
        from conversa import checks  # noqa: F401
