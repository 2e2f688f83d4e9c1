"""Watching the endpoints while a run goes: the overload warning and the periodic status line.

`HealthMonitor.run()` is a task on the client's event loop. Every `tick` seconds it compares each endpoint's
counters with those of `window` seconds ago:

* **Overload warning** (WARNING, at most once per `warn_every` seconds per endpoint) when attempts timed out,
  when nothing came back for `window` seconds (or half of `llm.timeout` if longer: long replies are expected
  then) while requests were in flight (queued at the server, or stuck), when replies took over half of
  `llm.timeout` on average, or on HTTP 429. It names the endpoint, the symptoms with the tokens/s the
  endpoint delivered, and the fixes. Retries log only at DEBUG, so without it
  an overloaded server looks like a silent hang (a first timeout comes only after `llm.timeout`).
* **Status line** (INFO on the `wizardcoder.status` logger, every `status_every` seconds while there is work):
  requests done and in flight, tokens/s, timeouts, each endpoint's state. The CLI shows the latest one as the
  last line of its live display, or as a plain log line where there is none (`--no-progress`, output not a
  terminal).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import NamedTuple

from wizardcoder.llm.endpoints import Endpoint, EndpointPool
from wizardcoder.progress import STATUS_LOGGER

log = logging.getLogger(__name__)
status_log = logging.getLogger(STATUS_LOGGER)  # the one-line status protocol (wizardcoder.progress)


class _Mark(NamedTuple):
    """An endpoint's running totals at one time."""

    at: float
    answered: int
    timeouts: int
    rate_limited: int
    latency: float
    tokens: int


