"""A campaign's message for one recipient: its free text or its template's values with the
variables filled in from the contact (the CRM's words: {{contact.first_name}}, and a custom
field by its key, {{contact.city}}), and whether any came out blank (that recipient is skipped:
"Olá, !" is worse than no message)."""

from dataclasses import dataclass

from django.utils.translation import gettext

from conversa.campaigns.contacts import check_template
from conversa.crm.models import AutomationStep
from conversa.engine import resend
from conversa.errors import Refused
from conversa.inbox.models import Contact

PLACEHOLDER = AutomationStep.PLACEHOLDER
BUILT_IN = {
    "contact.name": lambda contact, org: contact.name,
    "contact.first_name": lambda contact, org: contact.name.split(" ")[0],
    "contact.phone": lambda contact, org: contact.display_phone,
    "organization.name": lambda contact, org: org.name,
}
MAX_LENGTH = AutomationStep.MAX_LENGTH
CUSTOM_PREFIX = "contact."


@dataclass(frozen=True)
class Rendered:
    body: str  # the text sent, or the template's readable preview
    template: dict | None  # the template with its values filled in
    blank: list[str]  # the variables that came out empty


def fill(text: str, contact: Contact, org) -> tuple[str, list[str]]:
    """`text` with its variables filled in, and the names of those that came out empty."""
    blank: list[str] = []

    def value(match) -> str:
        name = match.group(1)
        read = BUILT_IN.get(name)
        if read is not None:
            filled = str(read(contact, org) or "")
        else:
            filled = str((contact.custom_fields or {}).get(name[len(CUSTOM_PREFIX) :], "") or "")
        if not filled.strip():
            blank.append(name)
        return filled

    return PLACEHOLDER.sub(value, text), blank


def texts(campaign) -> list[str]:
    """The texts of the campaign's message that hold variables."""
    if campaign.template:
        return list(campaign.template.get("variables", []))
    return [campaign.body]


def uses_custom_fields(campaign) -> bool:
    """Whether a variable of the message is a custom field (not a built-in one)."""
    return any(
        match.group(1) not in BUILT_IN
        for text in texts(campaign)
        for match in PLACEHOLDER.finditer(text)
    )


def render(campaign, contact: Contact) -> Rendered:
    """The campaign's message as `contact` would receive it."""
    org = campaign.organization
    if campaign.template:
        values, blank = [], []
        for text in texts(campaign):
            filled, empty = fill(text, contact, org)
            values.append(filled)
            blank += empty
        template = {**campaign.template, "variables": values}
        return Rendered(resend.template_preview(template), template, blank)
    body, blank = fill(campaign.body, contact, org)
    return Rendered(body, None, blank)


def problems(*, body: str, template: dict | None) -> None:
    """Refuse a message that cannot be sent to anyone: none or both of text and template, a
    text too long, a malformed template, a variable that is not a contact's."""
    if bool(body.strip()) == bool(template):
        raise Refused(gettext("Write a message or choose a template (one of them)."), field="body")
    if template:
        check_template(template)
        texts = template.get("variables", [])
    else:
        if len(body) > MAX_LENGTH:
            raise Refused(
                gettext("The message is longer than %(n)s characters.") % {"n": MAX_LENGTH},
                field="body",
            )
        texts = [body]
    unknown = sorted(
        {
            name
            for text in texts
            for name in PLACEHOLDER.findall(text)
            if name not in BUILT_IN and not valid_custom(name)
        }
    )
    if unknown:
        raise Refused(
            gettext("Unknown variable(s): %(unknown)s. Known: %(known)s.")
            % {
                "unknown": ", ".join(f"{{{{{name}}}}}" for name in unknown),
                "known": ", ".join(f"{{{{{name}}}}}" for name in [*BUILT_IN, "contact.<field>"]),
            },
            field="template" if template else "body",
        )


def valid_custom(name: str) -> bool:
    key = name[len(CUSTOM_PREFIX) :]
    return name.startswith(CUSTOM_PREFIX) and 0 < len(key) <= 64 and key.replace("_", "").isalnum()
