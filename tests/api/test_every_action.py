"""An API for every action: whatever a person can do on a page, a program can do through the
API (issue 21, item 7).

The actions are the page routes that accept a POST, read from the URL resolver: a view whose
allowed methods (`require_POST`, `require_http_methods`, a class-based view's handlers) include
POST, or an unrestricted view that reads `request.POST` or tests `request.method` (itself or
through a helper of its own module it hands the request to). A route that takes an
`<str:action>` is one action per action its view knows (the strings it compares `action` with,
or its module's `ACTIONS`).

Each action is mapped below to the API operation that does the same thing ("METHOD /api/path"
as the OpenAPI names it). An action missing from the table is a gap, and the test names it.
"""

import inspect
import re
import textwrap

from django.urls import URLPattern, URLResolver, get_resolver

from conversa.api import api

# Page action -> the API operation that does it. A route that takes an action: "name:action".
ACTIONS_TO_OPERATIONS: dict[str, str] = {
    # The inbox
    "availability": "POST /api/operators/me/availability",
    "reply": "POST /api/conversations/{conversation_id}/reply",
    "compose": "POST /api/intents/media",  # with files; without, it is `reply`
    "react": "POST /api/conversations/{conversation_id}/messages/{message_id}/reaction",
    "send-template": "POST /api/intents",  # a template, from the conversation's number
    "conversation-tags": "POST /api/conversations/{conversation_id}/tags",
    "retry": "POST /api/conversations/{conversation_id}/messages/{message_id}/retry",
    "conversation-action:claim": "POST /api/conversations/{conversation_id}/claim",
    "conversation-action:release": "POST /api/conversations/{conversation_id}/release",
    "conversation-action:assign": "POST /api/conversations/{conversation_id}/assign",
    "conversation-action:transfer": "POST /api/conversations/{conversation_id}/transfer",
    "conversation-action:resolve": "POST /api/conversations/{conversation_id}/resolve",
    "conversation-action:reopen": "POST /api/conversations/{conversation_id}/reopen",
    "conversation-action:pending": "POST /api/conversations/{conversation_id}/pending",
    "conversation-action:snooze": "POST /api/conversations/{conversation_id}/snooze",
    "conversation-action:priority": "POST /api/conversations/{conversation_id}/priority",
    "media-retry": "POST /api/attachments/{attachment_id}/retry",
    # The team's settings
    "manage-queue-new": "POST /api/queues",
    "manage-queue-edit": "PUT /api/queues/{queue_id}",
    "manage-queue-delete": "DELETE /api/queues/{queue_id}",
    "manage-tags": "POST /api/tags",
    "manage-tag-delete": "DELETE /api/tags/{tag_id}",
    "manage-hours": "PUT /api/business-hours",
    "manage-survey": "PUT /api/survey",
    "manage-read-receipts": "PUT /api/read-receipts",
    "manage-canned-new": "POST /api/canned-replies",
    "manage-canned-edit": "PUT /api/canned-replies/{reply_id}",
    "manage-canned-delete": "DELETE /api/canned-replies/{reply_id}",
    # Numbers
    "number-add": "POST /api/numbers",
    "number-done": "POST /api/intents",  # the last step's test message
    "number-action:connect": "POST /api/numbers/{number_id}/{action}",
    "number-action:logout": "POST /api/numbers/{number_id}/{action}",
    "number-action:restart": "POST /api/numbers/{number_id}/{action}",
    "number-action:pause": "POST /api/numbers/{number_id}/{action}",
    "number-action:resume": "POST /api/numbers/{number_id}/{action}",
    "number-action:remove": "POST /api/numbers/{number_id}/{action}",
    "number-action:webhook": "POST /api/numbers/{number_id}/{action}",
    "number-settings": "PATCH /api/numbers/{number_id}",
    # Sends
    "intent-action:cancel": "POST /api/intents/{intent_id}/cancel",
    "intent-action:resend": "POST /api/intents/{intent_id}/resolve",
    "intent-action:mark_failed": "POST /api/intents/{intent_id}/resolve",
    # Exports and a contact's privacy
    "export-request": "POST /api/exports",
    "contact-erase": "POST /api/contacts/{contact_id}/erase",
    # The CRM
    "lead-new": "POST /api/crm/leads",
    "lead-move": "PATCH /api/crm/leads/{lead_id}",
    "lead-edit": "PATCH /api/crm/leads/{lead_id}",
    "pipelines": "POST /api/crm/pipelines",
    "pipeline-add-stage": "POST /api/crm/pipelines/{pipeline_id}/stages",
    "pipeline-fields": "PUT /api/crm/pipelines/{pipeline_id}/fields",
    "stage-edit": "PATCH /api/crm/stages/{stage_id}",
    "stage-move": "POST /api/crm/stages/{stage_id}/move",
    "stage-delete": "DELETE /api/crm/stages/{stage_id}",
    "automation-new": "POST /api/crm/automations",
    "automation-edit": "PUT /api/crm/automations/{automation_id}",
    "automation-check": "POST /api/crm/automations/preview",
    "automations-dispatch": "POST /api/crm/follow-ups/dispatch",
    "automation-active": "POST /api/crm/automations/{automation_id}/pause",  # and /resume
    "automation-delete": "DELETE /api/crm/automations/{automation_id}",
    # Contacts, segments, imports
    "contact-edit": "PATCH /api/contacts/{contact_id}",
    "contact-tags": "POST /api/contacts/{contact_id}/tags",
    "contact-consent": "POST /api/contacts/{contact_id}/consent",
    "contact-start": "POST /api/intents",  # the first message, from a number
    "contact-merge": "POST /api/contacts/{contact_id}/merge",
    "contact-action:block": "POST /api/contacts/{contact_id}/block",
    "contact-action:unblock": "POST /api/contacts/{contact_id}/unblock",
    "contact-action:opt-out": "POST /api/contacts/{contact_id}/opt-out",
    "contact-action:opt-in": "POST /api/contacts/{contact_id}/opt-in",
    "segment-new": "POST /api/segments",
    "segment": "PATCH /api/segments/{segment_id}",
    "segment-delete": "DELETE /api/segments/{segment_id}",
    "contact-import-upload": "POST /api/contact-imports",
    "contact-import-mapping": "PUT /api/contact-imports/{import_id}/mapping",
    # Campaigns
    "campaign-new": "POST /api/campaigns",
    "campaign-edit": "PATCH /api/campaigns/{campaign_id}",
    "campaign-start": "POST /api/campaigns/{campaign_id}/start",
    "campaign-pause": "POST /api/campaigns/{campaign_id}/pause",
    "campaign-resume": "POST /api/campaigns/{campaign_id}/resume",
    "campaign-cancel": "POST /api/campaigns/{campaign_id}/cancel",
    "campaign-clone": "POST /api/campaigns/{campaign_id}/clone",
    # The team and the organization
    "settings-webhooks": "POST /api/webhooks/endpoints",
    "settings-webhook-edit": "PATCH /api/webhooks/endpoints/{endpoint_id}",
    "settings-webhook-action:enable": "PATCH /api/webhooks/endpoints/{endpoint_id}",
    "settings-webhook-action:disable": "PATCH /api/webhooks/endpoints/{endpoint_id}",
    "settings-webhook-action:rotate": "POST /api/webhooks/endpoints/{endpoint_id}/rotate",
    "settings-webhook-action:test": "POST /api/webhooks/endpoints/{endpoint_id}/test",
    "settings-webhook-action:delete": "DELETE /api/webhooks/endpoints/{endpoint_id}",
    "settings-webhook-action:replay": "POST /api/webhooks/endpoints/{endpoint_id}/replay",
    "settings-webhook-replay": "POST /api/webhooks/deliveries/{delivery_id}/replay",
    "settings-profile": "PUT /api/me",
    "settings-members": "POST /api/members/invitations",
    "settings-member-action:role": "PATCH /api/members/{member_id}",
    "settings-member-action:deactivate": "POST /api/members/{member_id}/deactivate",
    "settings-member-action:reactivate": "POST /api/members/{member_id}/reactivate",
    "settings-invitation-action:resend": "POST /api/members/invitations/{invitation_id}/resend",
    "settings-invitation-action:revoke": "DELETE /api/members/invitations/{invitation_id}",
    "settings-organization": "PATCH /api/organization",
    "settings-kill-switch": "PATCH /api/organization",
    "settings-retention": "PUT /api/organization/retention",
    "settings-token-create": "POST /api/tokens",
    "settings-token-revoke": "POST /api/tokens/{token_id}/revoke",
    "settings-notifications": "PUT /api/operators/me/notifications",
    "settings-keywords": "PUT /api/opt-out-keywords",
    # The assistant
    "settings-assistant": "PUT /api/assistant/settings",
    "settings-assistant-test": "POST /api/assistant/settings/test",
    "settings-assistant-summaries": "PUT /api/assistant/summaries",
    "settings-auto-replies": "PUT /api/assistant/auto-replies",
    "settings-auto-reply-delete": "DELETE /api/assistant/auto-replies/{rule_id}",
    "assistant-action:stop": "POST /api/conversations/{conversation_id}/assistant/stop",
    "assistant-action:resume": "POST /api/conversations/{conversation_id}/assistant/resume",
    "assistant-rate": "POST /api/assistant/outputs/{output_id}/rating",
    "settings-answer-rating": "POST /api/assistant/outputs/{output_id}/rating",
    "assistant-classify": "POST /api/conversations/{conversation_id}/assistant/classification",
    "assistant-topic": "POST /api/conversations/{conversation_id}/assistant/classification/tag",
    "assistant-translate-message": "POST /api/conversations/{conversation_id}/assistant/translate",
    "assistant-assist:rewrite": "POST /api/conversations/{conversation_id}/assistant/rewrite",
    "assistant-assist:translate": "POST /api/conversations/{conversation_id}/assistant/translate",
    "assistant-assist:summarize": "POST /api/conversations/{conversation_id}/assistant/summary",
    "assistant-assist:suggest": "POST /api/conversations/{conversation_id}/assistant/suggestion",
    "settings-persona-new": "POST /api/assistant/personas",
    "settings-persona": "PATCH /api/assistant/personas/{persona_id}",
    "settings-persona-active": "PATCH /api/assistant/personas/{persona_id}",
    "settings-persona-delete": "DELETE /api/assistant/personas/{persona_id}",
    "settings-persona-chat": "POST /api/assistant/personas/{persona_id}/answer",
    "settings-knowledge-try": "POST /api/knowledge/search",
    "settings-knowledge-new": "POST /api/knowledge/sources",
    "settings-knowledge-source": "PATCH /api/knowledge/sources/{source_id}",
    "settings-knowledge-enabled": "PATCH /api/knowledge/sources/{source_id}",
    "settings-knowledge-delete": "DELETE /api/knowledge/sources/{source_id}",
}

