"""The board, lists and lead pages of every open browser hear of leads' changes: ids only,
after commit."""

from conversa.crm import services
from tests.crm.helpers import automation, lead, pipeline, stage


def test_a_move_and_its_follow_ups_are_announced_with_ids_only(
    org, published_events, django_capture_on_commit_callbacks
):
    p = pipeline(org)
    automation(org, stage(p, "Proposta"))
    the_lead = lead(org, p)
    lead_updated = {"type": "LEAD_UPDATED", "lead_ids": [the_lead.pk], "change": "stage_changed"}
    followups_updated = {"type": "FOLLOWUPS_UPDATED", "lead_ids": [the_lead.pk]}
    with django_capture_on_commit_callbacks(execute=True):
        services.move_lead(the_lead, stage(p, "Proposta"), acting_member=org.owner)
    assert (org.org.pk, lead_updated) in published_events
    assert (org.org.pk, followups_updated) in published_events

    published_events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.move_lead(the_lead, stage(p, "Novo"), acting_member=org.owner)
    # Leaving the stage cancels its pending steps: announced too.
    assert (org.org.pk, followups_updated) in published_events

    published_events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.move_lead(the_lead, stage(p, "Novo"), acting_member=org.owner)
    assert published_events == [], "a move to the same stage changes nothing"
