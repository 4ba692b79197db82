"""Run by test_contact_identity_race: wait for the word to go, then store one customer message
whose sender is named by the identifiers given (phone, linked id, username id; "-" for none)."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")
django.setup()

from django.db import transaction  # noqa: E402

from conversa.inbound import consequences  # noqa: E402
from conversa.numbers.models import Number  # noqa: E402
from conversa.providers.base import InboundMessage  # noqa: E402

number_id, message_id, phone, lid, user_id = sys.argv[1:6]
number = Number.objects.select_related("organization").get(pk=number_id)
event = InboundMessage(
    provider_message_id=message_id,
    phone=phone.strip("-"),
    lid=lid.strip("-"),
    user_id=user_id.strip("-"),
    name="Cliente",
    kind="text",
    body=f"message {message_id}",
)
print("ready", flush=True)
sys.stdin.readline()  # the test's word to go, once every racing process is ready
with transaction.atomic():
    message = consequences.receive_message(number, event)
print(message.conversation.contact_id)
