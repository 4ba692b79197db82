"""The audit timeline as people read it: from where an action came, what each verb means in
words a business user knows, and its cells made safe for a spreadsheet.

"From where": the organization middleware puts the request's client address and browser in
`origin` for the request's duration, and every timeline entry written meanwhile
(`accounts.services.event`) carries them. The client address is REMOTE_ADDR, or the nearest
X-Forwarded-For address not itself a trusted proxy when REMOTE_ADDR is one (TRUSTED_PROXIES:
addresses or networks, comma-separated; empty: X-Forwarded-For is never read, since anyone can
send it).
"""

import ipaddress
import json
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from conversa import spreadsheets


@dataclass(frozen=True)
class Origin:
    ip_address: str | None
    user_agent: str
    # The API token the request came with, by name (set once it is authenticated), so that
    # what it asked for can say "by the API token “CRM sync”".
    api_token: str = ""


def through_token(name: str) -> None:
    """Mark the current request as made with the API token `name`."""
    current = origin.get()
    if current is not None:
        origin.set(replace(current, api_token=name))


origin: ContextVar[Origin | None] = ContextVar("audit_origin", default=None)


@cache
def trusted_networks() -> tuple:
    try:
        return tuple(ipaddress.ip_network(p, strict=False) for p in settings.TRUSTED_PROXIES)
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from exc


def parsed_ip(value: str):
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def trusted(address) -> bool:
    return any(address in network for network in trusted_networks())


def client_ip(request) -> str | None:
    """The address the request came from (see the module's docstring)."""
    address = parsed_ip(request.META.get("REMOTE_ADDR", ""))
    if address is None:
        return None
    if trusted_networks() and trusted(address):
        hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-20:]
        # Right to left: each proxy appends the address it received from; the first one that
        # is not our own proxy is the client as far as anyone trusted can tell.
        for hop in reversed(hops):
            candidate = parsed_ip(hop)
            if candidate is None:
                break
            address = candidate
            if not trusted(candidate):
                break
    return str(address)


def origin_of(request) -> Origin:
    return Origin(client_ip(request), request.META.get("HTTP_USER_AGENT", "")[:300])


