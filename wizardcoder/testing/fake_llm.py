"""`FakeClient`: scripted, deterministic replies for tests of the stages that use an LLM.

Shipped in the package (not a mock): it implements the whole `LLMClient` interface, consumes its
input lazily, applies stop sequences and counts usage like the real clients do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence

from wizardcoder.llm.base import (
    WAIT,
    Completion,
    LLMClient,
    ProgressFn,
    Request,
    Usage,
    UsageCounter,
    estimate_tokens,
    request_text,
    truncate_at_stop,
)
from wizardcoder.llm.reasoning import with_answers

Reply = Callable[[Request], "str | Completion"]


def echo_reply(request: Request) -> str:
    """The last message (or the prompt), unchanged."""
    if request.messages is not None:
        return str(request.messages[-1].get("content") or "")
    return request.prompt or ""


class FakeClient(LLMClient):
    """Replies from a script.

    `replies` is a list (the k-th sample generated gets `replies[k % len(replies)]`, in input order,
    so a list shorter than the run cycles) or a callable `Request -> str` (called once per sample;
    it may also return a `Completion`, e.g. `Completion.failed("boom")` to script an infrastructure
    failure). Every request seen is kept in `self.requests`, in order.
    """

    name = "fake"

    def __init__(
        self,
        replies: Sequence[str] | Reply,
        *,
        apply_stop: bool = True,
        price_per_1k_prompt: float | None = None,
        price_per_1k_completion: float | None = None,
        keep_requests: bool = True,
    ):
        if callable(replies):
            self._reply: Reply = replies
        else:
            script = list(replies)
            if not script:
                raise ValueError("FakeClient needs at least one scripted reply")
            counter = iter(range(1 << 62))
            self._reply = lambda _request: script[next(counter) % len(script)]
        self.apply_stop = apply_stop
        # every request, for tests to inspect; off for command runs (`llm.provider=fake`), where it would
        # grow with the task count and pass for the pipeline's memory
        self.keep_requests = keep_requests
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._usage = UsageCounter(price_per_1k_prompt, price_per_1k_completion)
        self._closed = False

    def _one(self, request: Request) -> Completion:
        texts: list[str] = []
        reasons: list[str] = []
        for _ in range(request.n):
            reply = self._reply(request)
            if isinstance(reply, Completion):
                if reply.error is not None:
                    self._usage.add(requests=1, failures=1)
                    return reply
                texts.extend(reply.texts)
                reasons.extend(reply.finish_reasons)
                continue
            if not isinstance(reply, str):
                raise TypeError(f"FakeClient reply must be a str or Completion, got {type(reply).__name__}")
            text = truncate_at_stop(reply, request.stop)[0] if self.apply_stop else reply
            texts.append(text)
            reasons.append("stop")
        prompt_tokens = estimate_tokens(request_text(request))
        completion_tokens = sum(estimate_tokens(t) for t in texts)
        completion = with_answers(Completion(tuple(texts), tuple(reasons), prompt_tokens, completion_tokens))
        self._usage.add(requests=1, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                        reasoning_tokens=completion.reasoning_tokens)
        return completion

    def generate(
        self, requests: Iterable[Request], progress: ProgressFn | None = None
    ) -> Iterator[tuple[int, Completion]]:
        if self._closed:
            raise RuntimeError("FakeClient is closed")
        index = -1
        for request in requests:
            if request is WAIT:  # answers come back at once here: a source never waits on this client
                continue
            index += 1
            with self._lock:
                if self.keep_requests:
                    self.requests.append(request)
                completion = self._one(request)
            if progress is not None:
                progress(completion)
            yield index, completion

    @property
    def usage(self) -> Usage:
        return self._usage.snapshot()

    def close(self) -> None:
        self._closed = True
