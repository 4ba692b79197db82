"""`conversa bench inbox`: how fast the shared inbox's conversation list answers at size.

1. Seed (PostgreSQL, a few INSERT … SELECT over generate_series, not the ORM row by row) one
   organization: two numbers, queues, agents in one or two queues each, supervisors; a contact
   and a conversation per customer, spread over 90 days, most older ones resolved, 70% assigned;
   messages whose bodies draw words from a skewed vocabulary (common words are common, rare ones
   rare) and now and then an order number, so a search meets realistic selectivity.
2. Start `conversa serve --no-worker --processes P` on the same database.
3. C concurrent clients (threads on keep-alive connections, each an operator with its own API
   token) call `GET /api/conversations` as the operator view does: the Mine tab, the Queue tab,
   and a search (a supervisor's All tab with `q`: a common word, a rarer one, an order number, a
   surname, digits of a number). Warm-up requests first, not counted. Two rounds:
   - operators: each client pauses between requests, a random time averaging `pause` seconds
     (an operator reads, types, and the page asks again when something changes). A request's
     time counts from when it was due, not from when it was sent, so a slow answer that holds
     up the next request shows in the next one's figure too.
   - saturation: no pauses, each client asks again the moment it has its answer: the most
     requests per second the server answers. With C clients always waiting, each request
     waits for the C - 1 ahead of it, so its latency there is C / throughput, not the cost of
     one request.

Figures per round: p50/p95/p99 per list, requests per second, failures; the largest web
process's peak memory, and the seed's size and time. The seeded organization is deleted at the
end unless `keep` (then the next run with the same size reuses it: seeding 1M messages takes
minutes).
"""

import http.client
import itertools
import random
import secrets
import statistics
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote_plus

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction

from bench.cluster import cpu_seconds, database_pids, machine_probe_ms, web_server
from bench.inbox_words import FIRST_NAMES, LAST_NAMES, SYLLABLES, VOCABULARY
from bench.ingest import process_tree, server_peak_mb
from conversa.accounts.models import ApiToken, Member, Organization
from conversa.accounts.services import create_api_token
from conversa.inbox.models import Contact, Conversation, Message, Queue
from conversa.numbers.models import Number

SLUG = "bench-inbox-{conversations}-{messages}"
# This run's tokens (another run on the same kept organization has its own).
TOKEN_NAME = f"bench inbox {secrets.token_hex(3)}"


@dataclass
class Seeded:
    org: Organization
    agents: list[Member]
    supervisors: list[Member]
    seconds: float
    reused: bool


