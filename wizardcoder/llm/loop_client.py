"""`LoopClient`: a synchronous `LLMClient` whose requests run as coroutines on a private event loop.

The loop runs in one daemon thread, started by the first call. An in-flight request costs a coroutine and a
socket, not a thread, and a synchronous caller (the stages are plain loops) does not have to be async.
`generate()` pulls from the input iterable in the caller's thread only while fewer than `max_in_flight`
requests are submitted but not yet yielded, so a generator of a million requests streams in flat memory and a
slow consumer applies backpressure instead of piling up results.

A subclass provides `_complete(request)` (on the loop), and may provide `_setup()` (on the loop, once),
`_record(completion)` (a completion to deliver, or the error that aborts the run) and `_release()` (on the
loop, as it closes). `Fatal` raised by `_complete` aborts the run with the error it wraps.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from wizardcoder.llm.base import WAIT, Completion, LLMClient, LLMError, ProgressFn, Request

log = logging.getLogger(__name__)


class Fatal(Exception):
    """Wraps an error that must abort the whole run (auth, wrong URL)."""

    def __init__(self, error: LLMError):
        super().__init__(str(error))
        self.error = error


@dataclass
class _Abort:
    error: BaseException


class LoopClient(LLMClient):
    """See the module docstring."""

    thread_name = "wizardcoder-llm"

    def __init__(self, max_in_flight: int):
        self.max_in_flight = max_in_flight
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    # ---------------------------------------------------------------- what a subclass provides
    async def _setup(self) -> None:
        """Runs once on the loop, before any request."""

    async def _complete(self, request: Request) -> Completion:
        raise NotImplementedError

    def _record(self, completion: Completion) -> Completion | LLMError:
        """The completion to deliver, or the error to abort the run with (on the loop)."""
        return completion

    async def _release(self) -> None:
        """Runs on the loop as the client closes, after every task is cancelled."""

    # ---------------------------------------------------------------- event-loop thread
    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._closed:
                raise LLMError(f"this {type(self).__name__} is closed")
            if self._loop is not None:
                return self._loop
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
            self._thread.start()
            ready.wait()
            asyncio.run_coroutine_threadsafe(self._setup(), loop).result()
            self._loop = loop
            return loop

    def close(self) -> None:
        with self._start_lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._release()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        except Exception as exc:  # noqa: BLE001 - closing must not raise
            log.debug("error while closing the HTTP client: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

    # ---------------------------------------------------------------- streaming
    def generate(
        self, requests: Iterable[Request], progress: ProgressFn | None = None
    ) -> Iterator[tuple[int, Completion]]:
        loop = self._ensure_started()
        results: queue.Queue[tuple[int, Completion | _Abort]] = queue.Queue()
        pending: dict[int, concurrent.futures.Future] = {}
        source = iter(requests)
        exhausted = False
        next_index = 0
        try:
            while True:
                while not exhausted and len(pending) < self.max_in_flight:
                    try:
                        request = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    if request is WAIT:  # nothing to send until an answer is in
                        if not pending:
                            raise RuntimeError("the request source yielded WAIT with no request in flight")
                        break
                    if not isinstance(request, Request):
                        raise TypeError(f"generate() takes Request objects, got {type(request).__name__}")
                    pending[next_index] = asyncio.run_coroutine_threadsafe(
                        self._deliver(next_index, request, results), loop
                    )
                    next_index += 1
                if not pending:
                    return
                index, item = self._next_result(results)
                pending.pop(index, None)
                if isinstance(item, _Abort):
                    raise item.error
                if progress is not None:
                    progress(item)
                yield index, item
        finally:
            for future in pending.values():
                future.cancel()

    def _next_result(self, results: queue.Queue) -> tuple[int, Any]:
        while True:
            try:
                return results.get(timeout=1.0)
            except queue.Empty:
                if self._thread is None or not self._thread.is_alive():
                    raise LLMError("the LLM client's event loop stopped unexpectedly") from None

    async def _deliver(self, index: int, request: Request, results: queue.Queue) -> None:
        try:
            completion = await self._complete(request)
        except asyncio.CancelledError:
            raise
        except Fatal as fatal:
            results.put((index, _Abort(fatal.error)))
            return
        except BaseException as exc:  # noqa: BLE001 - a bug must surface, not hang the consumer
            results.put((index, _Abort(exc)))
            return
        outcome = self._record(completion)
        results.put((index, _Abort(outcome) if isinstance(outcome, LLMError) else outcome))