# Routes that accept a POST but are not a business action, and why.
NOT_ACTIONS: dict[str, str] = {
    "login": "signing in: a person's session, not an organization's data",
    "logout": "signing out",
    "login-verify": "the second step of signing in",
    "mfa-reverify": "a fresh second factor before a sensitive page action",
    "password_reset": "a person's own password, by email",
    "password_reset_confirm": "a person's own password, by a one-time link",
    "setup": "the first run: there is no organization, and so no token, yet",
    "invitation": "accepting an invitation: a one-time link, before there is a member",
    "set_language": "the interface's language, a cookie",
    "settings-security": "a person's own two-step verification: never a token's to change",
    "instances/": "an old address, redirected whatever the method",
    "webhook": "providers' webhooks, signed by the provider: the inbound door, not an action",
    "sandbox/": "the simulator's own pages",
    "manage-canned-check": "a check of the text being typed, changing nothing: POST and PUT "
    "/api/canned-replies refuse the same problems (422)",
}

ACTION_IN_SOURCE = re.compile(r"""action\s*(?:==|!=)\s*["']([\w-]+)["']""")
ACTION_IN_SET = re.compile(r"""action\s+(?:not\s+)?in\s+[\({\[]([^\)}\]]*)[\)}\]]""")
READS_POST = re.compile(r"request\.method\s*[!=]=\s*[\"']POST[\"']|request\.(?:POST|FILES)\b")


