"""What the ends of requests say about the whole run, across requests (for `OpenAIClient`).

* The circuit breaker: when most recent requests exhaust their retries, every endpoint is down, and the run
  stops with `LLMError` rather than burn through each remaining request's retries (days, for a million).
* Before any request has been answered, failures speak of the setup, not of the prompts: HTTP 404 for every
  request (a base_url without /v1, a wrong model) or the same refusal again and again (a parameter the server
  refuses) stop the run with `LLMEndpointConfigError`; and a refusal is taken as its prompt's own only once
  another request succeeds, or once nothing else in flight could (`refusal_stands`).

Refusals never feed the circuit breaker: they say nothing about an endpoint's health.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Callable

from wizardcoder.llm.base import Completion, LLMEndpointConfigError, LLMError

NOT_FOUND_ABORT = 3  # this many 404s before any success: the URL or model is wrong, not the prompts
SAME_REFUSAL_ABORT = 5  # alike refusals before any success: the requests are refused, not the prompts
FIRST_ANSWER_WAIT = 60.0  # seconds a refusal that came before any success waits for one (else it is an error)


class RunBreaker:
    """`record` every completion (from the loop thread); `refused_alike` and `refusal_stands` for a refusal
    that came before any answer. `describe()` says each endpoint's state, for the breaker's message."""

    def __init__(self, label: str, endpoints: int, max_retries: int, *, window: int, min_failures: int,
                 threshold: float, describe: Callable[[], str]):
        self.label = label  # the endpoints, as the messages name them
        self.endpoints = endpoints
        self.max_retries = max_retries
        self.min_failures = min_failures
        self.threshold = threshold
        self.describe = describe
        self.answered = False  # some request got texts: a later 404 is about its prompt, not the URL
        self._outcomes: collections.deque[bool] = collections.deque(maxlen=window)
        self._lock = threading.Lock()
        self._not_found = 0
        self._refused_first: dict[tuple[int | None, str], int] = {}  # refusals alike before any success
        self._refusals_waiting = 0  # refusals before any success waiting for one (on the loop)
        self._first_answer: asyncio.Event | None = None  # set with `answered`, on the loop
        self._alike_refusals: asyncio.Event | None = None  # SAME_REFUSAL_ABORT alike refusals: the run stops
        self._request_done: asyncio.Event | None = None  # set (and replaced) when an attempt ends, for them

    def start(self) -> None:
        """Make the events, on the loop that will wait on them."""
        self._first_answer = asyncio.Event()
        self._alike_refusals = asyncio.Event()
        self._request_done = asyncio.Event()

    def record(self, completion: Completion) -> Completion | LLMError:
        """Feed the circuit breaker (infrastructure outcomes only); returns the completion to deliver, or the
        error to abort with."""
        with self._lock:
            if completion.rejected is not None:  # a refusal says nothing about the endpoint's health
                if not self.answered:  # ... unless the endpoint has refused nothing but the same thing so far
                    said = (completion.http_status, completion.rejected)
                    if self._refused_first.get(said, 0) >= SAME_REFUSAL_ABORT:  # counted by refused_alike
                        return LLMEndpointConfigError(
                            f"the first {self._refused_first[said]} requests to {self.label} were all "
                            f"refused alike ({completion.rejected[:300]}), and none has succeeded: the endpoint "
                            "refuses our requests, not particular prompts. Check llm.model, llm.base_url, llm.api "
                            "and llm.extra_body against what the server accepts.")
                return completion
            if completion.http_status == 404 and not self.answered:
                # nothing but 404 so far (an error, asked again by a rerun): the URL or the model is wrong
                self._not_found += 1
                if self._not_found >= NOT_FOUND_ABORT:
                    return LLMEndpointConfigError(
                        f"every request so far got HTTP 404 from {self.label} (last: "
                        f"{completion.error}): check llm.base_url (it usually ends in /v1) and llm.model")
                return completion
            if completion.error is None and not self.answered:
                self.answered = True
                self._refused_first.clear()
                if self._first_answer is not None:
                    self._first_answer.set()  # record runs on the loop thread
            self._outcomes.append(completion.error is not None)
            failed = sum(self._outcomes)
            seen = len(self._outcomes)
            if failed >= self.min_failures and failed > self.threshold * seen:
                self._outcomes.clear()
                which = (f"the LLM endpoint {self.label}" if self.endpoints == 1
                         else f"every one of the {self.endpoints} LLM endpoints")
                return LLMError(
                    f"{which} looks down: {failed} of the last {seen} requests failed after {self.max_retries} "
                    f"retries each (last: {completion.error}). Endpoints: {self.describe()}. Check the server(s), "
                    "or lower llm.concurrency if overloaded; completed results are kept."
                )
        return completion

    def refused_alike(self, status: int, message: str) -> bool:
        """Count a refusal (not a 404) that came before any answer; True once SAME_REFUSAL_ABORT alike ones came:
        `record` then stops the run, and the refusals waiting in `refusal_stands` give up."""
        said = (status, message)
        alike = self._refused_first[said] = self._refused_first.get(said, 0) + 1
        if alike < SAME_REFUSAL_ABORT:
            return False
        assert self._alike_refusals is not None
        self._alike_refusals.set()
        return True

    async def refusal_stands(self, inflight: Callable[[], int], timeout: float) -> bool:
        """Before any success, whether a refusal is the prompt's verdict: yes once another request succeeds (the
        endpoint answers other prompts), or once nothing else in flight could (`inflight()`: requests in flight,
        every request was refused: each prompt is at fault); no, an error asked again, if no success comes within
        the time a reply may take. Alike refusals (SAME_REFUSAL_ABORT) stop the run instead."""
        assert self._first_answer is not None and self._alike_refusals is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(timeout, FIRST_ANSWER_WAIT)
        self._refusals_waiting += 1
        try:
            while not (self.answered or self._alike_refusals.is_set()):
                if inflight() - self._refusals_waiting <= 0:
                    return True  # nothing left that could succeed
                left = deadline - loop.time()
                if left <= 0:
                    return False
                waits = [asyncio.ensure_future(e.wait())
                         for e in (self._first_answer, self._alike_refusals, self._request_done)]
                try:
                    await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiting in waits:
                        waiting.cancel()
        finally:
            self._refusals_waiting -= 1
        return self.answered

    def attempt_ended(self) -> None:
        """An attempt ended (on the loop): the refusals waiting look again at what is still in flight."""
        if self._refusals_waiting:
            done, self._request_done = self._request_done, asyncio.Event()
            assert done is not None
            done.set()
