"""The in-memory rate-limit storage: `limits`' own, with its sweep of ended windows run at most
once a second instead of a thread 10 ms after nearly every count."""

from limits import parse, strategies

from conversa.ratelimits import SweptMemoryStorage
from tests.conftest import wait_for


def test_a_count_schedules_its_sweep_a_second_away_not_ten_milliseconds():
    storage = SweptMemoryStorage()
    limiter = strategies.FixedWindowRateLimiter(storage)
    # The library starts one sweep on creation.
    wait_for(lambda: not storage.timer.is_alive(), "the first sweep")
    for n in range(50):
        limiter.hit(parse("1000/minute"), f"webhook:{n}")
    assert storage.timer.interval == SweptMemoryStorage.SWEEP_SECONDS >= 1
    assert storage.timer.daemon


def test_an_ended_window_refuses_nothing_more_and_its_sweep_frees_it():
    storage = SweptMemoryStorage()
    storage.SWEEP_SECONDS = 0.05
    limiter = strategies.FixedWindowRateLimiter(storage)
    item = parse("2/second")
    assert limiter.hit(item, "webhook:1") and limiter.hit(item, "webhook:1")
    assert not limiter.hit(item, "webhook:1")
    key = item.key_for("webhook:1")
    # The next window counts afresh, read against its end whatever the sweep has done.
    wait_for(lambda: limiter.test(item, "webhook:1"), "the window to end")
    # Untouched since, the ended window leaves memory with a later sweep.
    limiter.hit(parse("5/second"), "webhook:other")
    wait_for(lambda: key not in storage.storage, "the sweep to free the ended window")
    assert key not in storage.expirations
