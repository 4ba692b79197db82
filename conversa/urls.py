import ipaddress
import secrets

import prometheus_client
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpResponse
from django.urls import include, path
from django.views.generic import RedirectView
from prometheus_client import CONTENT_TYPE_LATEST

from conversa import health
from conversa.accounts import audit_views, security_views, token_views
from conversa.accounts import team_views as team
from conversa.accounts import views as accounts
from conversa.api import api
from conversa.assistant import autoreply_views as autoreplies
from conversa.assistant import help_views as assistant_help
from conversa.assistant import knowledge_views as knowledge
from conversa.assistant import persona_views as persona_pages
from conversa.assistant import views as assistant
from conversa.campaigns import keyword_views, privacy_views
from conversa.engine import policy_views, retention_views
from conversa.engine import views as engine
from conversa.inbound import views as inbound
from conversa.inbound import webhooks
from conversa.inbox import media_views, presence_views
from conversa.insights import export_views
from conversa.insights import views as insights
from conversa.numbers import views as numbers


def loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def metrics(request):
    """Prometheus metrics of this process (each web or worker process exposes its own).

    With METRICS_TOKEN: for `Authorization: Bearer <METRICS_TOKEN>` only (401 otherwise).
    Without: for clients on the loopback only, a 404 to anyone else (README, Deployment)."""
    if settings.METRICS_TOKEN:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        expected = settings.METRICS_TOKEN.encode()
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            given.strip().encode(), expected
        ):
            response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not loopback(request.META.get("REMOTE_ADDR", "")):
        raise Http404
    return HttpResponse(prometheus_client.generate_latest(), content_type=CONTENT_TYPE_LATEST)


