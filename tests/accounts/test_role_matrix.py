"""Who may do what, as one table: every page (from the URL resolver) and every API operation
(from the OpenAPI) × every role (owner, admin, supervisor, agent in the conversation's queue,
agent outside it, another organization's owner, anonymous).

The rules are declared below, one line a route. A route without a rule fails
`test_every_route_has_a_rule`, naming it: add its line. The rules are minimal roles:

- PUBLIC: anyone, signed in or not.
- MEMBER: any member of the organization.
- QUEUE: supervisors, and agents on the conversation's queue (or assigned to it).
- AUTHOR: supervisors, and the send's own author (the in-queue agent wrote it).
- SUPERVISOR, ADMIN, OWNER: that role or above.

Allowed means an answer below 400 (or one of the row's `ok` statuses, for an action that is
permitted but has nothing to do); refused means 403 or 404 for a member, a redirect to sign in
(pages) or 401 (API) for a visitor. Another organization's owner is refused wherever the route
names an object, and treated as an owner of their own organization elsewhere.
"""

import json
import re
from dataclasses import dataclass, field
from functools import cached_property

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from conversa.accounts import members
from conversa.accounts.models import ApiToken, Member
from conversa.api import api
from conversa.assistant import knowledge, outputs, personas
from conversa.assistant.models import AssistantOutput, AutoReply
from conversa.campaigns import imports, segments, sending
from conversa.crm import automations
from conversa.crm import services as crm
from conversa.engine import services as engine
from conversa.inbox import canned_replies, tags
from conversa.inbox.models import Attachment, Conversation, Queue
from conversa.insights import exports, periods
from conversa.webhooks import services as webhook_services
from tests.conftest import make_org

PUBLIC, MEMBER, QUEUE, AUTHOR = "public", "member", "queue", "author"
SUPERVISOR, ADMIN, OWNER = "supervisor", "admin", "owner"
# A webhook endpoint's URL: a public address literal, so that no name is resolved.
PUBLIC_URL = "https://93.184.216.34/hooks"
RANKS = {MEMBER: 0, QUEUE: 0, AUTHOR: 0, SUPERVISOR: 1, ADMIN: 2, OWNER: 3}

ANONYMOUS, OUTSIDER, AGENT_OUTSIDE, AGENT = "anonymous", "outsider", "agent_outside", "agent"
# Refused roles first: they change nothing, so one world serves them all.
ROLES = [ANONYMOUS, OUTSIDER, AGENT_OUTSIDE, AGENT, SUPERVISOR, ADMIN, OWNER]
ROLE_RANK = {AGENT_OUTSIDE: 0, AGENT: 0, SUPERVISOR: 1, ADMIN: 2, OWNER: 3}


@dataclass(frozen=True)
class Rule:
    who: str
    method: str = "GET"
    data: dict = field(default_factory=dict)
    ok: tuple = ()  # statuses that mean "allowed, nothing to do" for this route
    skip: str = ""  # why the table does not check it here (tested where it lives)


def get(who, **kw) -> Rule:
    return Rule(who, "GET", **kw)


def post(who, **kw) -> Rule:
    return Rule(who, "POST", **kw)


def skip(why: str) -> Rule:
    return Rule(PUBLIC, skip=why)


