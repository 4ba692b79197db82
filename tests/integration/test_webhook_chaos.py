"""Outbound webhooks under chaos (issue 21, item 3): three workers, the oldest killed with
SIGKILL as soon as it has claimed deliveries, a receiver that fails 20% of requests and lets 5%
time out, and every event is still taken at least once, in order per conversation, none lost,
each request's signature verified by the `standardwebhooks` library (PostgreSQL: several
processes claiming at once)."""

import pytest
from django.db import connection

from bench import webhook_chaos


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="several writing processes: PostgreSQL only"
)
def test_killed_workers_and_a_failing_receiver_lose_no_event_and_keep_their_order(
    transactional_db,
):
    figures = webhook_chaos.run(events=200, conversations=20, workers=3, max_kills=8, timeout=600)
    assert figures["events"] == 200
    assert figures["workers_killed"] >= 3, figures
    assert figures["lost"] == 0, figures
    assert figures["delivered"] == 200, figures
    assert figures["out_of_order"] == 0, figures
    assert figures["taken_but_not_sent"] == 0, figures
    assert figures["signatures_failed"] == 0, figures
    assert figures["signatures_verified"] + figures["cut_off"] == figures["attempts"], figures
    # The receiver failed some, so some were sent more than once: the retries were exercised.
    assert figures["attempts"] > figures["events"], figures


def test_the_tally_finds_a_lost_event_and_one_taken_out_of_order():
    made = [("a", 1, "delivered"), ("b", 1, "delivered"), ("c", 2, "pending")]
    figures = webhook_chaos.tally(made, ["b", "a", "a"])
    assert figures["lost"] == 1
    assert figures["out_of_order"] == 1
    assert figures["duplicates_seen"] == 1
    assert figures["delivered"] == 2
