"""Webhooks arriving together share one transaction: each caller gets its own results, a lone
caller is not kept waiting, and one webhook that fails does not fail the others."""

import asyncio
import threading
import time

import pytest

from conversa.inbound.front_door import GroupCommit


class Recorder:
    def __init__(self, delay: float = 0.02, poison=None):
        self.batches: list[list] = []
        self.threads: set[str] = set()
        self.delay = delay
        self.poison = poison

    def __call__(self, items: list) -> list:
        self.threads.add(threading.current_thread().name)
        if self.poison in items:
            raise ValueError("poisoned")
        time.sleep(self.delay)
        self.batches.append(list(items))
        return [f"stored {item}" for item in items]


def run_together(commit: GroupCommit, calls: list[list]) -> list:
    async def main():
        return await asyncio.gather(*(commit(items) for items in calls), return_exceptions=True)

    return asyncio.run(asyncio.wait_for(main(), timeout=10))


def test_concurrent_callers_share_batches_and_get_their_own_results():
    apply = Recorder()
    calls = [[f"a{n}", f"b{n}"] for n in range(16)]
    outcomes = run_together(GroupCommit(apply), calls)
    assert outcomes == [[f"stored a{n}", f"stored b{n}"] for n in range(16)]
    assert len(apply.batches) < 16, "callers waiting together were applied together"
    assert sorted(item for batch in apply.batches for item in batch) == sorted(
        item for call in calls for item in call
    )
    assert len(apply.threads) == 1, "one writer thread applies every batch"


def test_a_lone_caller_is_applied_at_once():
    apply = Recorder(delay=0)
    commit = GroupCommit(apply)

    async def one_then_another():
        return [await commit(["x"]), await commit(["y"])]

    assert asyncio.run(one_then_another()) == [["stored x"], ["stored y"]]
    assert apply.batches == [["x"], ["y"]]


def test_a_batch_never_grows_past_its_limit():
    apply = Recorder(delay=0.01)
    commit = GroupCommit(apply)
    commit.MAX_EVENTS = 5
    outcomes = run_together(commit, [[n, n] for n in range(20)])
    assert outcomes == [[f"stored {n}", f"stored {n}"] for n in range(20)]
    assert max(len(batch) for batch in apply.batches) <= 5


def test_one_failing_webhook_fails_alone():
    apply = Recorder(poison="bad")
    calls = [["ok1"], ["bad"], ["ok2"], ["ok3"]]
    outcomes = run_together(GroupCommit(apply), calls)
    assert isinstance(outcomes[1], ValueError)
    assert [outcomes[0], outcomes[2], outcomes[3]] == [
        ["stored ok1"],
        ["stored ok2"],
        ["stored ok3"],
    ]


@pytest.mark.parametrize("callers", [2, 40, 100])
def test_no_caller_is_left_waiting(callers):
    outcomes = run_together(GroupCommit(Recorder(delay=0.001)), [[n] for n in range(callers)])
    assert outcomes == [[f"stored {n}"] for n in range(callers)]
