"""Adaptive concurrency for one endpoint: how many requests it may have in flight, found by AIMD.

A small self-hosted server (llama.cpp with 4 slots) serves a few requests at once and queues the rest; sent
16, the queued ones wait for the others' whole replies and run into `llm.timeout`, and the server throws
away the work of each one that times out. So each endpoint's limit starts at `llm.concurrency` and:

* halves on a congestion signal: an attempt that timed out, or an HTTP 429;
* drops by a quarter when a reply took more than half of `llm.timeout` (the queue is growing toward timeouts);
* grows back by one per `limit` replies that came in time (additive increase, as TCP's congestion window);

bounded by [1, `llm.concurrency`]. One overload episode cuts once: the signals of attempts that started
before the last cut describe the old limit, not the new one.

Why not compare latency with a best-seen baseline: a batching server (vLLM, TGI) answers each request more
slowly as more run at once while its total throughput still rises; only queueing long enough to threaten the
timeout is worth giving up throughput for.
"""

from __future__ import annotations

BACKOFF = 0.5  # the limit after a timeout or a 429, as a share of the limit before
SLOW_BACKOFF = 0.75  # ... after a reply slower than half the timeout
SLOW_SHARE = 0.5  # a reply slower than this share of llm.timeout is a sign of queueing


class ConcurrencyLimit:
    """The requests one endpoint may have in flight (`allowed`); `enabled=False` keeps it at `ceiling`."""

    def __init__(self, ceiling: int, timeout: float, enabled: bool = True):
        self.ceiling = ceiling
        self.enabled = enabled
        self.slow_after = SLOW_SHARE * timeout
        self.value = float(ceiling)
        self.allowed = ceiling
        self.changed_at = float("-inf")  # monotonic time of the last cut
        self.cuts = 0
        self.last_cut = ""  # why, for the status line and the warnings

    def congested(self, started: float, now: float, why: str) -> None:
        """An attempt started at `started` timed out or was rate limited."""
        self._cut(started, now, BACKOFF, why)

    def answered(self, started: float, now: float) -> None:
        """An attempt started at `started` got its reply at `now`."""
        if not self.enabled:
            return
        if now - started > self.slow_after:
            self._cut(started, now, SLOW_BACKOFF, f"replies took over {self.slow_after:.0f}s")
        elif self.allowed < self.ceiling:
            self.value = min(float(self.ceiling), self.value + 1.0 / self.value)
            self.allowed = int(self.value)

    def _cut(self, started: float, now: float, factor: float, why: str) -> None:
        if not self.enabled or started < self.changed_at:
            return
        self.value = max(1.0, self.value * factor)
        self.allowed = int(self.value)
        self.changed_at = now
        self.cuts += 1
        self.last_cut = why
