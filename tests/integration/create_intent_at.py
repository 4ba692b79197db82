"""Run by test_engine_processes: wait for the word to go, then create one intent with a key."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")
django.setup()

from conversa.accounts.models import Member  # noqa: E402
from conversa.engine import services  # noqa: E402
from conversa.inbox.models import Conversation  # noqa: E402

conversation_id, member_id, key = sys.argv[1:4]
conversation = Conversation.objects.get(pk=conversation_id)
member = Member.objects.get(pk=member_id)
print("ready", flush=True)
sys.stdin.readline()  # the test's word to go, once every racing process is ready
intent, created = services.reply(conversation, "Olá", key, acting_member=member)
print(intent.pk, int(created))
