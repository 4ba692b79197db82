"""Auto-distribution over a generated day of arrivals: only online operators under capacity
receive work, round robin takes turns, least load evens out, and the cached open counts never
drift from the data."""

import itertools
import threading
import time

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversa.accounts.models import Member
from conversa.inbox import ownership, queues, services, states
from conversa.inbox.models import Contact, Conversation, Queue
from tests.conftest import examples, make_org, post_webhook
from tests.inbox.conftest import queue_with_operator
from tests.inbox.test_inbound import upsert

phones = itertools.count(5511900000000)

step = st.one_of(
    st.tuples(st.just("arrive")),
    st.tuples(st.just("resolve"), st.integers(0, 50)),
    st.tuples(st.just("availability"), st.integers(0, 4), st.sampled_from(["online", "away"])),
)


def live_load(member: Member) -> int:
    return Conversation.objects.filter(assignee=member).exclude(status="resolved").count()


# The offer takes row locks: the production database is the one that must hold.
@settings(
    max_examples=examples(25, in_full_on="postgresql"),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rule=st.sampled_from([Queue.Distribution.ROUND_ROBIN, Queue.Distribution.LEAST_LOAD]),
    capacities=st.lists(st.integers(1, 4), min_size=2, max_size=5),
    day=st.lists(step, min_size=5, max_size=40),
)
def test_a_day_of_arrivals(db, django_capture_on_commit_callbacks, rule, capacities, day):
    org = make_org()
    queue = Queue.objects.create(organization=org.org, name="Suporte", distribution=rule)
    operators = []
    for capacity in capacities:
        member = org.member()
        Member.objects.filter(pk=member.pk).update(capacity=capacity, availability="online")
        queue.members.add(member)
        operators.append(Member.objects.get(pk=member.pk))
    previous = None
    for action, *args in day:
        waiting_before = list(
            Conversation.objects.filter(queue=queue, assignee__isnull=True).values_list(
                "pk", flat=True
            )
        )
        if action == "arrive":
            contact = Contact.objects.create(organization=org.org, phone=str(next(phones)))
            conversation = Conversation.objects.create(
                organization=org.org, number=org.number, contact=contact, queue=queue
            )
            online = [
                m
                for m in Member.objects.filter(pk__in=[o.pk for o in operators]).order_by("id")
                if m.availability == "online"
            ]
            free = [m for m in online if live_load(m) < m.capacity]
            loads = {m.pk: live_load(m) for m in free}
            chosen = ownership.distribute(conversation)
            if not free:
                assert chosen is None, "nobody online with room: it waits in the queue"
            else:
                assert chosen.pk in loads, "only online operators under capacity get work"
                if rule == Queue.Distribution.LEAST_LOAD:
                    assert loads[chosen.pk] == min(loads.values())
                elif previous is not None:
                    after = [m.pk for m in free if m.pk > previous]
                    assert chosen.pk == (after or [m.pk for m in free])[0], "round robin's turn"
                previous = chosen.pk
        else:
            if action == "resolve":
                assigned = list(
                    Conversation.objects.filter(queue=queue, assignee__isnull=False)
                    .exclude(status="resolved")
                    .order_by("id")
                )
                if assigned:
                    conversation = assigned[args[0] % len(assigned)]
                    with django_capture_on_commit_callbacks(execute=True):
                        states.resolve(
                            conversation, acting_member=conversation.assignee, reason="feito"
                        )
            else:
                member = operators[args[0] % len(operators)]
                with django_capture_on_commit_callbacks(execute=True):
                    ownership.set_availability(member, args[1])
            # A freed slot or an operator back online hands waiting work out, and round
            # robin's turn moves with it: the next arrival's turn follows the last one given.
            handed = Conversation.objects.filter(pk__in=waiting_before, assignee__isnull=False)
            last = handed.order_by("opened_at", "id").last()
            if last is not None:
                previous = last.assignee_id
        waiting = Conversation.objects.filter(queue=queue, assignee__isnull=True, status="open")
        for member in Member.objects.filter(pk__in=[o.pk for o in operators]):
            assert member.open_count == live_load(member), "the cached count equals the data"
            assert live_load(member) <= member.capacity
            if member.availability == "online" and waiting.exists():
                assert live_load(member) == member.capacity, "no free slot while work waits"


def test_new_conversations_on_a_routed_number_are_distributed_as_they_arrive(client, org):
    queue = Queue.objects.create(
        organization=org.org, name="Vendas", distribution=Queue.Distribution.ROUND_ROBIN
    )
    queue.numbers.add(org.number)
    ana, bruno, away = org.member(), org.member(), org.member()
    queue.members.add(ana, bruno, away)
    for member in (ana, bruno):
        ownership.set_availability(member, Member.Availability.ONLINE)
    for n in range(4):
        post_webhook(client, org.number, upsert(f"3EB0R{n}", phone=f"551197777000{n}"))
    routed = Conversation.objects.filter(queue=queue).order_by("id")
    assert [c.assignee_id for c in routed] == [ana.pk, bruno.pk, ana.pk, bruno.pk]
    for member in (ana, bruno, away):
        member.refresh_from_db()
    assert (ana.open_count, bruno.open_count, away.open_count) == (2, 2, 0)


