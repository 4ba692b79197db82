"""Run by test_engine_processes: wait for a start time, then create one intent with a key."""

import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")
django.setup()

from conversa.accounts.models import Member  # noqa: E402
from conversa.engine import services  # noqa: E402
from conversa.inbox.models import Conversation  # noqa: E402

conversation_id, member_id, key, start_at = sys.argv[1:5]
conversation = Conversation.objects.get(pk=conversation_id)
member = Member.objects.get(pk=member_id)
time.sleep(max(0.0, float(start_at) - time.time()))
intent, created = services.reply(conversation, "Olá", member, key)
print(intent.pk, int(created))