def insert_select(model: type[models.Model], exprs: dict[str, str], source: str, params: dict):
    """`INSERT INTO <model> (…) SELECT <exprs> <source>`: the columns named in `exprs` take those
    SQL expressions; every other column (a field added later included) its Python default, the
    same for every row. Returns the number of rows."""
    columns, values = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        columns.append(connection.ops.quote_name(f.column))
        if f.attname in exprs:
            values.append(exprs[f.attname])
        else:
            name = f"default_{f.attname}"
            params[name] = f.get_db_prep_save(f.get_default(), connection)
            values.append(f"%({name})s")
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} {source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def rare_word(t: int) -> str:
    """Made-up word number `t` (0 … 63,999), as `words_sql` spells it."""
    n = len(SYLLABLES)
    return SYLLABLES[t % n] + SYLLABLES[t // n % n] + SYLLABLES[t // n // n % n] + "x"


def words_sql(count: str) -> str:
    """A body of `count` words: 85% from the vocabulary, skewed to its first words, the rest
    from the long tail. The subquery names the outer row (through `count`), so it is drawn again
    for every row."""
    tail = "(%(syllables)s::text[])[1 + t %% 40] || (%(syllables)s::text[])[1 + t / 40 %% 40]"
    tail += " || (%(syllables)s::text[])[1 + t / 1600 %% 40] || 'x'"
    return (
        "(SELECT string_agg(CASE WHEN u < 0.85 THEN"
        " (%(words)s::text[])[1 + floor(%(nwords)s * power(u / 0.85, 2.2))::int]"
        f" ELSE {tail} END, ' ')"
        " FROM (SELECT random() AS u, floor(random() * 64000)::int AS t"
        f" FROM generate_series(1, {count}) AS k) AS w)"
    )


def seed(conversations: int, messages: int, agents: int = 32, queues: int = 4) -> Seeded:
    """One organization with `conversations` conversations (one contact each) and `messages`
    messages (at least one per conversation), in a few statements."""
    slug = SLUG.format(conversations=conversations, messages=messages)
    org = Organization.objects.filter(slug=slug).first()
    if org is not None:
        members = list(Member.objects.filter(organization=org).order_by("id"))
        return Seeded(
            org,
            [m for m in members if m.role == Member.Role.AGENT],
            [m for m in members if m.role == Member.Role.SUPERVISOR],
            0.0,
            reused=True,
        )
    started = time.perf_counter()
    with transaction.atomic():
        org = Organization.objects.create(name=f"bench inbox {conversations}", slug=slug)
        numbers = [
            Number.objects.create(
                organization=org,
                name=f"bench number {n}",
                provider=Number.Provider.SANDBOX,
                provider_name=f"{slug}-{n}-{secrets.token_hex(3)}",
                status=Number.Status.CONNECTED,
            )
            for n in range(2)
        ]
        User = get_user_model()
        tag = secrets.token_hex(3)

        def member(role: str, n: int) -> Member:
            user = User.objects.create(username=f"{role}{n}-{tag}@{slug}.bench")
            return Member.objects.create(
                organization=org, user=user, role=role, display_name=f"{role.title()} {n}"
            )

        team = [member(Member.Role.AGENT, n) for n in range(agents)]
        bosses = [member(Member.Role.SUPERVISOR, n) for n in range(4)]
        teams = [Queue.objects.create(organization=org, name=f"Queue {n}") for n in range(queues)]
        for n, agent in enumerate(team):
            # Each agent in one queue, every third one in a second queue too.
            agent.queues.add(teams[n % queues], *([teams[(n + 1) % queues]] if n % 3 == 0 else []))
        params = {
            "org": org.pk,
            "n": conversations,
            "words": VOCABULARY,
            "nwords": len(VOCABULARY),
            "syllables": SYLLABLES,
            "first": FIRST_NAMES,
            "last": LAST_NAMES,
            "numbers": [i.pk for i in numbers],
            "queues": [q.pk for q in teams],
            "agents": [a.pk for a in team],
            "extra": messages - conversations,
        }
        insert_select(
            Contact,
            {
                "organization_id": "%(org)s",
                # A bijection of g over 8 digits: unique numbers that do not run in order.
                "phone": "'55' || (11 + g %% 80) || '9' || lpad(((g::bigint * 7919) %% 100000000)::text,"
                " 8, '0')",
                "name": "(%(first)s::text[])[1 + g %% cardinality(%(first)s::text[])] || ' ' ||"
                " (%(last)s::text[])[1 + (g * 7) %% cardinality(%(last)s::text[])]",
                "created_at": "now() - interval '90 days' * (1 - g::float / %(n)s)",
            },
            "FROM generate_series(1, %(n)s) AS g",
            params,
        )
        # Conversation g: newer as g grows; older ones mostly resolved; resolved ones nearly all
        # assigned, the others half waiting in their queue; one in ten outside any queue.
        when = "now() - interval '90 days' * (1 - c.g::float / %(n)s) - interval '1 hour' * c.r"
        resolved = "c.r < 0.95 * (1 - c.g::float / %(n)s) + 0.3"
        assigned = f"(({resolved}) AND c.g %% 20 < 19 OR c.g %% 10 < 5)"
        insert_select(
            Conversation,
            {
                "organization_id": "%(org)s",
                "number_id": "(%(numbers)s::bigint[])[1 + c.g %% 2]",
                "contact_id": "c.id",
                "status": f"CASE WHEN {resolved} THEN 'resolved'"
                " WHEN c.g %% 10 < 7 THEN 'open' WHEN c.g %% 10 < 9 THEN 'pending'"
                " ELSE 'snoozed' END",
                "queue_id": "CASE WHEN c.g %% 10 = 0 THEN NULL"
                " ELSE (%(queues)s::bigint[])[1 + c.g %% cardinality(%(queues)s::bigint[])] END",
                "assignee_id": f"CASE WHEN {assigned} THEN"
                " (%(agents)s::bigint[])[1 + (c.g * 13) %% cardinality(%(agents)s::bigint[])]"
                " END",
                "assigned_at": f"CASE WHEN {assigned} THEN {when} END",
                "unread_count": "(c.g %% 4)",
                "last_message_at": when,
                "last_inbound_at": when,
                "created_at": f"{when} - interval '3 days'",
            },
            "FROM (SELECT id, row_number() OVER (ORDER BY id) AS g, random() AS r"
            " FROM inbox_contact WHERE organization_id = %(org)s) AS c",
            params,
        )
        message = {
            "organization_id": "%(org)s",
            "conversation_id": "v.id",
            "number_id": "v.number_id",
            "direction": "CASE WHEN s.j %% 2 = 0 THEN 'in' ELSE 'out' END",
            "kind": "'text'",
            "status": "CASE WHEN s.j %% 2 = 0 THEN 'received' ELSE 'read' END",
            "body": words_sql("3 + s.j %% 12")
            + " || CASE WHEN s.j %% 17 = 0 THEN ' pedido ' || (100000 + (s.j::bigint * 7919) %% 900000)"
            " ELSE '' END",
        }
        numbered = (
            "(SELECT id, number_id, last_message_at, row_number() OVER (ORDER BY id) AS r"
            " FROM inbox_conversation WHERE organization_id = %(org)s) AS v"
        )
        # The newest message of each conversation is at its last_message_at …
        insert_select(
            Message,
            {**message, "created_at": "v.last_message_at"},
            f"FROM {numbered} JOIN (SELECT g AS j FROM generate_series(1, %(n)s) AS g) AS s"
            " ON s.j = v.r",
            params,
        )
        # … and the others before it, more of them on newer conversations.
        insert_select(
            Message,
            {**message, "created_at": "v.last_message_at - interval '3 days' * random()"},
            f"FROM (SELECT j, 1 + floor(%(n)s * power(random(), 0.7))::int AS r"
            f" FROM generate_series(1, %(extra)s) AS j) AS s JOIN {numbered} ON v.r = s.r",
            params,
        )
    # What autovacuum would have done to tables this size by the time anyone searched them:
    # statistics for the planner, and the visibility map that lets counts read indexes alone.
    with connection.cursor() as cursor:
        for model in (Contact, Conversation, Message):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    return Seeded(org, team, bosses, time.perf_counter() - started, reused=False)


def drop(org: Organization) -> None:
    """The seeded organization and everything in it: the big tables in one DELETE each rather
    than the ORM's cascade over a million rows."""
    users = list(Member.objects.filter(organization=org).values_list("user_id", flat=True))
    with connection.cursor() as cursor:
        for model in (Message, Conversation, Contact):
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE organization_id = %s", [org.pk]
            )
    org.delete()
    get_user_model().objects.filter(pk__in=users).delete()


def search_terms(seeded: Seeded) -> list[str]:
    """What operators type: a common word, rarer ones, an order number, a surname, a name,
    digits of a number."""
    contacts = Contact.objects.filter(organization=seeded.org).order_by("id")
    phone = contacts[contacts.count() // 3].phone
    return [
        VOCABULARY[30],
        VOCABULARY[-3],
        rare_word(12345),
        "pedido 4213",
        LAST_NAMES[5],
        f"{FIRST_NAMES[10]} {LAST_NAMES[3]}",
        phone[-6:],
        "zzzz",  # nothing matches: the whole index is searched
    ]


def requests_for(seeded: Seeded, clients: int, per_list: int) -> list[list[tuple[str, str, str]]]:
    """Each client's requests as (list, path, token): Mine and Queue as an agent, search as a
    supervisor on the All tab; interleaved, so the three lists run under each other's load."""
    terms = search_terms(seeded)
    plans = []
    for n in range(clients):
        agent = seeded.agents[n % len(seeded.agents)]
        boss = seeded.supervisors[n % len(seeded.supervisors)]
        as_agent = create_api_token(agent, TOKEN_NAME)
        as_boss = create_api_token(boss, TOKEN_NAME)
        lists = [
            ("mine", "/api/conversations?tab=mine", as_agent),
            ("queue", "/api/conversations?tab=queue", as_agent),
        ]
        plan = []
        for k in range(per_list // clients + 1):
            term = terms[(n + k) % len(terms)]
            path = f"/api/conversations?tab=all&q={quote_plus(term)}"
            plan += [*lists, (f"search {term}", path, as_boss)]
        plans.append(plan)
    return plans


# Requests each client sends before the clock starts (connections opened, caches warm).
WARMUP = 3


def drive(port: int, plans: list[list[tuple[str, str, str]]], pause: float, warmup: int = WARMUP):
    """Each plan on its own thread and keep-alive connection, all starting together; each
    request due `pause` seconds (on average, at random) after the previous one was due, or at
    once when `pause` is 0. Returns the latencies (seconds, from when each was due) by list
    name and the number of answers that were not 200."""
    latencies: dict[str, list[float]] = {}
    failed = 0
    lock = threading.Lock()
    start = threading.Barrier(len(plans))

    def client(n: int, plan) -> None:
        nonlocal failed
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        gaps = random.Random(n)
        mine: dict[str, list[float]] = {}
        bad = 0
        due = 0.0
        try:
            for k, (name, path, token) in enumerate(itertools.chain(plan[:warmup], plan)):
                if k == warmup:
                    start.wait()
                    # Operators do not all click at the same instant: each starts at random.
                    due = time.perf_counter() + gaps.uniform(0, pause)
                if k > warmup:
                    due += gaps.expovariate(1 / pause) if pause else 0.0
                if k >= warmup and pause:
                    time.sleep(max(0.0, due - time.perf_counter()))
                else:
                    due = time.perf_counter()
                headers = {"Authorization": f"Bearer {token}"}
                try:
                    conn.request("GET", path, headers=headers)
                    response = conn.getresponse()
                except (http.client.RemoteDisconnected, ConnectionError):
                    # The server closed a connection left idle past its keep-alive timeout
                    # (a slow warm-up elsewhere): open another, as a browser would.
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    conn.request("GET", path, headers=headers)
                    response = conn.getresponse()
                response.read()
                if k >= warmup:
                    mine.setdefault(name, []).append(time.perf_counter() - due)
                    bad += response.status != 200
        except Exception:
            start.abort()  # the others stop waiting for this one
            raise
        finally:
            conn.close()
            with lock:
                for name, values in mine.items():
                    latencies.setdefault(name, []).extend(values)
                failed += bad

    threads = [threading.Thread(target=client, args=(n, plan)) for n, plan in enumerate(plans)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, failed


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[max(0, int(len(ordered) * p) - 1)] * 1000, 1) if ordered else 0.0


def summary(values: list[float]) -> dict:
    return {
        "requests": len(values),
        "p50_ms": percentile(values, 0.50),
        "p95_ms": percentile(values, 0.95),
        "p99_ms": percentile(values, 0.99),
        "mean_ms": round(statistics.fmean(values) * 1000, 1) if values else 0.0,
    }


def round_figures(latencies: dict[str, list[float]], failed: int, elapsed: float) -> dict:
    total = sum(len(v) for v in latencies.values())
    figures = {
        "requests": total,
        "failed_requests": failed,
        "requests_per_second": round(total / elapsed, 1),
    }
    searches = {k.removeprefix("search "): v for k, v in latencies.items() if " " in k}
    for name in ("mine", "queue"):
        figures[name] = summary(latencies.get(name, []))
    figures["search"] = summary([t for values in searches.values() for t in values])
    figures["search_by_term"] = {
        term: {"p50_ms": percentile(v, 0.5), "p95_ms": percentile(v, 0.95)}
        for term, v in searches.items()
    }
    return figures


def run(
    conversations: int = 100_000,
    messages: int | None = None,
    clients: int = 32,
    processes: int = 2,
    requests: int = 1000,
    pause: float = 1.0,
    keep: bool = False,
) -> dict:
    if connection.vendor != "postgresql":
        raise SystemExit("conversa bench inbox seeds with PostgreSQL's generate_series")
    messages = max(messages or conversations * 10, conversations)
    seeded = seed(conversations, messages)
    try:
        plans = requests_for(seeded, clients, requests)
        rounds = {}
        with web_server("bench-inbox-serve", processes) as (process, port):
            peak = 0.0
            running = threading.Event()
            running.set()

            def watch_memory() -> None:
                nonlocal peak
                while running.is_set():
                    peak = max(peak, server_peak_mb(process.pid))
                    time.sleep(0.2)

            watcher = threading.Thread(target=watch_memory)
            watcher.start()
            for name, gap in (("operators", pause), ("saturation", 0.0)):
                probe = machine_probe_ms()
                web, database = process_tree(process.pid), database_pids()
                web_before, database_before = cpu_seconds(web), cpu_seconds(database)
                started = time.perf_counter()
                latencies, failed = drive(port, plans, gap)
                figures = round_figures(latencies, failed, time.perf_counter() - started)
                served = figures["requests"] + WARMUP * len(plans)
                # Backends the pool opened meanwhile count from zero.
                database = [*database, *(p for p in database_pids() if p not in database)]
                web_cpu = sum(cpu_seconds(web).values()) - sum(web_before.values())
                database_cpu = sum(cpu_seconds(database).values()) - sum(database_before.values())
                rounds[name] = {
                    "pause_seconds": gap,
                    "machine_probe_ms": probe,
                    **figures,
                    "web_cpu_ms_per_request": round(web_cpu * 1000 / served, 2),
                    "database_cpu_ms_per_request": round(database_cpu * 1000 / served, 2),
                }
            running.clear()
            watcher.join()
            peak = max(peak, server_peak_mb(process.pid))
        return {
            "benchmark": "inbox",
            "database": connection.vendor,
            "conversations": Conversation.objects.filter(organization=seeded.org).count(),
            "messages": Message.objects.filter(organization=seeded.org).count(),
            "seed_seconds": round(seeded.seconds, 1),
            "seed_reused": seeded.reused,
            "clients": clients,
            "web_processes": processes,
            "server_peak_rss_mb": round(peak, 1),
            **rounds,
        }
    finally:
        ApiToken.objects.filter(organization=seeded.org, name=TOKEN_NAME).delete()
        if not keep:
            drop(seeded.org)