def test_what_waits_is_given_out_when_an_operator_comes_online(client, org, committed):
    queue = Queue.objects.create(
        organization=org.org, name="Vendas", distribution=Queue.Distribution.LEAST_LOAD
    )
    queue.numbers.add(org.number)
    ana = org.member()
    queue.members.add(ana)
    Member.objects.filter(pk=ana.pk).update(capacity=2)
    ana.refresh_from_db()
    for n in range(3):
        post_webhook(client, org.number, upsert(f"3EB0W{n}", phone=f"551196666000{n}"))
    waiting = list(Conversation.objects.filter(queue=queue).order_by("opened_at", "id"))
    assert all(c.assignee_id is None for c in waiting), "nobody online: they wait"
    with committed():
        ownership.set_availability(ana, Member.Availability.ONLINE)
    assigned = [c.assignee_id for c in Conversation.objects.filter(queue=queue).order_by("id")]
    assert assigned == [ana.pk, ana.pk, None], "the oldest first, up to her capacity"


def test_a_freed_slot_or_more_room_takes_the_next_waiting_conversation(org, committed):
    queue, ana = queue_with_operator(org, capacity=1)
    first, second, third = (
        Conversation.objects.create(
            organization=org.org,
            number=org.number,
            contact=Contact.objects.create(organization=org.org, phone=str(next(phones))),
            queue=queue,
        )
        for _ in range(3)
    )
    assert ownership.distribute(first) == ana
    assert ownership.distribute(second) is None, "at capacity"
    with committed():
        states.resolve(first, acting_member=ana)
    assert Conversation.objects.get(pk=second.pk).assignee == ana, "her freed slot takes it"
    with committed():
        queues.set_capacity(ana, 2, acting_member=org.owner)
    assert Conversation.objects.get(pk=third.pk).assignee == ana, "more room takes the next"
    ana.refresh_from_db()
    assert ana.open_count == 2


def test_a_conversation_moved_into_a_distributing_queue_is_given_out(org, committed):
    sales = Queue.objects.create(organization=org.org, name="Vendas")
    support = Queue.objects.create(
        organization=org.org, name="Suporte", distribution=Queue.Distribution.LEAST_LOAD
    )
    bruno = org.member()
    support.members.add(bruno)
    ownership.set_availability(bruno, Member.Availability.ONLINE)
    conversation = org.conversation()
    Conversation.objects.filter(pk=conversation.pk).update(queue=sales)
    with committed():
        ownership.transfer(
            conversation, acting_member=org.owner, to_queue=support, note="é suporte"
        )
    assert Conversation.objects.get(pk=conversation.pk).assignee == bruno


def test_a_queue_that_does_not_distribute_hands_out_nothing(org, committed):
    queue = Queue.objects.create(organization=org.org, name="Manual")
    ana = org.member()
    queue.members.add(ana)
    conversation = org.conversation()
    Conversation.objects.filter(pk=conversation.pk).update(queue=queue)
    with committed():
        ownership.set_availability(ana, Member.Availability.ONLINE)
    assert Conversation.objects.get(pk=conversation.pk).assignee is None


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks between sessions: PostgreSQL"
)
def test_a_hand_out_and_a_customer_writing_on_a_waiting_conversation_do_not_deadlock(
    transactional_db, monkeypatch
):
    """Ana resolves her one conversation (which frees her slot and hands out what waits)
    while the customer of the conversation waiting in her queue writes again (which locks
    that conversation, then the queue, to distribute it). A hand-out that locked the queue
    before the conversation deadlocked with it."""
    org = make_org()
    queue, ana = queue_with_operator(org, capacity=1, name="Q")
    queue.numbers.add(org.number)
    held = org.conversation("5511900000001")
    waiting = org.conversation("5511900000003")
    assert Conversation.objects.get(pk=waiting.pk).assignee_id is None
    writing = threading.Event()
    errors = []
    touch = services.touch_activity

    def slow_touch(number, now):
        touch(number, now)  # the waiting conversation's row is locked by now
        if threading.current_thread().name == "customer":
            writing.set()
            time.sleep(1.0)

    monkeypatch.setattr(services, "touch_activity", slow_touch)

    def run(name, action):
        def body():
            try:
                action()
            except Exception as exc:  # reported below, with the side that failed
                errors.append((name, repr(exc)))
            finally:
                connection.close()

        return threading.Thread(target=body, name=name)

    customer = run("customer", lambda: org.customer_writes("5511900000003", "alguém?"))
    operator = run(
        "operator",
        lambda: (
            writing.wait()
            and states.resolve(Conversation.objects.get(pk=held.pk), acting_member=ana)
        ),
    )
    customer.start()
    operator.start()
    customer.join()
    operator.join()
    assert errors == []
    assert Conversation.objects.get(pk=waiting.pk).assignee_id == ana.pk
