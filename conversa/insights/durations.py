"""The first response and resolution times' summaries (count, median, 90th percentile): out of
the values (`summary`), or out of the buckets of business seconds the hourly counts keep
(`rows.DURATION_BOUNDS`), read for all conversations, per agent and per queue at once
(`duration_summaries`) and interpolated in each bucket (`bucket_summary`). The figures
(`figures.response_times`, `figures.per_agent`, `more_figures.per_queue`) read them here."""

import bisect
import math
import statistics
from typing import TYPE_CHECKING

from conversa.insights import aggregates, reading
from conversa.insights import rows as rows_

if TYPE_CHECKING:
    from conversa.insights.figures import Filters


def percentile(values: list[float], share: float) -> float | None:
    """Nearest rank: the smallest value with at least `share` of them at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summary(values: list[float]) -> dict:
    return {"count": len(values), "median": median(values), "p90": percentile(values, 0.9)}


DURATION_KINDS = ("first_response", "resolution")
# The kinds each grouping's summaries are read for: all together and per agent both; per
# queue the first responses only (the queue table shows no resolution time).
GROUPINGS = {None: DURATION_KINDS, "agent_id": DURATION_KINDS, "queue_id": ("first_response",)}


# Every bucket's count and sum of both kinds, named (an index finds names, not prefixes), with
# its kind, bucket and place in a bucket's [how many, their seconds summed].
BUCKET_OF_METRIC = {
    f"{rows_.DURATION_METRICS[kind]}:{sum_}{b}": (kind, b, 1 if sum_ else 0)
    for kind in DURATION_KINDS
    for b in range(len(rows_.DURATION_BOUNDS))
    for sum_ in ("", "s")
}
DURATION_BUCKETS = list(BUCKET_OF_METRIC)
GROUPING_BUCKETS = {
    by: [metric for metric, (kind, _, _) in BUCKET_OF_METRIC.items() if kind in kinds]
    for by, kinds in GROUPINGS.items()
}


def duration_summaries(org, start, end, filters: "Filters", groupings=tuple(GROUPINGS)) -> dict:
    """By kind (`DURATION_KINDS`), `summary` of the durations ending in the period, all
    together (`[None][None]`), per agent (`["agent_id"]`) and per queue (`["queue_id"]`, first
    responses only: `GROUPINGS`), None for no agent or queue (only the `groupings` asked for):
    interpolated in the buckets of the hourly counts (`bucket_summary`), the durations not
    settled yet (a few, just changed) added in their buckets. A query per grouping for its
    kinds, and one for the unsettled."""
    dims = {
        "number_id": filters.number and filters.number.pk,
        "queue_id": filters.queue and filters.queue.pk,
        "agent_id": filters.agent and filters.agent.pk,
    }
    # [kind][by][key][bucket]: [how many, their seconds summed]
    grouped: dict = {kind: {} for kind in DURATION_KINDS}
    for by in groupings:
        for kind in GROUPINGS[by]:
            grouped[kind][by] = {}
    for by in groupings:
        columns = (by,) if by else ()
        found = reading.counts(
            org, start, end, by=(*columns, "metric"), metrics=GROUPING_BUCKETS[by], **dims
        )
        for (*key, metric), n in found.items():
            kind, b, place = BUCKET_OF_METRIC[metric]
            sums = grouped[kind][by].setdefault(key[0] if key else None, {}).setdefault(b, [0, 0])
            sums[place] += n
    for kind, agent, queue, seconds in aggregates.durations(
        org, None, start, end, columns=("kind", "agent_id", "queue_id"), unsettled=True, **dims
    ):
        for by, key in ((None, None), ("agent_id", agent), ("queue_id", queue)):
            if by in grouped[kind]:
                sums = grouped[kind][by].setdefault(key, {}).setdefault(bucket_of(seconds), [0, 0])
                sums[0] += 1
                sums[1] += round(seconds)
    summaries = {
        kind: {
            by: {key or None: bucket_summary(buckets) for key, buckets in groups.items()}
            for by, groups in kinds.items()
        }
        for kind, kinds in grouped.items()
    }
    for kinds in summaries.values():
        if None in kinds:
            kinds[None].setdefault(None, summary([]))
    return summaries


def bucket_of(seconds: float) -> int:
    return bisect.bisect_right(rows_.DURATION_BOUNDS, seconds) - 1


def bucket_summary(buckets: dict[int, list[int]]) -> dict:
    """Count, median and 90th percentile of durations known by bucket (`rows.DURATION_BOUNDS`)
    as [how many, their seconds summed]. The n durations of a bucket are taken as spread evenly
    around their mean, as far as the bucket's bounds allow: one alone is its exact value. The
    median of an even count is the mean of the middle two, the 90th percentile the nearest
    rank, as `summary` computes them from the values."""
    total = sum(n for n, _ in buckets.values())
    if not total:
        return summary([])

    def value_at(rank: int) -> float:  # 1-based
        seen = 0
        for b in sorted(buckets):
            n, seconds = buckets[b]
            if n and rank <= seen + n:
                return spread(b, n, seconds, rank - seen)
            seen += n
        raise AssertionError(rank)  # ranks are at most the total

    middle = (total + 1) // 2
    median_ = value_at(middle) if total % 2 else (value_at(middle) + value_at(middle + 1)) / 2
    return {
        "count": total,
        "median": median_,
        "p90": value_at(max(math.ceil(0.9 * total), 1)),
    }


def spread(b: int, n: int, seconds: int, i: int) -> float:
    """The i-th (1-based) of n durations in bucket b whose seconds sum to `seconds`."""
    mean = seconds / n
    bounds = rows_.DURATION_BOUNDS
    if n == 1 or b + 1 >= len(bounds):
        return mean
    low, high = bounds[b], bounds[b + 1]
    half = (high - low) * (0.5 - 0.5 / n)  # the farthest from the mean an even spread goes
    reach = max(min(half, mean - low, high - mean), 0)
    return round(mean + reach * ((i - 0.5) / n - 0.5) / (0.5 - 0.5 / n), 1)


def stored_summaries(
    org, kind: str, start, end, filters: "Filters", by: str | None = None, found: dict | None = None
) -> dict:
    """`duration_summaries` grouped `by` ("agent_id", "queue_id", None for all together), or
    the ones already read (`found`, by kind: `all_figures` reads them once for every figure)."""
    if found is None:
        return duration_summaries(org, start, end, filters, groupings=(by,))[kind][by]
    return found[kind][by]
