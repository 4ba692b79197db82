"""Unsubscribe keywords: a customer who writes SAIR (or the organization's own words) stops its
automated and campaign messages, in the transaction that stores their message, and is told so;
VOLTAR brings them back. WhatsApp's own "stop marketing messages" (a Cloud API
`user_preferences` webhook) is honoured the same way.

Matching is on normalized text: case, accents and punctuation do not count ("Sair!" is
"sair"), and either the whole message must be the keyword (the default: "não quero sair
agora" stops nothing) or the keyword's words may appear anywhere in it, together.
"""

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.services import record
from conversa.bulk import fetch, one_of
from conversa.campaigns.consent import EVIDENCE_LIMIT, record_consent
from conversa.campaigns.models import Consent, OptOutKeywords
from conversa.crm.followups import set_opted_out
from conversa.engine import services as engine
from conversa.engine.models import MessageIntent
from conversa.errors import Forbidden, Refused
from conversa.inbox.contacts import find_or_create_contact
from conversa.inbox.models import Contact, Message
from conversa.numbers.models import Number
from conversa.providers.base import PreferenceUpdate

# Bounds of what an organization may configure (a page and the API): enough for any list a
# person writes, and no list that makes every inbound message slow to check.
MAX_KEYWORDS = 30
MAX_KEYWORD_LENGTH = 40
MAX_REPLY_LENGTH = 1000
# Only what a customer types or taps can be a keyword (not a photo's caption or a place name).
KEYWORD_KINDS = ("text", "choice")

NOT_WORD = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Lower case, accents off, punctuation and runs of spaces as one space: "  Não, SAIR!! "
    → "nao sair"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return NOT_WORD.sub(" ", plain.casefold()).strip()


@lru_cache(maxsize=4096)
def normalized_keyword(keyword: str) -> str:
    """`normalize`, remembered: every customer's message is held against the same few words."""
    return normalize(keyword)


def matching(text: str, keywords: Iterable[str], match: str) -> str:
    """The first of `keywords` that `text` matches ("" for none): the whole message, or (with
    `match` ANYWHERE) its words together anywhere in it ("quero sair já" has "sair"; "saira"
    does not)."""
    said = normalize(text)
    if not said:
        return ""
    padded = f" {said} "
    for keyword in keywords:
        wanted = normalized_keyword(keyword)
        if not wanted:
            continue
        if said == wanted:
            return keyword
        if match == OptOutKeywords.Match.ANYWHERE and f" {wanted} " in padded:
            return keyword
    return ""


def settings_for(org_id: int) -> OptOutKeywords:
    """The organization's keywords and replies; the defaults (unsaved) until it saves its own."""
    found = OptOutKeywords.objects.filter(organization_id=org_id).first()
    return found or OptOutKeywords(organization_id=org_id)


def clean_list(words: Iterable[str], field: str) -> list[str]:
    """The keywords as typed, trimmed, without repeats (compared normalized); Refused when
    none is left, one is too long or has no letter or digit, or there are too many."""
    kept, seen = [], set()
    for word in words:
        word = (word or "").strip()
        if not word:
            continue
        if len(word) > MAX_KEYWORD_LENGTH:
            raise Refused(
                gettext("A keyword has at most %(n)s characters.") % {"n": MAX_KEYWORD_LENGTH},
                field=field,
            )
        key = normalize(word)
        if not key:
            raise Refused(
                gettext("“%(word)s” has no letter or digit to match.") % {"word": word},
                field=field,
            )
        if key not in seen:
            seen.add(key)
            kept.append(word)
    if not kept:
        raise Refused(gettext("Give at least one keyword."), field=field)
    if len(kept) > MAX_KEYWORDS:
        raise Refused(
            gettext("At most %(n)s keywords.") % {"n": MAX_KEYWORDS},
            field=field,
        )
    return kept


@transaction.atomic
def update_settings(
    org: Organization,
    *,
    opt_out: list[str],
    opt_in: list[str],
    match: str,
    opt_out_reply: str,
    opt_in_reply: str,
    acting_member: Member,
) -> OptOutKeywords:
    """Save the organization's keywords and confirmations (owners and admins), audited.
    A word in both lists is refused: the same message cannot stop and resume."""
    if not acting_member.administers:
        raise Forbidden(gettext("Only owners and admins change the unsubscribe keywords."))
    out_words = clean_list(opt_out, "opt_out")
    in_words = clean_list(opt_in, "opt_in")
    both = {normalize(w) for w in out_words} & {normalize(w) for w in in_words}
    if both:
        raise Refused(
            gettext("“%(word)s” cannot both stop and resume messages.") % {"word": sorted(both)[0]},
            field="opt_in",
        )
    if match not in OptOutKeywords.Match.values:
        raise Refused(gettext("Choose how keywords are matched."), field="match")
    for field, reply in (("opt_out_reply", opt_out_reply), ("opt_in_reply", opt_in_reply)):
        if len(reply) > MAX_REPLY_LENGTH:
            raise Refused(
                gettext("A confirmation has at most %(n)s characters.") % {"n": MAX_REPLY_LENGTH},
                field=field,
            )
    keywords, _created = OptOutKeywords.objects.select_for_update().get_or_create(organization=org)
    keywords.opt_out, keywords.opt_in, keywords.match = out_words, in_words, match
    keywords.opt_out_reply, keywords.opt_in_reply = opt_out_reply.strip(), opt_in_reply.strip()
    keywords.updated_at = timezone.now()
    keywords.save()
    record(org.pk, "keywords.updated", org, actor=acting_member, opt_out=out_words, opt_in=in_words)
    return keywords