# Pages: the URL name, or "name:action" for a route taking an action, or the pattern for an
# unnamed route.
PAGES: dict[str, Rule] = {
    "health": get(PUBLIC),
    "ready": skip("public, and 503 without a worker's heartbeat: tests/test_ready.py"),
    "metrics": skip("exposure of /metrics is item 13's (tests/test_metrics*)"),
    "login": get(PUBLIC),
    "logout": skip("signs out: tests/accounts"),
    "set_language": post(PUBLIC, data={"language": "pt-br"}),
    "instances/": get(PUBLIC),  # an old address, redirected
    "webhook": skip("signed by the provider, not a member: tests/inbound"),
    "sandbox/": skip("the simulator's own access rules: tests/sandbox"),
    "openapi-json": get(PUBLIC),
    "openapi-view": get(PUBLIC),
    "api-root": skip("the API's root is not a page"),
    # The operator view
    "inbox": get(MEMBER),
    "conversation-list": get(MEMBER),
    "conversation": get(QUEUE),
    "thread": get(QUEUE),
    "thread-head": get(QUEUE),
    "composer": get(QUEUE),
    "contact-panel": get(QUEUE),
    "reply": post(QUEUE, data={"body": "Olá"}),
    "reply:note": post(QUEUE, data={"body": "para a equipe", "mode": "note"}),
    "compose": post(QUEUE, data={"body": "Olá"}),
    "react": post(QUEUE, data={"emoji": "👍"}),
    "send-template": post(
        QUEUE, data={"template_name": "boas_vindas", "template_language": "pt_BR"}
    ),
    "canned-replies": get(QUEUE),
    "conversation-tags": post(QUEUE, data={"tag": "{tag_id}"}),
    "retry": post(QUEUE, ok=(400,)),  # not a failed message: nothing to retry
    "conversation-action:claim": post(QUEUE),
    "conversation-action:release": post(QUEUE),
    "conversation-action:assign": post(SUPERVISOR, data={"member": "{agent_id}"}),
    # Agents transfer their own conversations only (tests/inbox/test_ownership.py); this one is
    # nobody's.
    "conversation-action:transfer": post(SUPERVISOR, data={"target": "q:{queue_id}"}),
    "conversation-action:resolve": post(QUEUE),
    "conversation-action:reopen": post(QUEUE),
    "conversation-action:pending": post(QUEUE),
    "conversation-action:snooze": post(QUEUE, data={"until": "tomorrow"}),
    "conversation-action:priority": post(QUEUE, data={"priority": "2"}),
    # The team's settings
    "manage-queues": get(SUPERVISOR),
    "manage-queue-new": get(SUPERVISOR),
    "manage-queue-edit": get(SUPERVISOR),
    "manage-queue-delete": post(SUPERVISOR),
    "manage-tags": get(SUPERVISOR),
    "manage-tag-delete": post(SUPERVISOR),
    "manage-hours": get(SUPERVISOR),
    "manage-read-receipts": get(SUPERVISOR),
    "manage-survey": get(SUPERVISOR),
    "manage-canned": get(SUPERVISOR),
    "manage-canned-new": get(SUPERVISOR),
    "manage-canned-check": post(SUPERVISOR, data={"shortcode": "oi", "body": "Olá"}),
    "manage-canned-edit": get(SUPERVISOR),
    "manage-canned-delete": post(SUPERVISOR),
    "settings": get(MEMBER),
    # Customers' files: read as their conversation is
    "media-file": skip("needs a stored file; the same lookup as media-card's"),
    "media-card": get(QUEUE),
    "media-retry": post(QUEUE, ok=(400, 409)),
    # Numbers
    "numbers": get(MEMBER),
    "number-add": get(ADMIN),
    "unparsed-events": get(ADMIN),
    "number-connect": get(ADMIN),
    "number-done": get(ADMIN),
    "number-action:pause": post(ADMIN),
    # Sends (intents)
    "intents": get(MEMBER),
    "intent": get(MEMBER),
    "intent-action:cancel": post(AUTHOR),
    # Insights: every member; an agent's figures are their own (tests/insights)
    "insights": get(MEMBER),
    # The messages behind the figures: agents see their own conversations' (read_filters)
    "insights-messages": get(MEMBER, data={"start": "{today}", "end": "{today}"}),
    # Exports: supervisors and above ask; an export is its requester's and the admins' (the
    # owner's export is not a supervisor's: 404)
    "exports": get(SUPERVISOR),
    "export-request": post(
        SUPERVISOR, data={"kind": "messages", "format": "csv", "start": "2026-06-01"}
    ),
    "export-file": get(ADMIN),
    # The CRM
    "pipeline": get(MEMBER),
    "pipeline-board": get(MEMBER),
    "lead-list": get(MEMBER),
    "lead-new": get(MEMBER),
    "lead": get(MEMBER),
    "lead-move": post(MEMBER, data={"stage": "{stage_id}"}),
    "lead-edit": post(MEMBER, data={"title": "Plano mensal", "stage": "{stage_id}"}),
    "pipelines": get(SUPERVISOR),
    "pipeline-add-stage": post(SUPERVISOR, data={"name": "Perdido"}),
    "pipeline-fields": post(SUPERVISOR, data={"fields": "cidade"}),
    "stage-edit": post(SUPERVISOR, data={"name": "Novo lead"}),
    "stage-move": post(SUPERVISOR, data={"direction": "down"}),
    "stage-delete": post(SUPERVISOR, ok=(400, 409, 422)),  # a stage with leads stays
    "automations": get(MEMBER),
    "automation-new": get(MEMBER),  # agents read the editor; saving is the service's (below)
    "automation-check": post(MEMBER),  # a step's preview, as typed
    "automations-dispatch": post(SUPERVISOR),
    "dispatch-progress": get(SUPERVISOR, data={"at": "2026-01-01T00:00:00Z"}),
    "automation-edit": get(MEMBER),
    "automation-active": post(SUPERVISOR),
    "automation-delete": post(SUPERVISOR),
    # Contacts
    "contacts": get(MEMBER),
    "contact": get(MEMBER),
    "contact-edit": post(MEMBER, data={"name": "Ana"}),
    "contact-tags": post(MEMBER, data={"tag": "{tag_id}"}),
    "contact-consent": post(MEMBER, data={"granted": "1", "evidence": "disse sim no balcão"}),
    "contact-merge": get(SUPERVISOR),
    "contact-start": post(MEMBER, data={"number": "{number_id}", "body": "Olá, tudo bem?"}),
    "contact-action:block": post(MEMBER, data={"reason": "ofensas"}),
    "contact-action:unblock": post(MEMBER, data={"reason": "engano"}),
    "contact-action:opt-out": post(MEMBER, data={"reason": "pediu por telefone"}),
    "contact-action:opt-in": post(MEMBER, data={"reason": "pediu para voltar"}),
    # The team: first run, invitations, password reset, members, profile
    "home": get(PUBLIC),
    "setup": skip("the first run, on an install with no organization: tests/accounts"),
    "invitation": skip("a one-time link: tests/accounts/test_invitations.py"),
    "password_reset": get(PUBLIC),
    "password_reset_done": get(PUBLIC),
    "password_reset_confirm": skip("a one-time link: tests/accounts/test_team_pages.py"),
    "password_reset_complete": get(PUBLIC),
    "settings-profile": get(MEMBER),
    "settings-members": get(ADMIN),
    # A member may leave (deactivate themselves): the rules are tests/accounts/test_members.py's.
    "settings-member-action:deactivate": skip("leaving is anyone's: tests/accounts"),
    "settings-member-action:role": post(ADMIN, data={"role": "supervisor"}),
    "settings-invitation-action:revoke": post(ADMIN),
    "settings-invitation-action:resend": post(ADMIN),
    # Two-step verification and the audit log
    "login-verify": get(PUBLIC, ok=(302,)),  # without a password step first: back to sign in
    "mfa-reverify": get(MEMBER),
    "settings-security": get(MEMBER),
    "settings-audit": get(ADMIN),
    "settings-audit-export": get(ADMIN),
    # Presence and notifications
    "availability": post(MEMBER, data={"availability": "away"}),
    "unread-count": get(MEMBER),
    "team": get(SUPERVISOR),
    "settings-notifications": get(MEMBER),
    # Policies: the organization's settings, the kill switch, a number's settings
    "settings-organization": get(ADMIN),
    "settings-kill-switch": post(ADMIN, data={"paused": "1"}),  # the confirmation step
    "settings-keywords": get(ADMIN),
    # The assistant's model: owners and admins (the test button calls the model:
    # tests/assistant/test_settings.py checks its roles)
    "settings-assistant": get(ADMIN),
    "settings-assistant-test": skip("calls the model: tests/assistant/test_settings.py"),
    "settings-assistant-summaries": post(ADMIN, data={"on_transfer": "1"}),
    # The assistant's help in a conversation (those that call the model are checked in
    # tests/assistant/test_help_pages.py) and its log (owners, admins, supervisors)
    "settings-assistant-activity": get(SUPERVISOR),
    "assistant-rate": post(QUEUE, data={"rating": "good"}),
    "assistant-classify": skip("calls the model: tests/assistant/test_help_pages.py"),
    "assistant-topic": post(QUEUE),
    "assistant-translate-message": skip("calls the model: tests/assistant/test_help_pages.py"),
    "assistant-assist": skip("calls the model: tests/assistant/test_help_pages.py"),
    "org-banner": get(MEMBER),
    "settings-retention": post(ADMIN, data={"retention_days": ""}),
    # A contact's LGPD rights (a wrong confirmation word: the erasure is refused, allowed)
    "contact-privacy": get(ADMIN),
    "contact-export": get(ADMIN),
    "contact-erase": post(ADMIN, data={"confirmation": "no"}, ok=(422,)),
    "number-settings": get(ADMIN),
    "hold-banner": get(MEMBER),
    # API tokens: each member their own; owners and admins everyone's
    "settings-tokens": get(MEMBER),
    # Outbound webhooks: owners and admins
    "settings-webhooks": get(ADMIN),
    "settings-webhook": get(ADMIN),
    "settings-webhook-edit": post(ADMIN, data={"url": PUBLIC_URL, "events": ["message.sent"]}),
    "settings-webhook-action:test": post(ADMIN),
    "settings-webhook-action:disable": post(ADMIN),
    "settings-webhook-action:enable": post(ADMIN),
    "settings-webhook-action:rotate": post(ADMIN),
    "settings-webhook-action:delete": post(ADMIN),
    "settings-webhook-action:replay": post(
        ADMIN, data={"start": "2026-01-01T00:00", "end": "2026-01-02T00:00"}
    ),
    "settings-webhook-replay": post(ADMIN),
    "settings-token-create": post(MEMBER, data={"name": "ERP", "scope": "read"}),
    "settings-token-revoke": post(ADMIN),  # the owner's token
    "contact-imports": get(SUPERVISOR),
    "contact-import-upload": post(SUPERVISOR, ok=(400,)),  # no file: "choose a file"
    "contact-import": get(SUPERVISOR),
    "contact-import-mapping": post(SUPERVISOR, data={"column_0": "phone"}),
    "contact-import-progress": get(SUPERVISOR),
    "contact-import-errors": get(SUPERVISOR),
    # Segments: every member sees them and their counts; supervisors and above change them.
    "segments": get(MEMBER),
    "segment-count": get(MEMBER, data={"consent": "yes"}),
    "segment-new": post(SUPERVISOR, data={"name": "Consentidos", "consent": "yes"}),
    "segment": post(SUPERVISOR, data={"name": "Renomeado"}),
    "segment-delete": post(SUPERVISOR),
    # Campaigns: every member follows them; supervisors and above prepare and run them (a
    # draft cannot be paused or resumed: the page says so, a 400).
    "campaigns": get(MEMBER),
    "campaign-new": get(SUPERVISOR),
    "campaign": get(MEMBER),
    "campaign-edit": get(SUPERVISOR),
    "campaign-live": get(MEMBER),
    "campaign-start": post(SUPERVISOR),
    "campaign-pause": post(SUPERVISOR, ok=(400,)),
    "campaign-resume": post(SUPERVISOR, ok=(400,)),
    "campaign-cancel": post(SUPERVISOR),
    "campaign-clone": post(SUPERVISOR),
    # A campaign's recipients, downloaded
    "campaign-export-csv": get(MEMBER),
    "campaign-export-xlsx": get(MEMBER),
    # The assistant's knowledge: owners and admins
    "settings-knowledge": get(ADMIN),
    "settings-knowledge-try": post(ADMIN, data={"question": "Qual o horário?"}),
    "settings-knowledge-new": post(
        ADMIN, data={"kind": "faq", "title": "FAQ", "body": "Abrem sábado?\nSim."}
    ),
    "settings-knowledge-source": get(ADMIN),
    "settings-knowledge-enabled": post(ADMIN, data={"enabled": "0"}),
    "settings-knowledge-delete": post(ADMIN),
    # The assistant's personas and their test chat: owners and admins (a question that asks
    # for a person: answered without the model)
    "settings-personas": get(ADMIN),
    "settings-persona-new": post(
        ADMIN,
        data={"name": "Bia", "tone": "friendly", "language_policy": "customer", "language": "en"},
    ),
    "settings-persona": get(ADMIN),
    "settings-persona-active": post(ADMIN, data={"active": "1"}),
    "settings-persona-delete": post(ADMIN),
    "settings-persona-chat": post(ADMIN, data={"question": "quero um atendente"}),
    # A test answer's rating (the placeholder's output is a conversation's summary, whose
    # rating the routes below check): tests/assistant/test_persona_pages.py
    "settings-answer-rating": skip("a test answer's rating: tests/assistant/test_persona_pages.py"),
    # Automatic replies: owners and admins set them; whoever works on a conversation stops the
    # assistant in it or turns it back on (resuming where no rule applies: refused, 400/409)
    "settings-auto-replies": get(ADMIN),
    "settings-auto-reply-delete": post(ADMIN),
    "assistant-banner": get(QUEUE),
    "assistant-action:stop": post(QUEUE),
    "assistant-action:resume": post(QUEUE, ok=(400,)),
}

