"""The demo's newsletter: a campaign run to its end through the real services, with people it
skipped and why, replies and an hourly report (issue 18)."""

from conversa import demo
from conversa.campaigns import progress
from conversa.campaigns.models import Campaign
from conversa.sandbox.models import SandboxMessage


def test_the_demo_has_a_finished_campaign_with_its_report(db):
    org = demo.load_demo().organization
    campaign = Campaign.objects.get(organization=org)
    assert campaign.status == Campaign.Status.FINISHED
    shown = progress.progress(campaign)
    assert (shown.recipients, shown.sent, shown.queued, shown.failed) == (15, 12, 0, 0)
    assert shown.skipped == {"no_consent": 2, "opted_out": 1}
    assert (shown.delivered, shown.read, shown.replied) == (11, 8, 3)
    [hour] = progress.over_time(campaign)
    assert (hour["sent"], hour["delivered"], hour["read"], hour["replied"]) == (12, 11, 8, 3)
    # Each went through the simulator once.
    received = SandboxMessage.objects.filter(from_me=True, text__contains="coleção de verão")
    assert received.count() == 12

    assert demo.load_demo().created is False
    assert Campaign.objects.filter(organization=org).count() == 1
