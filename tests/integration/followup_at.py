"""Run by test_followups: wait for a start time, then do one thing as its own process.

move <lead id> <stage id> <member id> <start>   services.move_lead (prints the change id or "noop")
button <org id> <member id> <start>             services.dispatch_now (the button's path)
internal <org slug> <start>                     POST /api/internal/follow-ups/dispatch
"""

import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")
django.setup()

from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from conversa.accounts.models import Member, Organization  # noqa: E402
from conversa.crm import services  # noqa: E402
from conversa.crm.models import Lead, Stage  # noqa: E402

action, *args = sys.argv[1:]
start_at = float(args[-1])
if action == "move":
    lead = Lead.objects.get(pk=args[0])
    stage, member = Stage.objects.get(pk=args[1]), Member.objects.get(pk=args[2])
    time.sleep(max(0.0, start_at - time.time()))
    change = services.move_lead(lead, stage, member)
    print(change.pk if change else "noop")
elif action == "button":
    org, member = Organization.objects.get(pk=args[0]), Member.objects.get(pk=args[1])
    time.sleep(max(0.0, start_at - time.time()))
    print(services.dispatch_now(org, by=member)["made_runnable"])
elif action == "internal":
    setup_test_environment()
    client = Client()
    time.sleep(max(0.0, start_at - time.time()))
    response = client.post(
        "/api/internal/follow-ups/dispatch",
        data={"organization": args[0]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {os.environ['CONVERSA_INTERNAL_TOKEN']}"},
    )
    assert response.status_code == 200, response.content
    print(response.json()["made_runnable"])
