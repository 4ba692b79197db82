"""Run by test_followups: wait for the word to go, then do one thing as its own process.

move <lead id> <stage id> <member id>   services.move_lead (prints the change id or "noop")
button <org id> <member id>             automations.dispatch_now (the button's path)
internal <org slug>                     POST /api/internal/follow-ups/dispatch
"""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")
django.setup()

from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from conversa.accounts.models import Member, Organization  # noqa: E402
from conversa.crm import automations, services  # noqa: E402
from conversa.crm.models import Lead, Stage  # noqa: E402


def ready_then_wait() -> None:
    print("ready", flush=True)
    sys.stdin.readline()  # the test's word to go, once every racing process is ready


action, *args = sys.argv[1:]
if action == "move":
    lead = Lead.objects.get(pk=args[0])
    stage, member = Stage.objects.get(pk=args[1]), Member.objects.get(pk=args[2])
    ready_then_wait()
    change = services.move_lead(lead, stage, acting_member=member)
    print(change.pk if change else "noop")
elif action == "button":
    org, member = Organization.objects.get(pk=args[0]), Member.objects.get(pk=args[1])
    ready_then_wait()
    print(automations.dispatch_now(org, acting_member=member)["made_runnable"])
elif action == "internal":
    setup_test_environment()
    client = Client()
    ready_then_wait()
    response = client.post(
        "/api/internal/follow-ups/dispatch",
        data={"organization": args[0]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {os.environ['CONVERSA_INTERNAL_TOKEN']}"},
    )
    assert response.status_code == 200, response.content
    print(response.json()["made_runnable"])