# API operations: "METHOD /api/path" as the OpenAPI names it.
API: dict[str, Rule] = {
    "GET /api/conversations": get(MEMBER),
    "GET /api/conversations/{conversation_id}/messages": get(QUEUE),
    "POST /api/conversations/{conversation_id}/reply": post(QUEUE, data={"body": "Olá"}),
    "POST /api/conversations/{conversation_id}/claim": post(QUEUE, ok=(409,)),
    "POST /api/conversations/{conversation_id}/release": post(QUEUE),
    "POST /api/conversations/{conversation_id}/assign": post(
        SUPERVISOR, data={"member_id": "{agent_id}"}
    ),
    "POST /api/conversations/{conversation_id}/transfer": post(
        SUPERVISOR, data={"queue_id": "{queue_id}"}
    ),
    "POST /api/conversations/{conversation_id}/resolve": post(QUEUE),
    "POST /api/conversations/{conversation_id}/reopen": post(QUEUE),
    "POST /api/conversations/{conversation_id}/pending": post(QUEUE),
    "POST /api/conversations/{conversation_id}/snooze": post(QUEUE),
    "POST /api/conversations/{conversation_id}/priority": post(QUEUE, data={"priority": 2}),
    "GET /api/tags": get(MEMBER),
    "POST /api/tags": post(SUPERVISOR, data={"name": "Nova"}),
    "DELETE /api/tags/{tag_id}": Rule(SUPERVISOR, "DELETE"),
    "POST /api/conversations/{conversation_id}/tags": post(QUEUE, data={"tag_id": "{tag_id}"}),
    "GET /api/conversations/{conversation_id}/tags": get(QUEUE),
    "DELETE /api/conversations/{conversation_id}/tags/{tag_id}": Rule(QUEUE, "DELETE"),
    "GET /api/contacts/{contact_id}/tags": get(MEMBER),
    "POST /api/contacts/{contact_id}/tags": post(MEMBER, data={"tag_id": "{tag_id}"}),
    "DELETE /api/contacts/{contact_id}/tags/{tag_id}": Rule(MEMBER, "DELETE"),
    "GET /api/contacts/{contact_id}/export": get(ADMIN),
    "POST /api/contacts/{contact_id}/erase": post(ADMIN, data={"confirmation": "no"}, ok=(422,)),
    "GET /api/contacts": get(MEMBER),
    "GET /api/insights": get(MEMBER),
    "POST /api/exports": post(SUPERVISOR, data={"kind": "messages"}),
    "GET /api/exports/{export_id}": get(ADMIN),
    "GET /api/exports/{export_id}/file": get(ADMIN, ok=(409,)),  # not written yet
    "GET /api/contacts/{contact_id}": get(MEMBER),
    "PATCH /api/contacts/{contact_id}": Rule(MEMBER, "PATCH", data={"name": "Ana"}),
    "POST /api/contacts/{contact_id}/block": post(MEMBER, data={"reason": "ofensas"}),
    "POST /api/contacts/{contact_id}/unblock": post(MEMBER, data={"reason": "engano"}),
    "POST /api/contacts/{contact_id}/opt-out": post(MEMBER, data={"reason": "pediu"}),
    "POST /api/contacts/{contact_id}/opt-in": post(MEMBER, data={"reason": "voltou"}),
    "POST /api/contacts/{contact_id}/consent": post(
        MEMBER, data={"granted": True, "evidence": "disse sim no balcão"}
    ),
    "GET /api/canned-replies": get(MEMBER),
    "POST /api/canned-replies": post(SUPERVISOR, data={"shortcode": "novo", "body": "Olá"}),
    "GET /api/canned-replies/{reply_id}": get(MEMBER),
    "PUT /api/canned-replies/{reply_id}": Rule(
        SUPERVISOR, "PUT", data={"shortcode": "oi", "body": "Olá!"}
    ),
    "DELETE /api/canned-replies/{reply_id}": Rule(SUPERVISOR, "DELETE"),
    "GET /api/conversations/{conversation_id}/canned-replies/{reply_id}": get(QUEUE),
    "GET /api/conversations/{conversation_id}/notes": get(QUEUE),
    "POST /api/conversations/{conversation_id}/notes": post(QUEUE, data={"body": "nota"}),
    "GET /api/conversations/{conversation_id}/sla": get(QUEUE),
    "GET /api/sla/breached": get(MEMBER),
    "GET /api/business-hours": get(MEMBER),
    "PUT /api/business-hours": Rule(
        SUPERVISOR, "PUT", data={"time_zone": "America/Sao_Paulo", "hours": {}, "holidays": []}
    ),
    "GET /api/operators": get(MEMBER),
    "GET /api/operators/me": get(MEMBER),
    "POST /api/operators/me/availability": post(MEMBER, data={"availability": "online"}),
    "GET /api/queues": get(MEMBER),
    "POST /api/queues": post(SUPERVISOR, data={"name": "Vendas 2"}),
    "PUT /api/queues/{queue_id}": Rule(SUPERVISOR, "PUT", data={"name": "Suporte"}),
    "DELETE /api/queues/{queue_id}": Rule(SUPERVISOR, "DELETE"),
    "PUT /api/operators/{member_id}/capacity": Rule(SUPERVISOR, "PUT", data={"capacity": 3}),
    "PUT /api/queues/{queue_id}/sla": Rule(SUPERVISOR, "PUT", data={"first_response_minutes": 30}),
    "POST /api/intents/location": post(
        MEMBER, data={"phone": "5511999990002", "latitude": -23.5, "longitude": -46.6}
    ),
    "POST /api/intents/contacts": post(
        MEMBER,
        data={"phone": "5511999990002", "contacts": [{"name": "Ana", "phones": ["5511999990003"]}]},
    ),
    "POST /api/intents/media": skip("a multipart upload: tests/engine/test_content_api.py"),
    "GET /api/intents": get(MEMBER),
    "POST /api/intents": post(MEMBER, data={"phone": "5511999990002", "body": "Olá"}),
    "GET /api/intents/{intent_id}": get(MEMBER),
    "POST /api/intents/{intent_id}/cancel": post(AUTHOR),
    "POST /api/intents/{intent_id}/resolve": post(AUTHOR, data={"action": "resend"}, ok=(409,)),
    "GET /api/numbers": get(MEMBER),
    "GET /api/numbers/{number_id}": get(MEMBER),
    "POST /api/numbers/{number_id}/{action}": post(ADMIN),
    "GET /api/crm/pipelines": get(MEMBER),
    "POST /api/crm/pipelines": post(SUPERVISOR, data={"name": "Pós-venda"}),
    "POST /api/crm/pipelines/{pipeline_id}/stages": post(SUPERVISOR, data={"name": "Perdido"}),
    "GET /api/crm/leads": get(MEMBER),
    "POST /api/crm/leads": post(
        MEMBER, data={"phone": "5511999990004", "pipeline_id": "{pipeline_id}", "title": "Novo"}
    ),
    "GET /api/crm/leads/{lead_id}": get(MEMBER),
    "PATCH /api/crm/leads/{lead_id}": Rule(MEMBER, "PATCH", data={"title": "Plano mensal"}),
    "GET /api/crm/leads/{lead_id}/timeline": get(MEMBER),
    "GET /api/crm/leads/{lead_id}/follow-ups": get(MEMBER),
    "GET /api/crm/automations": get(MEMBER),
    "POST /api/crm/automations": post(
        SUPERVISOR,
        data={"name": "Outra", "stage_id": "{stage_id}", "steps": [{"template": "Olá"}]},
    ),
    "POST /api/crm/automations/preview": post(
        MEMBER, data={"template": "Olá", "lead_id": "{lead_id}"}
    ),
    "GET /api/crm/automations/{automation_id}": get(MEMBER),
    "PUT /api/crm/automations/{automation_id}": Rule(
        SUPERVISOR,
        "PUT",
        data={"name": "Outra", "stage_id": "{stage_id}", "steps": [{"template": "Olá"}]},
    ),
    "DELETE /api/crm/automations/{automation_id}": Rule(SUPERVISOR, "DELETE"),
    "POST /api/crm/automations/{automation_id}/pause": post(SUPERVISOR),
    "POST /api/crm/automations/{automation_id}/resume": post(SUPERVISOR),
    "GET /api/crm/follow-ups/counters": get(MEMBER),
    "POST /api/crm/follow-ups/dispatch": post(SUPERVISOR),
    "GET /api/crm/follow-ups/dispatch/progress": get(
        MEMBER, data={"since": "2026-01-01T00:00:00Z"}
    ),
    "POST /api/internal/follow-ups/dispatch": skip("a worker's token, not a member's: tests/crm"),
    "GET /api/members": get(ADMIN),
    "GET /api/members/invitations": get(ADMIN),
    "POST /api/members/invitations": post(ADMIN, data={"email": "x@example.com", "role": "agent"}),
    "POST /api/members/invitations/{invitation_id}/resend": post(ADMIN),
    "DELETE /api/members/invitations/{invitation_id}": Rule(ADMIN, "DELETE"),
    "PATCH /api/members/{member_id}": Rule(ADMIN, "PATCH", data={"role": "supervisor"}),
    "POST /api/members/{member_id}/deactivate": skip("leaving is anyone's: tests/accounts"),
    "POST /api/members/{member_id}/reactivate": post(ADMIN, ok=(409,)),
    "GET /api/organization": get(ADMIN),
    "PATCH /api/organization": Rule(ADMIN, "PATCH", data={"name": "Nova"}),
    "GET /api/opt-out-keywords": get(ADMIN),
    "PUT /api/opt-out-keywords": Rule(
        ADMIN, "PUT", data={"opt_out": ["SAIR"], "opt_in": ["VOLTAR"], "match": "whole"}
    ),
    "PATCH /api/numbers/{number_id}": Rule(ADMIN, "PATCH", data={"name": "Vendas"}),
    "GET /api/webhooks/event-types": get(MEMBER),
    "GET /api/webhooks/endpoints": get(ADMIN),
    "POST /api/webhooks/endpoints": post(
        ADMIN, data={"url": PUBLIC_URL, "events": ["message.received"]}
    ),
    "GET /api/webhooks/endpoints/{endpoint_id}": get(ADMIN),
    "PATCH /api/webhooks/endpoints/{endpoint_id}": Rule(ADMIN, "PATCH", data={"enabled": False}),
    "DELETE /api/webhooks/endpoints/{endpoint_id}": Rule(ADMIN, "DELETE"),
    "POST /api/webhooks/endpoints/{endpoint_id}/rotate": post(ADMIN),
    "POST /api/webhooks/endpoints/{endpoint_id}/test": post(ADMIN),
    "GET /api/webhooks/endpoints/{endpoint_id}/deliveries": get(ADMIN),
    "POST /api/webhooks/endpoints/{endpoint_id}/replay": post(
        ADMIN, data={"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
    ),
    "GET /api/webhooks/deliveries/{delivery_id}": get(ADMIN),
    "POST /api/webhooks/deliveries/{delivery_id}/replay": post(ADMIN),
    "GET /api/tokens": get(MEMBER),
    "POST /api/tokens": skip("a signed-in person's act, never a token's: tests/accounts"),
    "POST /api/tokens/{token_id}/revoke": post(ADMIN),  # the owner's token
    "POST /api/contact-imports": skip("a multipart upload: tests/campaigns/test_imports.py"),
    "GET /api/contact-imports/{import_id}": get(SUPERVISOR),
    "GET /api/segments": get(MEMBER),
    "POST /api/segments": post(SUPERVISOR, data={"name": "Consentidos"}),
    "POST /api/segments/count": post(MEMBER, data={"consent": "yes"}),
    "GET /api/segments/{segment_id}": get(MEMBER),
    "PATCH /api/segments/{segment_id}": Rule(SUPERVISOR, "PATCH", data={"name": "Renomeado"}),
    "DELETE /api/segments/{segment_id}": Rule(SUPERVISOR, "DELETE"),
    "GET /api/segments/{segment_id}/count": get(MEMBER),
    # Campaigns: members read, supervisors change (pausing or resuming a draft: a 409)
    "GET /api/campaigns": get(MEMBER),
    "POST /api/campaigns": post(SUPERVISOR, data={"name": "Natal", "body": "Oi"}),
    "GET /api/campaigns/{campaign_id}": get(MEMBER),
    "PATCH /api/campaigns/{campaign_id}": Rule(SUPERVISOR, "PATCH", data={"name": "Ano Novo"}),
    "POST /api/campaigns/{campaign_id}/start": post(SUPERVISOR),
    "POST /api/campaigns/{campaign_id}/pause": post(SUPERVISOR, ok=(409,)),
    "POST /api/campaigns/{campaign_id}/resume": post(SUPERVISOR, ok=(409,)),
    "POST /api/campaigns/{campaign_id}/cancel": post(SUPERVISOR),
    "POST /api/campaigns/{campaign_id}/clone": post(SUPERVISOR),
    "GET /api/campaigns/{campaign_id}/preview": get(MEMBER, data={"contact_id": "{contact_id}"}),
    "GET /api/campaigns/{campaign_id}/report": get(MEMBER),
    "GET /api/campaigns/{campaign_id}/recipients": get(MEMBER),
    "GET /api/campaigns/{campaign_id}/export": get(MEMBER),
    # The assistant's knowledge: owners and admins
    "GET /api/knowledge/sources": get(ADMIN),
    "POST /api/knowledge/sources": post(
        ADMIN, data={"title": "FAQ", "kind": "faq", "body": "Abrem sábado?\nSim."}
    ),
    "POST /api/knowledge/documents": skip(
        "multipart (validated before the role): tests/assistant/test_knowledge_pages.py"
    ),
    "GET /api/knowledge/sources/{source_id}": get(ADMIN),
    "PATCH /api/knowledge/sources/{source_id}": Rule(ADMIN, "PATCH", data={"title": "Novo"}),
    "DELETE /api/knowledge/sources/{source_id}": Rule(ADMIN, "DELETE"),
    "POST /api/knowledge/search": post(ADMIN, data={"question": "Qual o horário?"}),
    # The assistant's personas: owners and admins
    "GET /api/assistant/personas": get(ADMIN),
    "POST /api/assistant/personas": post(ADMIN, data={"name": "Bia"}),
    "GET /api/assistant/personas/{persona_id}": get(ADMIN),
    "PATCH /api/assistant/personas/{persona_id}": Rule(ADMIN, "PATCH", data={"name": "Nova"}),
    "DELETE /api/assistant/personas/{persona_id}": Rule(ADMIN, "DELETE"),
    "POST /api/assistant/personas/{persona_id}/answer": post(
        ADMIN, data={"question": "quero um atendente"}
    ),
    # Automatic replies (see the pages above)
    "GET /api/assistant/auto-replies": get(ADMIN),
    "PUT /api/assistant/auto-replies": Rule(
        ADMIN, "PUT", data={"number_id": "{number_id}", "persona_id": "{persona_id}"}
    ),
    "DELETE /api/assistant/auto-replies/{rule_id}": Rule(ADMIN, "DELETE"),
    "GET /api/conversations/{conversation_id}/assistant": get(QUEUE),
    "POST /api/conversations/{conversation_id}/assistant/resume": post(QUEUE, ok=(409,)),
    "POST /api/conversations/{conversation_id}/assistant/stop": post(QUEUE),
    # The assistant's model settings: owners and admins
    "GET /api/assistant/settings": get(ADMIN),
    "PUT /api/assistant/settings": Rule(ADMIN, "PUT", data={"model": "llama3.1"}),
    "POST /api/assistant/settings/test": skip("calls the model: tests/assistant/test_settings.py"),
    # The assistant's help: those that call the model are in tests/assistant/test_help_api.py
    "POST /api/conversations/{conversation_id}/assistant/rewrite": skip("calls the model"),
    "POST /api/conversations/{conversation_id}/assistant/translate": skip("calls the model"),
    "POST /api/conversations/{conversation_id}/assistant/summary": skip("calls the model"),
    "POST /api/conversations/{conversation_id}/assistant/classification": skip("calls the model"),
    "GET /api/conversations/{conversation_id}/assistant/classification": get(QUEUE),
    # Nothing classified yet: a 422 saying so, for whoever may ask.
    "POST /api/conversations/{conversation_id}/assistant/classification/tag": post(
        QUEUE, ok=(422,)
    ),
    # Issue 21: an API for every page action (tests/api/test_every_action.py)
    "POST /api/conversations/{conversation_id}/messages/{message_id}/reaction": post(
        QUEUE, data={"emoji": "👍"}
    ),
    # An inbound message is not a failed send: nothing to retry (409), allowed.
    "POST /api/conversations/{conversation_id}/messages/{message_id}/retry": post(QUEUE, ok=(409,)),
    "POST /api/attachments/{attachment_id}/retry": post(QUEUE, ok=(409, 422)),
    "POST /api/conversations/{conversation_id}/assistant/suggestion": skip("calls the model"),
    "PUT /api/survey": Rule(
        SUPERVISOR, "PUT", data={"enabled": True, "question": "", "open_hours": 24}
    ),
    "PUT /api/read-receipts": Rule(SUPERVISOR, "PUT", data={"enabled": False}),
    "PUT /api/me": Rule(MEMBER, "PUT", data={"display_name": "Ana", "language": "pt-br"}),
    "PUT /api/operators/me/notifications": Rule(
        MEMBER,
        "PUT",
        data={
            "automatic": True,
            "notify_assigned": True,
            "notify_messages": False,
            "notify_mentions": True,
            "notify_sound": False,
        },
    ),
    "PUT /api/organization/retention": Rule(ADMIN, "PUT", data={"retention_days": 90}),
    "POST /api/numbers": skip("calls the simulator over HTTP: tests/api/test_new_operations.py"),
    "PUT /api/crm/pipelines/{pipeline_id}/fields": Rule(
        SUPERVISOR, "PUT", data={"custom_fields": ["cidade"]}
    ),
    "PATCH /api/crm/stages/{stage_id}": Rule(SUPERVISOR, "PATCH", data={"name": "Novo lead"}),
    "POST /api/crm/stages/{stage_id}/move": post(SUPERVISOR, data={"direction": "up"}),
    "DELETE /api/crm/stages/{stage_id}": Rule(SUPERVISOR, "DELETE", ok=(409,)),
    "PUT /api/contact-imports/{import_id}/mapping": Rule(
        SUPERVISOR, "PUT", data={"mapping": {"0": "phone"}}
    ),
    "POST /api/contacts/{contact_id}/merge": post(
        SUPERVISOR, data={"other_id": "{other_contact_id}", "reason": "a mesma pessoa"}
    ),
    "GET /api/assistant/outputs": get(SUPERVISOR),
    "POST /api/assistant/outputs/{output_id}/rating": post(QUEUE, data={"rating": "good"}),
    "GET /api/assistant/accuracy": get(SUPERVISOR),
    "GET /api/assistant/summaries": get(ADMIN),
    "PUT /api/assistant/summaries": Rule(
        ADMIN, "PUT", data={"on_transfer": True, "on_resolve": False}
    ),
}


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    """Members' passwords hashed cheaply: the table makes a few hundred of them."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def page_routes(patterns=None, prefix: str = ""):
    """Every page route as (key, pattern, name), from the URL resolver (the API's are left to
    the OpenAPI, which knows their methods)."""
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            if str(p.pattern).startswith("sandbox/"):
                yield "sandbox/", prefix + str(p.pattern), None
            else:
                yield from page_routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            if p.callback.__module__ == "ninja.operation":
                continue
            yield p.name or prefix + str(p.pattern), prefix + str(p.pattern), p.name


def api_operations():
    schema = api.get_openapi_schema()
    for path, operations in schema["paths"].items():
        for method in operations:
            yield f"{method.upper()} {path}"


def page_keys() -> set[str]:
    return {key for key, _pattern, _name in page_routes()}


def test_every_route_has_a_rule():
    """A new page or API operation fails here until the table says who may use it."""
    missing_pages = sorted(
        key
        for key in page_keys()
        if key not in PAGES and not any(r.startswith(f"{key}:") for r in PAGES)
    )
    missing_api = sorted(set(api_operations()) - set(API))
    assert not missing_pages, f"pages without a rule in {__file__}: {missing_pages}"
    assert not missing_api, f"API operations without a rule in {__file__}: {missing_api}"
    stale = sorted(
        {k for k in PAGES if k.split(":")[0] not in page_keys()}
        | (set(API) - set(api_operations()))
    )
    assert not stale, f"rules for routes that no longer exist: {stale}"


class World:
    """Two organizations; in the first, a member of each role, a queue with a conversation
    (an inbound message, an attachment, a note), a tag, a canned reply, a send written by the
    agent in the queue, a pipeline with a lead and an automation. Objects are made when a
    route asks for them."""

    def __init__(self):
        self.a = make_org()
        self.b = make_org()
        self.members = {
            OWNER: self.a.owner,
            ADMIN: self.a.member(Member.Role.ADMIN),
            SUPERVISOR: self.a.member(Member.Role.SUPERVISOR),
            AGENT: self.a.member(Member.Role.AGENT),
            AGENT_OUTSIDE: self.a.member(Member.Role.AGENT),
            OUTSIDER: self.b.owner,
        }

    @cached_property
    def queue(self) -> Queue:
        queue = Queue.objects.create(organization=self.a.org, name="Suporte")
        queue.members.add(self.members[AGENT])
        queue.numbers.add(self.a.number)
        return queue

    @cached_property
    def message(self):
        message = self.a.customer_writes("5511988887777", "Preciso de ajuda")
        Conversation.objects.filter(pk=message.conversation_id).update(queue=self.queue)
        return message

    @cached_property
    def conversation(self) -> Conversation:
        return Conversation.objects.get(pk=self.message.conversation_id)

    @cached_property
    def attachment(self) -> Attachment:
        return Attachment.objects.create(
            organization_id=self.a.org.pk, message=self.message, kind="image", state="failed"
        )

    @cached_property
    def tag(self):
        return tags.create_tag(self.a.org, "VIP", "green", acting_member=self.a.owner)

    @cached_property
    def reply(self):
        return canned_replies.save_canned_reply(
            self.a.org, "oi", "Olá {{contact.first_name}}", acting_member=self.a.owner
        )

    @cached_property
    def intent(self):
        intent, _ = engine.reply(self.conversation, "Já vejo", acting_member=self.members[AGENT])
        return intent

    @cached_property
    def pipeline(self):
        return crm.create_pipeline(
            self.a.org,
            "Vendas",
            acting_member=self.a.owner,
            stages=[{"name": "Novo"}, {"name": "Proposta"}],
        )

    @cached_property
    def stage(self):
        return self.pipeline.stages.order_by("position").last()

    @cached_property
    def lead(self):
        first = self.pipeline.stages.order_by("position").first()
        return crm.create_lead(
            self.conversation.contact, first, "Plano anual", acting_member=self.a.owner
        )

    @cached_property
    def automation(self):
        return automations.save_automation(
            self.a.org,
            acting_member=self.a.owner,
            name="Acompanhar",
            stage=self.stage,
            steps=[{"delay": 1, "delay_unit": "days", "template": "Olá"}],
        )

    @cached_property
    def invitation(self):
        invitation, _raw, _sent = members.invite(
            acting_member=self.a.owner, email="nova@example.com", role="agent"
        )
        return invitation

    @cached_property
    def token(self):
        self.a.api_token()
        return ApiToken.objects.filter(member=self.a.owner).latest("pk")

    @cached_property
    def contact_import(self):
        return imports.upload(
            self.a.org,
            file_name="lista.csv",
            data=b"telefone;nome\n11988887777;Ana\n",
            acting_member=self.a.owner,
        )

    @cached_property
    def segment(self):
        return segments.create_segment(
            self.a.org, name="Todos", filters={}, acting_member=self.a.owner
        )

    @cached_property
    def campaign(self):
        draft = sending.Draft(
            name="Natal",
            body="Oi {{contact.first_name}}",
            number_ids=(self.a.number.pk,),
            tag_ids=(self.tag.pk,),
        )
        return sending.save_campaign(self.a.org, draft, acting_member=self.a.owner)

    @cached_property
    def knowledge_source(self):
        return knowledge.save_source(
            self.a.org,
            acting_member=self.a.owner,
            kind="faq",
            title="Perguntas",
            body="Qual o horário?\nDas 9h às 18h.",
        )

    @cached_property
    def persona(self):
        return personas.save_persona(self.a.org, acting_member=self.a.owner, name="Ana")

    @cached_property
    def auto_reply(self):
        return AutoReply.objects.create(
            organization=self.a.org, number=self.a.number, persona=self.persona
        )

    @cached_property
    def assistant_output(self):
        return outputs.record_output(
            self.a.org,
            kind=AssistantOutput.Kind.SUMMARY,
            text="Resumo",
            conversation=self.conversation,
        )

    @cached_property
    def export(self):
        today = periods.today(self.a.org)
        return exports.request_export(
            self.a.org,
            kind="messages",
            fmt="csv",
            first_day=today,
            last_day=today,
            acting_member=self.a.owner,
        )

    @cached_property
    def endpoint(self):
        endpoint, _secret = webhook_services.create_endpoint(
            acting_member=self.a.owner, url=PUBLIC_URL, events=["message.received"]
        )
        return endpoint

    @cached_property
    def delivery(self):
        return webhook_services.send_test(self.endpoint, acting_member=self.a.owner)

    def value(self, name: str):
        objects = {
            "conversation_id": lambda: self.conversation.pk,
            "message_id": lambda: self.message.pk,
            "attachment_id": lambda: self.attachment.pk,
            "queue_id": lambda: self.queue.pk,
            "tag_id": lambda: self.tag.pk,
            "reply_id": lambda: self.reply.pk,
            "contact_id": lambda: self.conversation.contact_id,
            "other_contact_id": lambda: self.a.conversation("5511977776666").contact_id,
            "intent_id": lambda: self.intent.pk,
            "number_id": lambda: self.a.number.pk,
            "member_id": lambda: self.members[AGENT].pk,
            "agent_id": lambda: self.members[AGENT].pk,
            "pipeline_id": lambda: self.pipeline.pk,
            "stage_id": lambda: self.stage.pk,
            "lead_id": lambda: self.lead.pk,
            "automation_id": lambda: self.automation.pk,
            "action": lambda: "pause",
            "invitation_id": lambda: self.invitation.pk,
            "token_id": lambda: self.token.pk,
            "import_id": lambda: self.contact_import.pk,
            "segment_id": lambda: self.segment.pk,
            "campaign_id": lambda: self.campaign.pk,
            "source_id": lambda: self.knowledge_source.pk,
            "persona_id": lambda: self.persona.pk,
            "rule_id": lambda: self.auto_reply.pk,
            # A date, not an object: any organization's member may ask for it.
            "today": lambda: periods.today(self.a.org).isoformat(),
            "export_id": lambda: self.export.pk,
            "output_id": lambda: self.assistant_output.pk,
            "endpoint_id": lambda: self.endpoint.pk,
            "delivery_id": lambda: self.delivery.pk,
        }
        return objects[name]()

    def fill(self, data):
        """The row's data with its {placeholders} made real objects' ids."""
        if isinstance(data, dict):
            return {k: self.fill(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self.fill(v) for v in data]
        if isinstance(data, str) and (m := re.fullmatch(r"\{(\w+)\}", data)):
            return self.value(m.group(1))
        if isinstance(data, str):
            return re.sub(r"\{(\w+)\}", lambda m: str(self.value(m.group(1))), data)
        return data


def expected(rule: Rule, role: str, names_object: bool) -> bool:
    """Whether `role` may use a route of `rule`."""
    if rule.who == PUBLIC:
        return True
    if role == ANONYMOUS:
        return False
    if role == OUTSIDER:
        return not names_object  # an owner, of another organization
    if rule.who in (QUEUE, AUTHOR) and role == AGENT_OUTSIDE:
        return False
    return ROLE_RANK[role] >= RANKS[rule.who]


def outcome(response, api_call: bool) -> str:
    """'allowed', 'refused', 'sign-in' (a visitor sent to sign in) or the status."""
    status = response.status_code
    if status >= 500:
        return f"{status} (a server error)"
    if api_call and status == 401:
        return "sign-in"
    if status in (301, 302) and "/login/" in response.get("Location", ""):
        return "sign-in"
    if status in (403, 404):
        return "refused"
    return "allowed" if status < 400 else str(status)


def check(world: World, rule: Rule, role: str, url: str, api_call: bool, names_object: bool):
    if role == ANONYMOUS:
        client = Client()
        headers = {}
    elif api_call:
        client = Client()
        token = world.a.api_token(world.members[role]) if role != OUTSIDER else world.b.api_token()
        headers = {"Authorization": f"Bearer {token}"}
    else:
        client = Client()
        client.force_login(world.members[role].user)
        headers = {}
    data = world.fill(rule.data)
    if rule.method == "GET":
        response = client.get(url, data, headers=headers)
    elif api_call:
        response = client.generic(
            rule.method,
            url,
            data=json.dumps(data),
            content_type="application/json",
            headers=headers,
        )
    else:
        response = client.post(url, data, headers=headers)
    got = outcome(response, api_call)
    allowed = expected(rule, role, names_object)
    if allowed:
        ok = got == "allowed" or (got.isdigit() and int(got) in rule.ok)
        want = "allowed"
    else:
        want = "sign-in" if role == ANONYMOUS else "refused"
        # A visitor to a customer's file gets a 404, not a sign-in page (it would tell the file
        # exists).
        ok = got == want or (role == ANONYMOUS and got == "refused")
    return ok, f"{rule.method} {url} as {role}: wanted {want}, got {got} ({response.status_code})"


def page_cases():
    routes = {key: (pattern, name) for key, pattern, name in page_routes()}
    for key, rule in PAGES.items():
        if rule.skip or key.split(":")[0] not in routes:
            continue
        yield key


def api_cases():
    return [key for key, rule in API.items() if not rule.skip]


def names_in_data(rule: Rule) -> bool:
    """Whether the row's data names an object of the first organization (an outsider's
    request then points at another organization's object)."""
    return re.search(r"\{(?!today\})\w+\}", json.dumps(rule.data)) is not None


def run_matrix(make_url, rule: Rule, api_call: bool, names_object: bool):
    world = World()
    problems = []
    for role in ROLES:
        url = make_url(world)
        ok, said = check(world, rule, role, url, api_call, names_object)
        if not ok:
            problems.append(said)
        if rule.method != "GET" and expected(rule, role, names_object):
            world = World()  # what an allowed change did must not meet the next role
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("key", list(page_cases()))
def test_page(db, key):
    rule = PAGES[key]
    name, _, action = key.partition(":")
    routes = {k: (pattern, n) for k, pattern, n in page_routes()}
    pattern, _url_name = routes[name]
    params = re.findall(r"<(?:\w+:)?(\w+)>", pattern)
    names_object = any(p.endswith("_id") for p in params) or names_in_data(rule)

    def make_url(world: World) -> str:
        def value(m):
            param = m.group(1)
            return action if param == "action" else str(world.value(param))

        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, pattern)

    run_matrix(make_url, rule, api_call=False, names_object=names_object)