def customer_wrote(messages: list[Message]) -> set[int]:
    """A consequence of customers' messages (inbound.consequences.customer_wrote), in their
    transaction: each message that is an opt-out keyword opts its contact out; one that is an
    opt-in keyword, from someone opted out, opts them back in. One query per batch when no
    message is a keyword. Returns the ids of the messages that were keywords (answered here)."""
    typed = [m for m in messages if m.kind in KEYWORD_KINDS and m.body]
    if not typed:
        return set()
    answered = set()
    org_ids = {m.organization_id for m in typed}
    among, ids = one_of(org_ids)
    table = connection.ops.quote_name(OptOutKeywords._meta.db_table)
    # Whose, in a statement written out: every batch of webhooks asks, and most organizations
    # keep the default words (see `bulk.one_of`); the ORM reads those there are.
    found = fetch(f"SELECT id FROM {table} WHERE organization_id {among}", [ids])  # noqa: S608
    saved = {}
    if found:
        saved = {
            k.organization_id: k
            for k in OptOutKeywords.objects.filter(pk__in=[pk for (pk,) in found])
        }
    for message in typed:
        keywords = saved.get(message.organization_id) or OptOutKeywords(
            organization_id=message.organization_id
        )
        if word := matching(message.body, keywords.opt_out, keywords.match):
            keyword_opt_out(message, word, keywords)
            answered.add(message.pk)
        elif word := matching(message.body, keywords.opt_in, keywords.match):
            keyword_opt_in(message, word, keywords)
            answered.add(message.pk)
    return answered


def keyword_opt_out(message: Message, word: str, keywords: OptOutKeywords) -> None:
    """The customer asked to stop: opted out (their queued automated and campaign messages
    cancelled), their marketing consent withdrawn with their words as the evidence, and the
    confirmation sent (again, if they ask again: they want to know it worked)."""
    contact = message.conversation.contact
    withdraw(
        contact, reason=f"keyword: {word}", channel=Consent.Channel.KEYWORD, evidence=message.body
    )
    confirm(message, keywords.opt_out_reply)


def keyword_opt_in(message: Message, word: str, keywords: OptOutKeywords) -> None:
    """The customer asked to hear from the organization again: opted back in and told so.
    Marketing consent is not granted by this: a campaign needs its own recorded consent."""
    contact = message.conversation.contact
    if set_opted_out(contact, False, reason=f"keyword: {word}"):
        confirm(message, keywords.opt_in_reply)


def withdraw(contact: Contact, *, reason: str, channel: str, evidence: str) -> None:
    """Opt the contact out (audited with `reason`) and, if they had agreed to marketing,
    record the withdrawal."""
    set_opted_out(contact, True, reason=reason)
    contact.refresh_from_db(fields=["marketing_consent"])
    if contact.marketing_consent:
        record_consent(contact, granted=False, channel=channel, evidence=evidence[:EVIDENCE_LIMIT])


def confirm(message: Message, body: str) -> None:
    """The organization's confirmation, as an answer in the customer's conversation, through
    the one send path. Keyed on their message: a webhook delivered again stores nothing new
    and reaches none of this, and even a second call would make no second send."""
    if not body:
        return
    conversation = message.conversation
    engine.create_intent(
        Organization.objects.get(pk=message.organization_id),
        contact=conversation.contact,
        body=body,
        origin=MessageIntent.Origin.CONFIRMATION,
        idempotency_key=f"keyword-reply:{message.pk}",
        conversation=conversation,
    )


def preference_changed(number: Number, event: PreferenceUpdate) -> None:
    """WhatsApp told us the customer stopped (or resumed) the business's marketing messages
    from the app: as a keyword would, but with no confirmation (WhatsApp showed them one)."""
    contact, _created = find_or_create_contact(
        number.organization, phone=event.phone, user_id=event.user_id
    )
    evidence = event.detail or f"WhatsApp marketing preference: {event.preference}"
    if event.preference == PreferenceUpdate.STOP:
        withdraw(
            contact,
            reason="whatsapp: stop marketing",
            channel=Consent.Channel.CLOUD_PREFERENCE,
            evidence=evidence,
        )
    else:
        set_opted_out(contact, False, reason="whatsapp: resume marketing")