# What each verb means, in words. A verb missing here is shown as it is written.
VERBS = {
    "organization.created": _("Created the organization"),
    "organization.settings_changed": _("Changed the organization's settings"),
    "member.invited": _("Invited someone to the team"),
    "member.invitation_resent": _("Sent an invitation again"),
    "member.invitation_revoked": _("Withdrew an invitation"),
    "member.joined": _("Joined the team"),
    "member.left": _("Left the team"),
    "member.role_changed": _("Changed a member's role"),
    "member.deactivated": _("Deactivated a member"),
    "member.reactivated": _("Reactivated a member"),
    "member.password_changed": _("Changed their password"),
    "member.profile_changed": _("Changed their profile"),
    "member.preferences": _("Changed their notification preferences"),
    "member.availability": _("Changed their availability"),
    "api_token.created": _("Created an API token"),
    "api_token.revoked": _("Revoked an API token"),
    "number.settings_changed": _("Changed a number's settings"),
    "organization.sending_paused": _("Paused all sending"),
    "organization.sending_resumed": _("Resumed sending"),
    "number.paused": _("Paused a number"),
    "number.resumed": _("Resumed a number"),
    "member.signed_in": _("Signed in"),
    "member.sign_in_failed": _("Failed sign-in (wrong password)"),
    "member.second_factor_failed": _("Failed sign-in (wrong verification code)"),
    "member.signed_in_with_recovery_code": _("Signed in with a recovery code"),
    "mfa.enrolled": _("Turned on two-step verification"),
    "mfa.disabled": _("Turned off two-step verification"),
    "mfa.recovery_codes_regenerated": _("Made new recovery codes"),
    "organization.mfa_requirement_changed": _("Changed the two-step verification requirement"),
    "organization.business_hours_changed": _("Changed the business hours"),
    "organization.read_receipts_changed": _("Changed read receipts"),
    "audit.exported": _("Exported the audit log"),
    "export.requested": _("Asked for an export"),
    "member.capacity_changed": _("Changed an operator's capacity"),
    "conversation.assigned": _("Assigned a conversation"),
    "conversation.released": _("Released a conversation"),
    "conversation.transferred": _("Transferred a conversation"),
    "conversation.resolved": _("Resolved a conversation"),
    "conversation.rated": _("A customer rated a conversation"),
    "organization.survey_changed": _("Changed the satisfaction survey"),
    "queue.survey_changed": _("Changed a queue's satisfaction survey"),
    "conversation.reopened": _("Reopened a conversation"),
    "conversation.pending": _("Marked a conversation pending"),
    "conversation.snoozed": _("Snoozed a conversation"),
    "conversation.woken": _("A snoozed conversation woke up"),
    "conversation.tagged": _("Tagged a conversation"),
    "conversation.untagged": _("Removed a tag from a conversation"),
    "conversation.note_added": _("Added a note"),
    "conversation.priority_changed": _("Changed a conversation's priority"),
    "conversation.number_changed": _("Moved a conversation to another number"),
    "conversation.contact_merged": _("Merged a contact into a conversation"),
    "contact.tagged": _("Tagged a contact"),
    "contact.untagged": _("Removed a tag from a contact"),
    "contact.opted_out": _("A contact opted out"),
    "contact.opted_in": _("A contact opted back in"),
    "contact.edited": _("Changed a contact's name or fields"),
    "contact.blocked": _("Blocked a contact"),
    "contact.unblocked": _("Unblocked a contact"),
    "contact.merged_by_member": _("Merged a contact into another, giving a reason"),
    "consent.granted": _("Recorded a contact's consent to marketing messages"),
    "consent.withdrawn": _("Recorded that a contact withdrew consent to marketing messages"),
    "consent.imported": _("Recorded contacts' marketing consent from an imported file"),
    "contact.merged": _("Merged two contacts"),
    "contact.exported": _("Exported a contact's data"),
    "campaign.exported": _("Exported a campaign's recipients"),
    "campaign.created": _("Created a campaign"),
    "campaign.changed": _("Changed a campaign"),
    "campaign.started": _("Started a campaign"),
    "campaign.paused": _("Paused a campaign"),
    "campaign.resumed": _("Resumed a campaign"),
    "campaign.cancelled": _("Cancelled a campaign"),
    "campaign.finished": _("A campaign finished sending"),
    "contact.erased": _("Erased a contact's personal data"),
    "organization.retention_changed": _("Changed how long messages are kept"),
    "retention.applied": _("Deleted old messages' texts and files (retention)"),
    "keywords.updated": _("Changed the unsubscribe keywords"),
    "assistant.settings_changed": _("Changed the assistant's AI model settings"),
    "segment.created": _("Created a segment"),
    "segment.changed": _("Changed a segment"),
    "segment.deleted": _("Deleted a segment"),
    "contact.number_changed": _("A contact changed their number"),
    "message.deleted": _("A message was deleted"),
    "tag.created": _("Created a tag"),
    "tag.deleted": _("Deleted a tag"),
    "queue.created": _("Created a queue"),
    "queue.changed": _("Changed a queue"),
    "queue.deleted": _("Deleted a queue"),
    "queue.sla_changed": _("Changed a queue's response targets"),
    "pipeline.created": _("Created a pipeline"),
    "pipeline.fields_changed": _("Changed a pipeline's fields"),
    "stage.changed": _("Changed a stage"),
    "stage.moved": _("Reordered a stage"),
    "stage.deleted": _("Deleted a stage"),
    "lead.created": _("Created a lead"),
    "lead.updated": _("Changed a lead"),
    "lead.moved": _("Moved a lead to another stage"),
    "automation.created": _("Created an automation"),
    "automation.changed": _("Changed an automation"),
    "automation.deleted": _("Deleted an automation"),
    "automation.paused": _("Paused an automation"),
    "automation.resumed": _("Resumed an automation"),
    "followup.cancelled": _("A follow-up was cancelled"),
    "followup.duplicate_blocked": _("A duplicate follow-up was stopped"),
    "followups.dispatched": _("Follow-ups were scheduled"),
    "intent.created": _("A message was queued to send"),
    "job.sent": _("A message was sent"),
    "job.retry_wait": _("A send will be retried"),
    "job.requeued": _("A send was queued again"),
    "job.resend": _("Asked to resend a message"),
    "job.cancelled": _("Cancelled a send"),
    "job.uncertain": _("A send's outcome is uncertain"),
    "gate.allow": _("Sending rules allowed a message"),
    "gate.defer": _("Sending rules delayed a message"),
    "gate.block": _("Sending rules blocked a message"),
    "knowledge.created": _("Added to the assistant's knowledge"),
    "knowledge.changed": _("Changed the assistant's knowledge"),
    "knowledge.enabled": _("Turned on a source of the assistant's knowledge"),
    "knowledge.disabled": _("Turned off a source of the assistant's knowledge"),
    "knowledge.deleted": _("Deleted a source of the assistant's knowledge"),
    "persona.created": _("Created an assistant persona"),
    "persona.changed": _("Changed an assistant persona"),
    "persona.activated": _("Turned on an assistant persona"),
    "persona.deactivated": _("Turned off an assistant persona"),
    "persona.deleted": _("Deleted an assistant persona"),
    "assistant.auto_reply_set": _("Set the assistant's automatic replies"),
    "assistant.auto_reply_removed": _("Removed the assistant's automatic replies"),
    "assistant.stopped": _("Stopped the assistant in a conversation"),
    "assistant.resumed": _("Turned the assistant back on in a conversation"),
    "assistant.summaries_changed": _("Changed when the assistant writes summaries"),
    "webhook_endpoint.created": _("Added a webhook endpoint"),
    "webhook_endpoint.changed": _("Changed a webhook endpoint"),
    "webhook_endpoint.enabled": _("Turned on a webhook endpoint"),
    "webhook_endpoint.disabled": _("Turned off a webhook endpoint"),
    "webhook_endpoint.rotated": _("Rotated a webhook endpoint's secret"),
    "webhook_endpoint.deleted": _("Deleted a webhook endpoint"),
    "webhook_endpoint.tested": _("Sent a test event to a webhook endpoint"),
    "webhook_endpoint.replayed": _("Sent webhook deliveries again"),
}