@pytest.mark.parametrize("key", api_cases())
def test_api(db, key):
    rule = API[key]
    _method, path = key.split(" ", 1)
    params = re.findall(r"\{(\w+)\}", path)
    names_object = any(p.endswith("_id") for p in params) or names_in_data(rule)

    def make_url(world: World) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: str(world.value(m.group(1))), path)

    run_matrix(make_url, rule, api_call=True, names_object=names_object)


def test_matrix_size():
    """The table's size, for the report: routes checked × roles."""
    pages, operations = list(page_cases()), api_cases()
    print(
        f"role matrix: {len(pages)} pages + {len(operations)} API operations × {len(ROLES)} roles"
    )
    assert (len(pages) + len(operations)) * len(ROLES) > 500


def test_lists_show_agents_only_what_they_may_open(db):
    """The list, like the lookups, leaves out another queue's conversations for an agent."""
    world = World()
    conversation = world.conversation
    for role, shown in ((AGENT, True), (AGENT_OUTSIDE, False), (SUPERVISOR, True)):
        token = world.a.api_token(world.members[role])
        ids = set()
        for tab in ("mine", "queue", "all"):
            response = Client().get(
                "/api/conversations", {"tab": tab}, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200
            ids |= {row["id"] for row in response.json()}
        assert (conversation.pk in ids) is shown, role
        page = Client()
        page.force_login(world.members[role].user)
        listed = page.get("/inbox/", {"tab": "queue"}).content.decode()
        assert (f"/inbox/c/{conversation.pk}/" in listed) is shown, role
