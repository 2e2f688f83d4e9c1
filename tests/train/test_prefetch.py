"""The prefetcher: steps in order, ahead of the trainer, errors raised where the step is asked for."""

from __future__ import annotations

import threading

import pytest

from wizardcoder.train.prefetch import Prefetcher


def test_steps_come_in_order_made_in_another_thread():
    made_in = set()

    def produce(step):
        made_in.add(threading.current_thread().name)
        return step * 10

    prefetch = Prefetcher(produce, range(3, 8))
    assert [prefetch.get(s) for s in range(3, 8)] == [30, 40, 50, 60, 70]
    prefetch.close()
    assert made_in == {"train-prefetch"}


def test_an_error_is_raised_by_the_get_of_its_step_and_close_does_not_hang():
    def produce(step):
        if step == 2:
            raise ValueError("bad row")
        return step

    prefetch = Prefetcher(produce, range(5))
    assert prefetch.get(0) == 0 and prefetch.get(1) == 1
    with pytest.raises(ValueError, match="bad row"):
        prefetch.get(2)
    prefetch.close()
    stopped_early = Prefetcher(lambda s: s, range(10_000), depth=1)  # a run stopped after one step
    assert stopped_early.get(0) == 0
    stopped_early.close()
