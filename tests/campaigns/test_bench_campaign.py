"""`conversa bench campaign` at a small size: its figures, and none of the messages it sends
goes twice or to someone who may not receive it (issue 18)."""

import pytest

from bench import campaign


@pytest.mark.django_db(transaction=True)
def test_the_campaign_bench_sends_once_and_only_to_those_who_may_receive_it():
    figures = campaign.run(recipients=300, workers=1, batch_size=50, opt_outs=20, compare=False)
    assert {
        "recipients",
        "intents_seconds",
        "sent_per_second",
        "dispatch_sent_per_second",
        "duplicates",
        "sent_to_ineligible",
        "peak_rss_mb",
        "skipped",
    } <= figures.keys()
    assert figures["recipients"] == 300
    assert figures["duplicates"] == 0
    assert figures["sent_to_ineligible"] == 0
    assert figures["opted_out_mid_run"] == 20
    assert set(figures["skipped"]) >= {"no_consent", "opted_out", "blocked", "outside_window"}
    assert figures["sent"] + figures["skipped"]["opted_out"] >= figures["queued_at_start"]
