"""Run by test_claim_race: wait for a start time, then claim one conversation as one member."""

import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")
django.setup()

from conversa.accounts.models import Member  # noqa: E402
from conversa.inbox import assignment  # noqa: E402
from conversa.inbox.models import Conversation  # noqa: E402

conversation_id, member_id, start_at = sys.argv[1:4]
conversation = Conversation.objects.get(pk=conversation_id)
member = Member.objects.get(pk=member_id)
time.sleep(max(0.0, float(start_at) - time.time()))
try:
    assignment.claim(conversation, member)
except assignment.OwnershipRefused as refused:
    print("refused", refused.holder.pk)
else:
    print("won", member.pk)