def _mark(endpoint: Endpoint, now: float) -> _Mark:
    c = endpoint.counts
    return _Mark(now, c["requests"], c["timeouts"], c["rate_limited"], endpoint.latency_total,
                 c["completion_tokens"])


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class HealthMonitor:
    """See the module docstring. `status_every=0` turns the status line off."""

    def __init__(self, pool: EndpointPool, timeout: float, *, window: float = 60.0, warn_every: float = 300.0,
                 status_every: float = 30.0):
        self.pool = pool
        self.timeout = timeout
        self.window = window
        self.warn_every = warn_every
        self.status_every = status_every
        self.tick = max(0.05, min(5.0, window / 6, status_every or 5.0))
        now = time.monotonic()
        self._marks = {id(e): collections.deque([_mark(e, now)]) for e in pool.endpoints}
        self._warned_at = dict.fromkeys(self._marks, float("-inf"))
        self._status_at = now
        self._status_totals = self._totals()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            try:
                self.check(time.monotonic())
            except Exception:  # a report that fails must not stop the requests
                log.exception("the LLM endpoint monitor failed")

    def check(self, now: float) -> None:
        for endpoint in self.pool.endpoints:
            marks = self._marks[id(endpoint)]
            marks.append(_mark(endpoint, now))
            while len(marks) > 2 and now - marks[1].at >= self.window:
                marks.popleft()  # keep the latest mark at least `window` old, and those after it
            symptoms = self.symptoms(endpoint, now, marks[0], marks[-1])
            if symptoms and now - self._warned_at[id(endpoint)] >= self.warn_every:
                self._warned_at[id(endpoint)] = now
                log.warning("%s", self.warning(endpoint, symptoms, marks[0], marks[-1]))
        if self.status_every and now - self._status_at >= self.status_every:
            line = self.status_line(now)
            if line is not None:
                status_log.info("%s", line)

    # ---------------------------------------------------------------- the overload warning
    def symptoms(self, endpoint: Endpoint, now: float, then: _Mark, current: _Mark) -> list[str]:
        """What says `endpoint` is overloaded between the marks `then` and `current` (none: it is fine)."""
        if not endpoint.healthy:
            return []  # out of rotation: its own warning said so
        found = []
        timeouts = current.timeouts - then.timeouts
        if timeouts:
            found.append(f"{_plural(timeouts, 'attempt')} timed out after {self.timeout:g}s (llm.timeout)")
        quiet = now - max(endpoint.last_answer_at, endpoint.busy_since)
        if endpoint.inflight and quiet >= max(self.window, 0.5 * self.timeout):  # a long llm.timeout: long replies
            found.append(f"no reply for {quiet:.3g}s with {endpoint.inflight} requests in flight (queued at the "
                         "server, or stuck)")
        answered = current.answered - then.answered
        if answered:
            mean = (current.latency - then.latency) / answered
            if mean > 0.5 * self.timeout:
                found.append(f"replies took {mean:.3g}s on average, over half of llm.timeout: requests queue "
                             "at the server")
        limited = current.rate_limited - then.rate_limited
        if limited:
            found.append(f"{_plural(limited, 'request')} rate limited (HTTP 429)")
        return found

    def warning(self, endpoint: Endpoint, symptoms: list[str], then: _Mark, current: _Mark) -> str:
        span = max(current.at - then.at, 1e-9)
        rate = (current.tokens - then.tokens) / span
        limit = endpoint.limit
        now_at = f"now {limit.ceiling}"
        if limit.allowed < limit.ceiling:
            now_at += f"; adaptive concurrency has cut it to {limit.allowed}"
        elif not limit.enabled:
            now_at += "; llm.adaptive_concurrency=true would lower it by itself"
        return (f"LLM endpoint {endpoint.label} looks overloaded: {'; '.join(symptoms)}. It delivered "
                f"{rate:.1f} tokens/s over the last {span:.3g}s with {endpoint.inflight} requests in flight. "
                f"Fix: lower llm.concurrency ({now_at}) to what the server runs at once (llama.cpp: its --parallel "
                f"slots), raise llm.timeout (now {self.timeout:g}s), or add endpoints (repeat --base-url, or give "
                "llm.base_url a list).")

    # ---------------------------------------------------------------- the status line
    def _totals(self) -> tuple[int, int, int]:
        endpoints = self.pool.endpoints
        return (sum(e.counts["requests"] for e in endpoints), sum(e.counts["completion_tokens"] for e in endpoints),
                sum(e.counts["timeouts"] for e in endpoints))

    def status_line(self, now: float) -> str | None:
        """Requests done / in flight, tokens/s since the last line, timeouts, each endpoint's state; None when
        nothing happened since the last line (no line while the client is idle)."""
        totals = self._totals()
        inflight = self.pool.inflight()
        if totals == self._status_totals and not inflight:
            return None
        rate = (totals[1] - self._status_totals[1]) / max(now - self._status_at, 1e-9)
        self._status_at, self._status_totals = now, totals
        head = (f"LLM: {totals[0]} done, {inflight} in flight, {rate:.{0 if rate >= 10 else 1}f} tokens/s, "
                f"{_plural(totals[2], 'timeout')}")
        parts = [head]
        for endpoint in self.pool.endpoints:
            state, _ = endpoint.state()
            limit = endpoint.limit
            room = f", concurrency {limit.allowed}/{limit.ceiling}" if limit.allowed < limit.ceiling else ""
            parts.append(f"{endpoint.label} {state}{room}")
        return "; ".join(parts)


def endpoint_summary(url: str, counters: dict) -> str:
    """One endpoint's line of a stage's summary, from its `usage.endpoints` counters."""
    return f"endpoint {url}: {endpoint_state(counters)}"


def endpoint_state(counters: dict) -> str:
    """An endpoint's state as of the end of the run and why, then what it did."""
    state = counters.get("state", "healthy")
    reason = f": {counters['reason']}" if counters.get("reason") else ""
    return (f"{state}{reason}; {counters.get('requests', 0)} answered, {counters.get('rejected', 0)} refused, "
            f"{counters.get('failed_attempts', 0)} failed attempts ({counters.get('timeouts', 0)} timed out), "
            f"taken out {counters.get('taken_out', 0)}x")


def summary_endpoints(endpoints: dict[str, dict]) -> dict[str, dict]:
    """The endpoints a summary names: every one when there are several, a lone one only when it is not healthy."""
    if len(endpoints) > 1:
        return endpoints
    return {url: c for url, c in endpoints.items() if c.get("state", "healthy") != "healthy"}