def unwrapped(view):
    while hasattr(view, "__wrapped__"):
        view = view.__wrapped__
    return view


def allowed_methods(view) -> set[str] | None:
    """The methods a view's decorators allow (None: no restriction)."""
    if hasattr(view, "view_class"):
        cls = view.view_class
        return {m.upper() for m in cls.http_method_names if hasattr(cls, m)} - {"OPTIONS"}
    layer = view
    while layer is not None:
        for cell in getattr(layer, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if (
                isinstance(value, list | tuple)
                and value
                and all(isinstance(v, str) and v.isupper() for v in value)
            ):
                return set(value)
        layer = getattr(layer, "__wrapped__", None)
    return None


def source(function) -> str:
    try:
        return textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return ""


def reads_post(view) -> bool:
    """Whether an unrestricted view handles a POST: itself, or a function of its own module it
    hands the request to (`return save(request, None)`)."""
    function = unwrapped(view)
    text = source(function)
    if READS_POST.search(text):
        return True
    module = inspect.getmodule(function)
    for name in re.findall(r"\b(\w+)\(request\b", text):
        helper = getattr(module, name, None)
        if inspect.isfunction(helper) and READS_POST.search(source(helper)):
            return True
    return False


def view_actions(view) -> set[str]:
    """The actions a view taking `<str:action>` knows."""
    function = unwrapped(view)
    text = source(function)
    found = set(ACTION_IN_SOURCE.findall(text))
    for listed in ACTION_IN_SET.findall(text):
        found |= set(re.findall(r"""["']([\w-]+)["']""", listed))
    if "ACTIONS" in text:
        names = inspect.getclosurevars(function).globals
        table = names.get("ACTIONS") or getattr(names.get("services"), "ACTIONS", {})
        found |= set(table)
    if "resolve_uncertain" in text:
        found |= {"resend", "mark_failed"}  # the job's own actions (engine.resolve_uncertain)
    if "change(request" in text:  # the inbox: `change` reads the action
        found |= set(ACTION_IN_SOURCE.findall(source(inspect.getmodule(function).change)))
    return found


def page_routes(patterns=None, prefix: str = ""):
    """(key, view) for every page route; the simulator's as one."""
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            if str(p.pattern).startswith("sandbox/"):
                yield "sandbox/", None
            else:
                yield from page_routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern) and p.callback.__module__ != "ninja.operation":
            yield p.name or prefix + str(p.pattern), p


