"""Run by test_webhook_claims: wait for the word to go, then claim webhook deliveries in small
batches until none is left, and print the ids this process got."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")
django.setup()

from conversa.webhooks import sending  # noqa: E402

worker = sys.argv[1]
print("ready", flush=True)
sys.stdin.readline()  # the test's word to go, once every racing process is ready
got: list[int] = []
while batch := sending.claim_due(worker, 7):
    got.extend(batch)
print(" ".join(map(str, got)))
