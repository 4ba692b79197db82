"""The board, lists and lead pages of every open browser hear of leads' changes: ids only,
after commit."""

from conversa.crm import services
from conversa.realtime import publisher
from tests.crm.helpers import automation, lead, pipeline, stage


def published(callbacks) -> list[dict]:
    sent = []
    original = publisher._send
    publisher._send = lambda org_id, payload: sent.append(payload)
    try:
        for callback in callbacks:
            callback()
    finally:
        publisher._send = original
    return sent


def test_a_move_and_its_follow_ups_are_announced_with_ids_only(
    org, django_capture_on_commit_callbacks
):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    the_lead = lead(org, p)
    with django_capture_on_commit_callbacks() as callbacks:
        services.move_lead(the_lead, stage(p, "Proposta"), org.owner)
    sent = published(callbacks)
    assert {"type": publisher.LEAD_UPDATED, "lead_id": the_lead.pk} in sent
    assert {"type": publisher.FOLLOWUPS_UPDATED, "lead_id": the_lead.pk} in sent

    with django_capture_on_commit_callbacks() as callbacks:
        services.move_lead(the_lead, stage(p, "Novo"), org.owner)
    # Leaving the stage cancels its pending steps: announced too.
    assert {"type": publisher.FOLLOWUPS_UPDATED, "lead_id": the_lead.pk} in published(callbacks)

    with django_capture_on_commit_callbacks() as callbacks:
        services.move_lead(the_lead, stage(p, "Novo"), org.owner)
    assert published(callbacks) == [], "a move to the same stage changes nothing"
