"""Run by test_claim_race: wait for the word to go, then claim one conversation as one member."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")
django.setup()

from conversa.accounts.models import Member  # noqa: E402
from conversa.errors import Conflict  # noqa: E402
from conversa.inbox import ownership  # noqa: E402
from conversa.inbox.models import Conversation  # noqa: E402

conversation_id, member_id = sys.argv[1:3]
conversation = Conversation.objects.get(pk=conversation_id)
member = Member.objects.get(pk=member_id)
print("ready", flush=True)
sys.stdin.readline()  # the test's word to go, once every racing process is ready
try:
    ownership.claim(conversation, acting_member=member)
except Conflict as refused:
    print("refused", refused.holder.pk)
else:
    print("won", member.pk)
