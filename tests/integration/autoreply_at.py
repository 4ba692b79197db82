"""Run by test_autoreply_processes: wait for the word to go, then either answer the assistant's
due conversations as a worker would (`worker`), or reply as an operator in the conversations
named (`agent <member id> <conversation id>…`)."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")
django.setup()

from conversa.accounts.models import Member  # noqa: E402
from conversa.assistant import autoreply  # noqa: E402
from conversa.engine import services as engine  # noqa: E402
from conversa.inbox.models import Conversation  # noqa: E402

role, *ids = sys.argv[1:]
print("ready", flush=True)
sys.stdin.readline()  # the test's word to go, once every racing process is ready
if role == "worker":
    taken, idle = 0, 0
    # Until two passes in a row find nothing due: what another worker holds is its own.
    while idle < 2:
        found = autoreply.run_due(2)
        taken += found
        idle = 0 if found else idle + 1
    print("took", taken)
else:
    member = Member.objects.get(pk=ids[0])
    for conversation in Conversation.objects.filter(pk__in=ids[1:]):
        engine.reply(conversation, "Oi, aqui é a Ana.", acting_member=member)
    print("replied", len(ids) - 1)
