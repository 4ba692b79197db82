"""Bulk setup shared by the benchmarks and the engine's process tests."""

from conversa.accounts.models import Organization
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.inbox.models import Contact, Conversation, Message
from conversa.numbers.models import Number


def pending_jobs(number: Number, count: int, contacts: int | None = None) -> list[ExecutionJob]:
    """`count` PENDING jobs (with intents and messages) spread over `contacts` contacts,
    inserted in bulk: the setup of a race, not the path under test."""
    org: Organization = number.organization
    contacts = contacts or count
    people = Contact.objects.bulk_create(
        Contact(organization=org, phone=f"55119{n:08d}") for n in range(contacts)
    )
    threads = Conversation.objects.bulk_create(
        Conversation(organization=org, number=number, contact=c) for c in people
    )
    intents = MessageIntent.objects.bulk_create(
        MessageIntent(
            organization=org,
            number=number,
            contact=people[n % contacts],
            conversation=threads[n % contacts],
            origin=MessageIntent.Origin.API,
            body=f"message {n}",
            idempotency_key=f"race:{n}",
        )
        for n in range(count)
    )
    messages = Message.objects.bulk_create(
        Message(
            organization=org,
            conversation=threads[n % contacts],
            number=number,
            direction=Message.Direction.OUTBOUND,
            body=f"message {n}",
            status=Message.Status.PENDING,
        )
        for n in range(count)
    )
    return ExecutionJob.objects.bulk_create(
        ExecutionJob(
            organization=org,
            intent=intent,
            number=number,
            contact=intent.contact,
            message=message,
        )
        for intent, message in zip(intents, messages, strict=True)
    )