def page_actions() -> set[str]:
    """Every page action, as "name" or "name:action"."""
    found = set()
    for key, pattern in page_routes():
        if pattern is None:
            found.add(key)
            continue
        view = pattern.callback
        methods = allowed_methods(view)
        if not ("POST" in methods if methods is not None else reads_post(view)):
            continue
        if "<str:action>" in str(pattern.pattern):
            found |= {f"{key}:{action}" for action in view_actions(view)}
        else:
            found.add(key)
    return found


def api_operations() -> set[str]:
    schema = api.get_openapi_schema()
    return {f"{method.upper()} {path}" for path, ops in schema["paths"].items() for method in ops}


def test_every_page_action_has_an_api_operation():
    actions = page_actions() - set(NOT_ACTIONS)
    unmapped = sorted(actions - set(ACTIONS_TO_OPERATIONS))
    operations = api_operations()
    missing = sorted(
        f"{action} -> {op}"
        for action, op in ACTIONS_TO_OPERATIONS.items()
        if action in actions and op not in operations
    )
    assert not unmapped, f"page actions with no API operation in the table: {unmapped}"
    assert not missing, f"page actions whose API operation does not exist: {missing}"


def test_the_table_names_only_real_actions():
    """A page action that went away takes its line with it."""
    actions = page_actions()
    stale = sorted((set(ACTIONS_TO_OPERATIONS) | set(NOT_ACTIONS)) - actions)
    assert not stale, f"lines for page actions that no longer exist: {stale}"


def test_the_route_reading_finds_the_actions_it_should():
    """The reading of the URL resolver itself: decorated, unrestricted and action routes."""
    actions = page_actions()
    assert {"reply", "manage-tags", "campaign-new", "settings-kill-switch"} <= actions
    assert {"conversation-action:claim", "number-action:webhook", "contact-action:opt-in"} <= (
        actions
    )
    assert not {"inbox", "contacts", "insights", "numbers"} & actions
