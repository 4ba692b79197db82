from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "conversa.accounts"
    label = "accounts"

    def ready(self) -> None:
        # The deployment checks (conversa/checks.py) are registered on import; accounts is the
        # app every install has, and the checks import nothing of the other apps.
        from conversa import checks, web  # noqa: F401
        from conversa.accounts import (
            mfa,
            signals,  # noqa: F401 (connects the receivers: the language cookie, the audit)
            tenancy,
        )

        # After every app's migrations (sender=self would run before later apps' tables exist,
        # but post_migrate is sent per app after the whole plan ran, so any sender sees them all).
        post_migrate.connect(tenancy.install_policies, sender=self, dispatch_uid="tenancy")
        # Before any operator page: an owner or admin whose organization requires two-step
        # verification and who has not set it up is sent to do it.
        if mfa.enrollment_redirect not in web.page_guards:
            web.page_guards.append(mfa.enrollment_redirect)