urlpatterns = [
    path("", accounts.home, name="home"),
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("metrics", metrics, name="metrics"),
    path("login/", accounts.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The first run (no organization yet), and sign-up when SIGNUP_ENABLED.
    path("setup/", accounts.setup, name="setup"),
    path("invitations/<str:token>/", accounts.accept_invitation, name="invitation"),
    path("password-reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        accounts.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        accounts.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
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
    path(
        "contacts/<int:contact_id>/privacy/",
        privacy_views.contact_privacy,
        name="contact-privacy",
    ),
    path(
        "contacts/<int:contact_id>/privacy/export",
        privacy_views.contact_export,
        name="contact-export",
    ),
    path(
        "contacts/<int:contact_id>/privacy/erase",
        privacy_views.contact_erase,
        name="contact-erase",
    ),
    path("intents/", engine.intents, name="intents"),
    path("insights/", insights.insights, name="insights"),
    path("insights/messages/", insights.message_list, name="insights-messages"),
    path("exports/", export_views.export_list, name="exports"),
    path("exports/new", export_views.export_request, name="export-request"),
    path("exports/<int:export_id>/file", export_views.export_file, name="export-file"),
    path("intents/<int:intent_id>/", engine.intent_page, name="intent"),
    path(
        "intents/<int:intent_id>/<str:action>",
        engine.intent_action,
        name="intent-action",
    ),
    path("", include("conversa.crm.urls")),
    path("", include("conversa.campaigns.urls")),
    path("settings/", accounts.settings_home, name="settings"),
    path("settings/profile/", team.profile, name="settings-profile"),
    path("settings/members/", team.members_page, name="settings-members"),
    path(
        "settings/members/<int:member_id>/<str:action>",
        team.member_action,
        name="settings-member-action",
    ),
    path(
        "settings/invitations/<int:invitation_id>/<str:action>",
        team.invitation_action,
        name="settings-invitation-action",
    ),
    path(
        "settings/organization/",
        policy_views.organization_settings,
        name="settings-organization",
    ),
    path(
        "settings/organization/kill-switch",
        policy_views.kill_switch,
        name="settings-kill-switch",
    ),
    path(
        "settings/organization/retention",
        retention_views.retention_settings,
        name="settings-retention",
    ),
    path("settings/organization/banner", policy_views.org_banner, name="org-banner"),
    path("numbers/<int:number_id>/settings", policy_views.number_settings, name="number-settings"),
    path(
        "conversations/<int:conversation_id>/hold",
        policy_views.hold_banner,
        name="hold-banner",
    ),
    path("settings/webhooks/", include("conversa.webhooks.urls")),
    path("settings/tokens/", token_views.tokens_page, name="settings-tokens"),
    path("settings/tokens/new", token_views.create_token, name="settings-token-create"),
    path(
        "settings/tokens/<int:token_id>/revoke",
        token_views.revoke_token,
        name="settings-token-revoke",
    ),
    path(
        "settings/notifications/",
        presence_views.notification_settings,
        name="settings-notifications",
    ),
    path("settings/security/", security_views.security, name="settings-security"),
    path("settings/audit/", audit_views.audit_log, name="settings-audit"),
    path("settings/keywords/", keyword_views.keywords_settings, name="settings-keywords"),
    path("settings/assistant/", assistant.model_settings, name="settings-assistant"),
    path(
        "settings/assistant/auto-replies/",
        autoreplies.auto_replies,
        name="settings-auto-replies",
    ),
    path(
        "settings/assistant/auto-replies/<int:rule_id>/delete",
        autoreplies.delete_auto_reply,
        name="settings-auto-reply-delete",
    ),
    path(
        "conversations/<int:conversation_id>/assistant",
        autoreplies.assistant_banner,
        name="assistant-banner",
    ),
    path(
        "conversations/<int:conversation_id>/assistant/<str:action>",
        autoreplies.assistant_action,
        name="assistant-action",
    ),
    path("settings/assistant/test", assistant.test_connection, name="settings-assistant-test"),
    path(
        "settings/assistant/summaries",
        assistant_help.summary_settings,
        name="settings-assistant-summaries",
    ),
    path(
        "settings/assistant/activity",
        assistant_help.activity_page,
        name="settings-assistant-activity",
    ),
    path("assistant/outputs/<int:output_id>/rate", assistant_help.rate, name="assistant-rate"),
    path(
        "inbox/c/<int:conversation_id>/assistant/classify",
        assistant_help.classify,
        name="assistant-classify",
    ),
    path(
        "inbox/c/<int:conversation_id>/assistant/topic",
        assistant_help.accept_topic,
        name="assistant-topic",
    ),
    path(
        "inbox/c/<int:conversation_id>/assistant/m/<int:message_id>/translate",
        assistant_help.translate_message,
        name="assistant-translate-message",
    ),
    path(
        "inbox/c/<int:conversation_id>/assistant/<str:action>",
        assistant_help.assist,
        name="assistant-assist",
    ),
    path("settings/audit/export.csv", audit_views.audit_export, name="settings-audit-export"),
    path("settings/assistant/personas/", persona_pages.persona_list, name="settings-personas"),
    path("settings/assistant/personas/new", persona_pages.new_persona, name="settings-persona-new"),
    path(
        "settings/assistant/personas/<int:persona_id>",
        persona_pages.persona_page,
        name="settings-persona",
    ),
    path(
        "settings/assistant/personas/<int:persona_id>/active",
        persona_pages.set_active,
        name="settings-persona-active",
    ),
    path(
        "settings/assistant/personas/<int:persona_id>/delete",
        persona_pages.delete_persona,
        name="settings-persona-delete",
    ),
    path(
        "settings/assistant/personas/<int:persona_id>/chat",
        persona_pages.test_chat,
        name="settings-persona-chat",
    ),
    path(
        "settings/assistant/answers/<int:output_id>/rating",
        persona_pages.rate_answer,
        name="settings-answer-rating",
    ),
    path("settings/knowledge/", knowledge.knowledge_page, name="settings-knowledge"),
    path("settings/knowledge/try", knowledge.try_question, name="settings-knowledge-try"),
    path("settings/knowledge/new", knowledge.new_source, name="settings-knowledge-new"),
    path(
        "settings/knowledge/<int:source_id>",
        knowledge.source_page,
        name="settings-knowledge-source",
    ),
    path(
        "settings/knowledge/<int:source_id>/enabled",
        knowledge.set_enabled,
        name="settings-knowledge-enabled",
    ),
    path(
        "settings/knowledge/<int:source_id>/delete",
        knowledge.delete_source,
        name="settings-knowledge-delete",
    ),
    path("api/", api.urls),
    path("webhooks/<str:provider>/<str:key>", webhooks.webhook, name="webhook"),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("conversa.sandbox.urls")))

# The error pages (conversa/error_pages.py): translated, with a way back, JSON under /api/.
handler400 = "conversa.error_pages.bad_request"
handler403 = "conversa.error_pages.permission_denied"
handler404 = "conversa.error_pages.page_not_found"
handler500 = "conversa.error_pages.server_error"
