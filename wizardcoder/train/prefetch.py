"""The next steps' micro-batches, made in a background thread while the device works on the current step."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any


class Prefetcher:
    """`produce(step)` for each step of `steps`, in order, up to `depth` steps ahead, in a daemon thread.

    Collating a micro-batch of long packed rows takes milliseconds of Python: done in the step, the GPU would
    wait for it; pinning the tensors there also lets the step's copies to the GPU run asynchronously.
    An exception in `produce` is raised by the `get` of its step.
    """

    def __init__(self, produce: Callable[[int], Any], steps: Iterable[int], depth: int = 2):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(produce, steps), daemon=True,
                                        name="train-prefetch")
        self._thread.start()

    def _run(self, produce: Callable[[int], Any], steps: Iterable[int]) -> None:
        for step in steps:
            try:
                item = (step, produce(step), None)
            except BaseException as exc:  # noqa: BLE001 - handed to the training thread, raised there
                item = (step, None, exc)
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if self._stop.is_set() or item[2] is not None:
                return

    def get(self, step: int) -> Any:
        got, value, exc = self._queue.get()
        if exc is not None:
            raise exc
        if got != step:
            raise RuntimeError(f"prefetched step {got}, but the trainer is at step {step}")
        return value

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
