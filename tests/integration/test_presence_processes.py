"""Presence across web processes (PostgreSQL and Redis): a member's sockets on two `conversa
serve` processes. One closing keeps them online; both closing turns them offline after the
grace period; a reload onto the other process within the grace does not flap; a process that
dies without closing its sockets does not leave its member online forever (the worker's
sweep, run here by the test as a worker would)."""

import contextlib
import os
import signal
import subprocess
import uuid
from contextlib import ExitStack

import pytest
from django.db import connection

from bench.cluster import web_server
from conversa.accounts.models import Member, OperationalEvent
from conversa.inbox import presence
from conversa.inbox.models import Socket
from tests.conftest import make_org, wait_for
from tests.integration.test_realtime_fanout import socket

REDIS_URL = os.environ.get("REDIS_URL", "")
# Short enough for a test, long enough that a reload on a loaded machine lands within it.
TIMING = {
    "PRESENCE_GRACE_SECONDS": "3",
    "PRESENCE_HEARTBEAT_SECONDS": "1",
    "PRESENCE_SOCKET_EXPIRY_SECONDS": "4",
}

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql" or not REDIS_URL,
    reason="presence across web processes needs PostgreSQL and Redis",
)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def servers(django_db_setup):
    env = {"REDIS_URL": REDIS_URL, "CHANNELS_PREFIX": f"presence-{uuid.uuid4().hex[:8]}", **TIMING}
    with ExitStack() as stack:
        started = [stack.enter_context(web_server(f"presence-serve-{n}", **env)) for n in (1, 2)]
        yield [port for _, port in started]
        for process, _ in started:
            stop(process)


def availability(member: Member) -> str:
    return Member.objects.values_list("availability", flat=True).get(pk=member.pk)


def sockets(member: Member) -> int:
    return Socket.objects.filter(member=member).count()


def all_settled(org) -> None:
    """Every socket of the organization closed and every member's grace over: the servers
    write nothing more for it (the test database is then flushed under them)."""

    def settled() -> bool:
        online = Member.objects.filter(organization=org.org).exclude(availability="offline")
        return not Socket.objects.filter(organization=org.org).exists() and not online.exists()

    try:
        wait_for(settled, "the organization's presence to settle", timeout=30)
    except AssertionError:
        from conversa.inbox.models import Presence

        raise AssertionError(
            f"{list(Presence.objects.filter(organization=org.org).values())} "
            f"{list(Socket.objects.filter(organization=org.org).values())} "
            f"{list(Member.objects.filter(organization=org.org).values('pk', 'availability'))}"
        ) from None


def grace_over_for_a_later_leaver(port: int, org) -> None:
    """Wait until a grace period started after now is over on `port`: a witness member
    connects and leaves there, and turns offline (so any earlier grace has run out too)."""
    witness = org.member()
    with socket(port, witness):
        wait_for(lambda: availability(witness) == "online", "the witness online")
    try:
        wait_for(
            lambda: availability(witness) == "offline", "the witness's grace to end", timeout=30
        )
    except AssertionError:
        from conversa.inbox.models import Presence

        raise AssertionError(
            f"{list(Presence.objects.filter(member=witness).values())} "
            f"{list(Socket.objects.filter(member=witness).values())} "
            f"{list(OperationalEvent.objects.filter(object_id=witness.pk).values('data'))}"
        ) from None


def test_one_of_two_processes_closing_keeps_the_member_online_both_closing_ends_it(
    servers, transactional_db
):
    first, second = servers
    org = make_org()
    agent = org.member()
    with ExitStack() as tabs:
        tabs.enter_context(socket(first, agent))
        tab_two = tabs.enter_context(socket(second, agent))
        wait_for(lambda: sockets(agent) == 2, "both sockets to register")
        assert availability(agent) == "online"
        tab_two.close()
        wait_for(lambda: sockets(agent) == 1, "the closed socket to go")
        grace_over_for_a_later_leaver(second, org)
        assert availability(agent) == "online", "one socket is still open, on the other process"
    wait_for(lambda: availability(agent) == "offline", "offline after the grace", timeout=60)
    hows = OperationalEvent.objects.filter(verb="member.availability", object_id=agent.pk)
    assert [e.data["how"] for e in hows] == ["connected", "left"]
    all_settled(org)


def test_a_reload_onto_the_other_process_within_the_grace_does_not_flap(servers, transactional_db):
    first, second = servers
    org = make_org()
    agent = org.member()
    with socket(first, agent):
        wait_for(lambda: availability(agent) == "online", "online on connect")
    with socket(second, agent):  # the reloaded page's socket, on the other process
        wait_for(lambda: sockets(agent) == 1, "the new socket to register")
        grace_over_for_a_later_leaver(first, org)
        assert availability(agent) == "online"
        hows = OperationalEvent.objects.filter(verb="member.availability", object_id=agent.pk)
        assert [e.data["how"] for e in hows] == ["connected"], "it never left"
    all_settled(org)


def test_a_process_that_dies_does_not_leave_its_members_online(servers, transactional_db, settings):
    settings.PRESENCE_SOCKET_EXPIRY_SECONDS = float(TIMING["PRESENCE_SOCKET_EXPIRY_SECONDS"])
    settings.PRESENCE_GRACE_SECONDS = float(TIMING["PRESENCE_GRACE_SECONDS"])
    env = {"REDIS_URL": REDIS_URL, "CHANNELS_PREFIX": f"presence-{uuid.uuid4().hex[:8]}", **TIMING}
    org = make_org()
    agent, survivor = org.member(), org.member()
    with ExitStack() as stack:
        process, port = stack.enter_context(web_server("presence-doomed", **env))
        # Entered by hand: its server is killed below, so it is never closed the usual way.
        doomed = socket(port, agent).__enter__()
        with socket(servers[0], survivor):
            wait_for(lambda: availability(agent) == "online", "online on the doomed process")
            wait_for(lambda: availability(survivor) == "online", "online on a live process")
            process.send_signal(signal.SIGKILL)  # no close, no disconnect, no grace timer
            process.wait(timeout=10)

            def swept_offline() -> bool:
                presence.sweep()  # the worker's periodic pass
                return availability(agent) == "offline"

            wait_for(swept_offline, "the dead process's member offline", timeout=60)
            assert availability(survivor) == "online", "a live process's socket is renewed"
            assert sockets(agent) == 0 and sockets(survivor) == 1
        with contextlib.suppress(Exception):
            doomed.close()  # its peer is gone
    all_settled(org)
