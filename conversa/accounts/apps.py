from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "conversa.accounts"
    label = "accounts"

    def ready(self) -> None:
        from conversa import web
        from conversa.accounts import mfa, signals  # noqa: F401  (connects the audit receivers)

        # Before any operator page: an owner or admin whose organization requires two-step
        # verification and who has not set it up is sent to do it.
        if mfa.enrollment_redirect not in web.page_guards:
            web.page_guards.append(mfa.enrollment_redirect)
