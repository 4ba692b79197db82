"""`conversa bench knowledge`: how long the assistant's retrieval takes over N passages, on the
configured database (PostgreSQL's full text and trigrams, or SQLite's FTS5).

1. Seed (timed apart): a throwaway organization with N passages, in sources of 500 questions
   and answers saved through `knowledge.save_source` as the page saves them (so the search
   columns, indexes and the FTS5 table are written as in use). Each answer is 20 to 60 words
   of a support chat's vocabulary (common words in many passages, rare ones in few) and a
   made-up product name, so a question's words are as selective as real ones.
2. Retrieve (timed): Q questions of 3 to 8 such words, `knowledge.retrieve(org, q, limit=5)`
   each, in this process; then the same for questions of words no passage has.
3. Report the p50 and p95 in milliseconds, how many questions found something, the seeding
   time and this process's peak memory; then delete the organization.
"""

import os
import random
import resource
import statistics
import time

from django.contrib.auth import get_user_model
from django.db import connection

from bench.inbox_words import SYLLABLES, VOCABULARY
from conversa.accounts.models import Member, Organization
from conversa.assistant import knowledge

PER_SOURCE = 500


def word(rng: random.Random) -> str:
    # A common word draws often (a power of a uniform draw favours the first ones).
    return VOCABULARY[int(len(VOCABULARY) * rng.random() ** 2)]


def product(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(3))


def faq_body(rng: random.Random, count: int) -> str:
    blocks = []
    for i in range(count):
        question = " ".join(word(rng) for _ in range(rng.randint(4, 9))) + f" {i}?"
        answer = " ".join(word(rng) for _ in range(rng.randint(20, 60)))
        blocks.append(f"{question}\n{answer} {product(rng)}.")
    return "\n\n".join(blocks)


def seed(passages: int, rng: random.Random) -> tuple[Organization, Member]:
    suffix = f"{os.getpid()}-{time.time_ns()}"
    org = Organization.objects.create(name="Bench knowledge", slug=f"bench-knowledge-{suffix}")
    user = get_user_model().objects.create_user(username=f"bench-knowledge-{suffix}@local")
    owner = Member.objects.create(organization=org, user=user, role=Member.Role.OWNER)
    made = 0
    while made < passages:
        count = min(PER_SOURCE, passages - made)
        knowledge.save_source(
            org,
            acting_member=owner,
            kind="faq",
            title=f"FAQ {made // PER_SOURCE + 1}",
            body=faq_body(rng, count),
        )
        made += count
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE assistant_knowledgesource")
            cursor.execute("ANALYZE assistant_knowledgepassage")
    return org, owner


def timed(org: Organization, questions: list[str]) -> tuple[list[float], int]:
    times, found = [], 0
    for question in questions:
        start = time.perf_counter()
        hits = knowledge.retrieve(org, question, limit=5)
        times.append((time.perf_counter() - start) * 1000)
        found += bool(hits)
    return times, found


def quantile(samples: list[float], q: int) -> float:
    return round(statistics.quantiles(samples, n=100)[q - 1], 2)


def run(passages: int = 10_000, questions: int = 200) -> dict:
    rng = random.Random(20)
    started = time.perf_counter()
    org, owner = seed(passages, rng)
    seed_seconds = round(time.perf_counter() - started, 1)
    try:
        asked = [
            " ".join(word(rng) for _ in range(rng.randint(3, 8))) + "?" for _ in range(questions)
        ]
        unknown = [f"{product(rng)}zq {product(rng)}zq?" for _ in range(max(questions // 4, 2))]
        times, found = timed(org, asked)
        misses, found_unknown = timed(org, unknown)
        return {
            "database": connection.vendor,
            "passages": passages,
            "seed_seconds": seed_seconds,
            "questions": len(asked),
            "questions_answered": found,
            "retrieve_ms_p50": quantile(times, 50),
            "retrieve_ms_p95": quantile(times, 95),
            "unknown_questions": len(unknown),
            "unknown_answered": found_unknown,
            "unknown_ms_p95": quantile(misses, 95),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    finally:
        org.delete()
        owner.user.delete()
