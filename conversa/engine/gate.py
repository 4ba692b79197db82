"""The Gate: the one place that decides whether an intent may leave now.

`decide` is a pure function of the intent's origin and a snapshot of facts, so every rule is
testable without a database. `gather_facts` takes the snapshot; `record` stores the verdict.
Later checks (quotas, quiet hours, the 24-hour window) are new functions in `CHECKS`.
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.utils.translation import gettext_noop

from conversa.engine.models import GateDecision, MessageIntent

ALLOW = GateDecision.Verdict.ALLOW
DEFER = GateDecision.Verdict.DEFER
BLOCK = GateDecision.Verdict.BLOCK

# How long a DEFER waits before the Gate looks again when the fact has no end time of its own.
RECHECK = timedelta(seconds=30)

UNSOLICITED_ORIGINS = {MessageIntent.Origin.AUTOMATION, MessageIntent.Origin.CAMPAIGN}


@dataclass(frozen=True)
class Facts:
    now: datetime
    sending_paused: bool
    instance_status: str
    instance_paused: bool
    instance_cooldown_until: datetime | None
    contact_blocked: bool
    contact_opted_out: bool


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reason_code: str = ""
    reason: str = ""
    defer_until: datetime | None = None


def check_kill_switch(origin: str, facts: Facts) -> Verdict | None:
    if facts.sending_paused:
        return Verdict(
            DEFER,
            "org_paused",
            gettext_noop("Sending is paused for the organization"),
            facts.now + RECHECK,
        )
    return None


def check_contact(origin: str, facts: Facts) -> Verdict | None:
    if facts.contact_blocked:
        return Verdict(BLOCK, "contact_blocked", gettext_noop("The contact is blocked"))
    if facts.contact_opted_out and origin in UNSOLICITED_ORIGINS:
        return Verdict(
            BLOCK,
            "contact_opted_out",
            gettext_noop("The contact opted out of automated and campaign messages"),
        )
    return None


def check_instance(origin: str, facts: Facts) -> Verdict | None:
    if facts.instance_paused:
        return Verdict(
            DEFER, "instance_paused", gettext_noop("The number is paused"), facts.now + RECHECK
        )
    if facts.instance_status != "connected":
        return Verdict(
            DEFER,
            "instance_not_connected",
            gettext_noop("The number is not connected"),
            facts.now + RECHECK,
        )
    if facts.instance_cooldown_until and facts.instance_cooldown_until > facts.now:
        return Verdict(
            DEFER,
            "instance_cooldown",
            gettext_noop("The number is cooling down"),
            facts.instance_cooldown_until,
        )
    return None


# Blocking facts first: a blocked contact must be refused, not deferred while a number is down.
CHECKS = [check_contact, check_kill_switch, check_instance]


def decide(origin: str, facts: Facts) -> Verdict:
    for check in CHECKS:
        verdict = check(origin, facts)
        if verdict is not None:
            return verdict
    return Verdict(ALLOW, "ok", gettext_noop("All checks passed"))


def gather_facts(intent: MessageIntent, now: datetime) -> Facts:
    instance = intent.instance
    org = intent.organization
    return Facts(
        now=now,
        sending_paused=org.sending_paused,
        instance_status=instance.status,
        instance_paused=instance.paused,
        instance_cooldown_until=instance.cooldown_until,
        contact_blocked=intent.contact.blocked,
        contact_opted_out=intent.contact.opted_out,
    )


def evaluate(intent: MessageIntent, now: datetime) -> GateDecision:
    """Decide on `intent` with fresh facts and store the decision (invariant 6)."""
    facts = gather_facts(intent, now)
    verdict = decide(intent.origin, facts)
    return GateDecision.objects.create(
        organization_id=intent.organization_id,
        intent=intent,
        verdict=verdict.verdict,
        reason_code=verdict.reason_code,
        reason=verdict.reason,
        defer_until=verdict.defer_until,
        facts={
            k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(facts).items()
        },
    )
