"""The assistant's figures on Insights (issue 20, item 6): answers sent, handoffs by reason,
ratings, and tokens and cost per local day, exactly, on the page and in the API, for those who
supervise; the day before and after the period left out."""

from datetime import date, timedelta
from decimal import Decimal

from conversa.accounts.models import Member, OperationalEvent
from conversa.assistant.models import AssistantOutput, ModelCall
from conversa.engine.models import MessageIntent
from conversa.insights import assistant_figures
from tests.insights.test_figures import END, START, at

Kind, Outcome = AssistantOutput.Kind, AssistantOutput.Outcome
DAY, BEFORE = date(2026, 6, 1), date(2026, 5, 31)


def output(day, when, kind=Kind.REPLY, outcome=Outcome.ANSWERED, sent=True, rating=""):
    intent = None
    if sent:
        intent = MessageIntent.objects.create(
            organization=day.org,
            contact=day.c4.contact,
            conversation=day.c4,
            origin=MessageIntent.Origin.ASSISTANT,
            body="Resposta",
            idempotency_key=f"assistant:{when.isoformat()}:{kind}:{outcome}:{rating}",
        )
    return AssistantOutput.objects.create(
        organization=day.org,
        conversation=day.c4,
        kind=kind,
        outcome=outcome,
        intent=intent,
        rating=rating,
        created_at=when,
    )


def handoff(day, when, reason: str, state: str = "handed_off") -> None:
    OperationalEvent.objects.create(
        organization=day.org,
        verb="assistant.stopped",
        object_type="conversation",
        object_id=day.c4.pk,
        data={"state": state, "reason": reason},
        created_at=when,
    )


def call(day, when, local_day, tokens: int, cost: str | None) -> None:
    ModelCall.objects.create(
        organization=day.org,
        day=local_day,
        purpose="auto_reply",
        model="sim",
        prompt_tokens=tokens - 10,
        completion_tokens=10,
        cost=None if cost is None else Decimal(cost),
        created_at=when,
    )


def assistant_day(day):
    output(day, at(9), rating="good")
    output(day, at(10), outcome=Outcome.DID_NOT_KNOW)  # "I do not know" is an answer sent
    output(day, at(11), outcome=Outcome.HANDED_OFF)  # the words passing to a person are not
    output(day, at(12), kind=Kind.SUGGESTION, sent=False, rating="bad")
    output(day, at(13), kind=Kind.SUMMARY, sent=False, rating="good")
    output(day, at(9, day=BEFORE), rating="bad")  # the day before: not in the period
    for hour, reason in ((11, "The customer asked for a person."), (15, "Business hours began.")):
        handoff(day, at(hour), reason)
    handoff(day, at(16), "The customer asked for a person.")
    handoff(day, at(16, day=BEFORE), "The customer seems unhappy.")
    handoff(day, at(9), "A person replied.", state="taken_over")  # not a handoff
    call(day, at(9), DAY, 1200, "0.0012")
    call(day, at(22), DAY, 800, None)  # a model with no price
    call(day, at(23, day=BEFORE), BEFORE, 5000, "0.5")


def test_each_figure_of_the_day_exactly(day):
    assistant_day(day)
    found = assistant_figures.assistant(day.org, START, END)
    assert found["answers_sent"] == 2
    assert found["handoffs"] == 3
    assert found["handoff_reasons"] == [
        {"reason": "The customer asked for a person.", "count": 2},
        {"reason": "Business hours began.", "count": 1},
    ]
    assert (found["rated"], found["rated_good"], found["good_pct"]) == (3, 2, 66.7)
    assert found["tokens"] == 2000
    assert found["cost"] == Decimal("0.0012")
    assert found["per_day"] == [{"day": DAY, "tokens": 2000, "cost": Decimal("0.0012")}]
    two_days = assistant_figures.assistant(day.org, START - timedelta(days=1), END)
    assert [row["tokens"] for row in two_days["per_day"]] == [5000, 2000]
    assert two_days["cost"] == Decimal("0.5012")


def test_a_quiet_period_says_so_and_agents_do_not_see_the_block(day):
    owner = Member.objects.get(organization=day.org, role=Member.Role.OWNER)
    url = "/insights/?period=custom&start=2026-06-01&end=2026-06-01"
    from django.test import Client

    client = Client()
    client.force_login(owner.user)
    quiet = client.get(url).content.decode()
    assert 'data-block="assistant"' in quiet
    assert "The assistant did not answer or hand off anyone in this period." in quiet
    assistant_day(day)
    page = client.get(url).content.decode()
    assert "Answers sent to customers" in page and "US$ 0.0012" in page
    assert "?kind=reply" in page and "?outcome=handed_off" in page
    answer = client.get("/api/insights?start=2026-06-01&end=2026-06-01").json()
    assert answer["assistant"]["answers_sent"] == 2
    assert answer["assistant"]["per_day"] == [{"day": "2026-06-01", "tokens": 2000, "cost": 0.0012}]
    portuguese = client.get(url, headers={"accept-language": "pt-BR"}).content.decode()
    assert "Respostas enviadas aos clientes" in portuguese
    client.force_login(day.a.user)  # an agent
    assert 'data-block="assistant"' not in client.get(url).content.decode()
    assert client.get("/api/insights?start=2026-06-01&end=2026-06-01").json()["assistant"] is None
