import prometheus_client
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponse, JsonResponse
from django.urls import include, path
from django.views.generic import RedirectView
from prometheus_client import CONTENT_TYPE_LATEST

from conversa.accounts import audit_views, security_views
from conversa.accounts import views as accounts
from conversa.api import api
from conversa.engine import views as engine
from conversa.inbound import views as inbound
from conversa.inbound import webhooks
from conversa.inbox import media_views
from conversa.numbers import views as numbers


def health(request):
    return JsonResponse({"ok": True})


def metrics(request):
    """Prometheus metrics of this process (each web or worker process exposes its own)."""
    return HttpResponse(prometheus_client.generate_latest(), content_type=CONTENT_TYPE_LATEST)


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="inbox", permanent=False)),
    path("health", health),
    path("metrics", metrics),
    path("login/", accounts.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login/verify", security_views.login_verify, name="login-verify"),
    path("login/reverify", security_views.reverify, name="mfa-reverify"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("inbox/", include("conversa.inbox.urls")),
    # Customers' files: members of their organization only (never a public media URL).
    path("media/<int:attachment_id>", media_views.media_file, name="media-file"),
    path("media/<int:attachment_id>/card", media_views.media_card, name="media-card"),
    path("media/<int:attachment_id>/retry", media_views.retry_download, name="media-retry"),
    path("numbers/", numbers.numbers, name="numbers"),
    # The page was /instances/ before the model was renamed: old bookmarks still land.
    path("instances/", RedirectView.as_view(pattern_name="numbers", permanent=True)),
    path("numbers/add", numbers.add_number, name="number-add"),
    path("numbers/unread-events", inbound.unparsed_events, name="unparsed-events"),
    path("numbers/<int:number_id>/pairing", numbers.connect_page, name="number-connect"),
    path("numbers/<int:number_id>/ready", numbers.done_page, name="number-done"),
    path(
        "numbers/<int:number_id>/actions/<str:action>",
        numbers.number_action,
        name="number-action",
    ),
    path("intents/", engine.intents, name="intents"),
    path("intents/<int:intent_id>/", engine.intent_page, name="intent"),
    path(
        "intents/<int:intent_id>/<str:action>",
        engine.intent_action,
        name="intent-action",
    ),
    path("", include("conversa.crm.urls")),
    path("campaigns/", accounts.upcoming, {"section": "campaigns"}, name="campaigns"),
    path("insights/", accounts.upcoming, {"section": "insights"}, name="insights"),
    path("settings/", accounts.settings_home, name="settings"),
    path("settings/security/", security_views.security, name="settings-security"),
    path("settings/audit/", audit_views.audit_log, name="settings-audit"),
    path("settings/audit/export.csv", audit_views.audit_export, name="settings-audit-export"),
    path("api/", api.urls),
    path("webhooks/<str:provider>/<str:key>", webhooks.webhook, name="webhook"),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("conversa.sandbox.urls")))
