"""Abuse limits, counted with the `limits` library: in this process's memory in the embedded
topology, in Redis when `REDIS_URL` is set (so every web process counts against the same
budget).

Three users: sign-in (per account and per client address, `accounts.forms`), the API (per token
and per organization, `accounts.api_auth`), and webhooks (per number, `inbound.webhooks`). Each
limit is a string in `limits`' notation ("5/minute;20/hour"), set in settings from the
environment. Fixed windows: the cheapest to count (one counter per window), and a refusal can
say exactly when the window ends.

A counting failure (Redis unreachable) never refuses anyone: a limit that cannot be counted is
not enforced, and the failure is logged.
"""

import logging
import threading
import time
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from limits import RateLimitItem, parse_many, storage, strategies

log = logging.getLogger(__name__)


@cache
def limiter() -> strategies.FixedWindowRateLimiter:
    url = settings.RATELIMIT_STORAGE_URL
    if url.startswith("memory"):
        return strategies.FixedWindowRateLimiter(SweptMemoryStorage())
    options = (
        {"socket_timeout": 0.5, "socket_connect_timeout": 0.5} if url.startswith("redis") else {}
    )
    return strategies.FixedWindowRateLimiter(storage.storage_from_string(url, **options))


class SweptMemoryStorage(storage.MemoryStorage):
    """`limits`' memory storage, whose sweep of ended windows runs at most once a second.

    The library's starts a thread 10 ms after any count once its last one has finished: under
    a steady stream of webhooks, a new thread every few requests, measured at about 4% of the
    webhook front door's CPU. The sweep only frees memory: a window's count is checked
    against its end whenever it is read, so a later sweep changes no verdict.
    """

    SWEEP_SECONDS = 1.0

    # The library's own (name-mangled) scheduling hook, called on every count.
    def _MemoryStorage__schedule_expiry(self) -> None:
        if not self.timer.is_alive():
            self.timer = threading.Timer(self.SWEEP_SECONDS, self._MemoryStorage__expire_events)
            # A sweep pending at exit is not worth waiting for.
            self.timer.daemon = True
            self.timer.start()


@cache
def parsed(spec: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(spec)) if spec else ()


@dataclass(frozen=True)
class Verdict:
    """The outcome of counting one request against a set of limits: whether it may go on and,
    for the tightest limit, what the `RateLimit-*` headers say."""

    allowed: bool
    limit: int = 0
    remaining: int = 0
    reset: int = 0  # seconds until the tightest window ends

    @property
    def headers(self) -> dict[str, str]:
        """The IETF draft's fields, and `Retry-After` once refused."""
        if not self.limit:
            return {}
        fields = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            fields["Retry-After"] = str(max(self.reset, 1))
        return fields

    @property
    def minutes(self) -> int:
        """The wait, rounded up to whole minutes (for a person)."""
        return max(1, -(-self.reset // 60))


UNLIMITED = Verdict(allowed=True)


def hit(*budgets: tuple[str, str], remaining: bool = True) -> Verdict:
    """Count one request against each (limit spec, key) pair; refused if any is spent.

    Every window is counted even after one is spent, so a client that keeps knocking while
    refused does not earn its budget back sooner. With `remaining=False` (a caller that
    sends no RateLimit headers) an allowed request's windows are not read back: one storage
    operation a window instead of two, a round trip each on Redis."""
    return count(budgets, spend=True, remaining=remaining)


def peek(*budgets: tuple[str, str], remaining: bool = True) -> Verdict:
    """Whether a request would be refused, counting nothing (`remaining` as in `hit`)."""
    return count(budgets, spend=False, remaining=remaining)


def count(budgets, *, spend: bool, remaining: bool = True) -> Verdict:
    if not settings.RATELIMIT_ENABLED:
        return UNLIMITED
    now = time.time()
    tightest: Verdict | None = None
    try:
        for spec, key in budgets:
            for item in parsed(spec):
                allowed = limiter().hit(item, key) if spend else limiter().test(item, key)
                if allowed and not remaining:
                    tightest = tightest or UNLIMITED
                    continue
                reset_at, left = limiter().get_window_stats(item, key)
                verdict = Verdict(
                    allowed=allowed,
                    limit=item.amount,
                    remaining=max(0, left),
                    reset=min(item.get_expiry(), max(0, int(-(-(reset_at - now) // 1)))),
                )
                tightest = tighter(tightest, verdict)
    except Exception:
        # A limit that cannot be counted is not a reason to refuse a sign-in or a message.
        log.warning("rate limits could not be counted", exc_info=True)
        return UNLIMITED
    return tightest or UNLIMITED


def tighter(a: Verdict | None, b: Verdict) -> Verdict:
    if a is None:
        return b
    if a.allowed != b.allowed:
        # A refusal wins, and the longest wait among refusals.
        return a if not a.allowed else b
    if not a.allowed:
        return a if a.reset >= b.reset else b
    return a if a.remaining <= b.remaining else b


def clear(*budgets: tuple[str, str]) -> None:
    """Forget what was counted for these keys (a successful sign-in clears its address's
    failures)."""
    try:
        for spec, key in budgets:
            for item in parsed(spec):
                limiter().clear(item, key)
    except Exception:
        log.warning("rate limits could not be cleared", exc_info=True)


def reset_all() -> None:
    """Forget every count (tests; in memory, or this deployment's Redis keys)."""
    limiter().storage.reset()