OBJECT_TYPES = {
    "member": _("Member"),
    "organization": _("Organization"),
    "conversation": _("Conversation"),
    "contact": _("Contact"),
    "message": _("Message"),
    "messageintent": _("Message to send"),
    "executionjob": _("Send"),
    "number": _("Number"),
    "tag": _("Tag"),
    "queue": _("Queue"),
    "pipeline": _("Pipeline"),
    "stage": _("Stage"),
    "lead": _("Lead"),
    "automation": _("Automation"),
    "followup": _("Follow-up"),
    "apitoken": _("API token"),
    "segment": _("Segment"),
    "knowledgesource": _("Knowledge source"),
    "persona": _("Assistant persona"),
    "autoreply": _("Automatic replies"),
    "export": _("Export"),
    "endpoint": _("Webhook endpoint"),
}


# Who acted, when no person did: the labels the code records (`label=`), in words.
ACTORS = {
    "system": _("Conversa"),
    "worker": _("Conversa (sending)"),
    "gate": _("Sending rules"),
    "provider": _("WhatsApp"),
    "presence": _("Conversa (availability)"),
    "snooze": _("Conversa (snooze ended)"),
    "distribution": _("Conversa (distribution)"),
    "customer": _("The customer"),
    "phone": _("The business phone"),
    "sign-in": _("Sign-in"),
    "retention": _("Conversa (retention)"),
    "assistant": _("The assistant"),
    "automation": _("Conversa (automation)"),
}


def actor_text(event) -> str:
    """Who did it: the person's name as it was recorded, or what acted, in words."""
    if event.actor_id:
        return event.actor_label
    return str(ACTORS.get(event.actor_label, event.actor_label))


def verb_text(verb: str) -> str:
    """What `verb` means in the current language; an unknown verb as it is written."""
    return str(VERBS.get(verb, verb))


def object_text(object_type: str) -> str:
    return str(OBJECT_TYPES.get(object_type, object_type))


def safe_cell(value) -> str:
    """A CSV cell a spreadsheet shows as text (`spreadsheets.safe_cell`), None as empty."""
    return spreadsheets.safe_cell("" if value is None else str(value))


# The timeline's columns in an export, with what each holds in words.
EXPORT_COLUMNS = {
    "when": _("When"),
    "who": _("Who"),
    "action": _("Action"),
    "verb": _("Action code"),
    "object": _("Object"),
    "object_id": _("Object id"),
    "ip_address": _("IP address"),
    "browser": _("Browser"),
    "details": _("Details"),
}
# What export_cells reads of an event (the export's query asks for these only).
EXPORT_FIELDS = (
    "created_at",
    "actor_label",
    "verb",
    "object_type",
    "object_id",
    "ip_address",
    "user_agent",
    "data",
)


def export_cells(created_at, actor_label, verb, object_type, object_id, ip, agent, data) -> list:
    """A timeline entry as an export's row (EXPORT_COLUMNS), from its EXPORT_FIELDS: the audit
    page's CSV and the background export write the same cells."""
    return [
        created_at,
        actor_label,
        verb_text(verb),
        verb,
        object_text(object_type),
        object_id,
        ip or "",
        agent,
        json.dumps(data, ensure_ascii=False, sort_keys=True, default=str),
    ]
