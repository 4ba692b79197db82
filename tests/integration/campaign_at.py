"""Run by test_campaign_processes: wait for the word to go, then do one thing as its own process.

start <campaign id> <member id>   sending.start (prints how many it queued, or "refused")
pass                              sending.run_due, the worker's campaign pass (prints how many
                                  recipients it added)
"""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")
django.setup()

from conversa.accounts.models import Member  # noqa: E402
from conversa.campaigns import audience, sending  # noqa: E402
from conversa.campaigns.models import Campaign  # noqa: E402
from conversa.errors import Refused  # noqa: E402


def ready_then_wait() -> None:
    print("ready", flush=True)
    sys.stdin.readline()  # the test's word to go, once every racing process is ready


# Chunks of a few people: the race crosses many chunks, written by several threads at once.
audience.CHUNK = 7

action, *args = sys.argv[1:]
if action == "start":
    campaign = Campaign.objects.select_related("organization").get(pk=args[0])
    member = Member.objects.get(pk=args[1])
    ready_then_wait()
    try:
        print(sending.start(campaign, acting_member=member).get("queued", 0))
    except Refused:
        print("refused")
elif action == "pass":
    ready_then_wait()
    print(sending.run_due())
