"""An overloaded endpoint: named within the (scaled-down) window, adaptive concurrency, honest end states.

The fake server plays a small self-hosted one: `slots` requests at once, the rest queued, each reply word
taking `token_seconds`, and a request whose client timed out dropped (as llama.cpp cancels it).
"""

from __future__ import annotations

import logging
import time

import pytest

from wizardcoder.llm import LLMError, Request
from wizardcoder.llm.adaptive import ConcurrencyLimit
from wizardcoder.testing.fake_server import Fault


def chat(text: str) -> Request:
    return Request.from_text(text)


def words(n: int):
    return lambda body: " ".join(["w"] * n)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.monotonic = time.monotonic()  # comparable with the fake server's arrival times
        self.records.append(record)


@pytest.fixture
def records():
    handler = _Records()
    logging.getLogger("wizardcoder").addHandler(handler)
    old = logging.getLogger("wizardcoder").level
    logging.getLogger("wizardcoder").setLevel(logging.INFO)
    yield handler.records
    logging.getLogger("wizardcoder").removeHandler(handler)
    logging.getLogger("wizardcoder").setLevel(old)


# ---------------------------------------------------------------------------------------- the warning


def test_an_overloaded_endpoint_is_named_within_the_window_with_the_symptom_and_the_fix(
        make_server, make_client, records):
    # 1 slot, 0.8 s a reply, 6 sent at once: nothing comes back for a while (the first warning: "no reply" after
    # half of llm.timeout, 0.6 s), then the queued ones time out
    server = make_server(reply=words(16), slots=1, token_seconds=0.05)
    client = make_client(server, concurrency=6, timeout=1.2, max_retries=1, overload_window=0.3,
                         overload_warn_every=0.5, status_interval=0)
    started = time.monotonic()
    results = dict(client.generate(chat(f"q{i}") for i in range(8)))
    elapsed = time.monotonic() - started
    assert len(results) == 8
    warnings = [r for r in records if r.levelno == logging.WARNING and "overloaded" in r.getMessage()]
    assert warnings, [r.getMessage() for r in records]
    first = warnings[0]
    assert first.monotonic - server.arrivals[0][0] < 0.3 + 2.0  # the window, a tick, a loaded machine's slack
    message = first.getMessage()
    assert server.url in message
    assert "no reply for" in message and "requests in flight" in message  # the symptom before any timeout
    assert "llm.concurrency" in message and "llm.timeout" in message and "endpoints" in message  # the fixes
    later = " ".join(w.getMessage() for w in warnings[1:])  # then the slow replies or the timeouts, named
    assert "replies took" in later or "timed out after 1.2s" in later
    assert len(warnings) <= elapsed / 0.5 + 1  # at a bounded rate


def test_a_healthy_endpoint_gets_no_warning(make_server, make_client, records):
    server = make_server(reply=words(5), slots=4, token_seconds=0.01)
    client = make_client(server, concurrency=4, timeout=5, overload_window=0.3, overload_warn_every=0.1)
    assert all(c.ok for _, c in client.generate(chat(f"q{i}") for i in range(40)))
    assert not [r for r in records if r.levelno >= logging.WARNING]
    assert client.usage.endpoints[server.url]["state"] == "healthy"


# ---------------------------------------------------------------------------------------- adaptive concurrency


def test_the_limit_halves_on_congestion_once_per_episode_and_grows_back_by_one_per_round():
    limit = ConcurrencyLimit(16, timeout=10.0)
    limit.congested(started=0.0, now=10.0, why="timeouts")
    assert limit.allowed == 8
    limit.congested(started=5.0, now=10.5, why="timeouts")  # started before the cut: the same episode
    assert limit.allowed == 8
    limit.answered(started=11.0, now=17.0)  # over half the timeout: queueing, a quarter off
    assert limit.allowed == 6 and "over 5s" in limit.last_cut
    for _ in range(7):  # a round of replies in time (one per request allowed): one more
        limit.answered(started=20.0, now=21.0)
    assert limit.allowed == 7
    for i in range(1000):
        limit.congested(started=100.0 + i, now=100.5 + i, why="HTTP 429")
    assert limit.allowed == 1  # never below one
    for _ in range(10_000):
        limit.answered(started=2000.0, now=2001.0)
    assert limit.allowed == 16 and limit.value == 16.0  # never above the configured value
    fixed = ConcurrencyLimit(16, timeout=10.0, enabled=False)
    fixed.congested(started=0.0, now=1.0, why="timeouts")
    fixed.answered(started=0.0, now=9.0)
    assert fixed.allowed == 16


def test_concurrency_shrinks_under_timeouts_and_grows_back_when_the_server_recovers(make_server, make_client):
    server = make_server(reply=words(20), slots=2, token_seconds=0.02)  # 0.4 s a reply, 2 at once
    client = make_client(server, concurrency=12, timeout=1.0, max_retries=8, status_interval=0)
    results = dict(client.generate(chat(f"slow {i}") for i in range(16)))
    assert all(c.ok for c in results.values())
    per = client.usage.endpoints[server.url]
    assert per["timeouts"] >= 1 and 1 <= per["concurrency"] < 12  # cut...
    assert per["state"] == "degraded" and "concurrency cut to" in per["reason"]
    # the server counts a request until it notices its client hung up (a timed-out attempt being re-sent), so
    # under load it may briefly hold more than the client's 12: each of those extra ones ends up `cancelled`
    assert server.max_concurrent <= 12 + server.cancelled and server.max_active <= 2 and server.cancelled >= 1
    server.token_seconds = 0.0  # the server recovers
    deadline = time.monotonic() + 10  # attempts abandoned above drain first: the peak below is the client's
    while server.concurrent and time.monotonic() < deadline:
        time.sleep(0.05)
    server.max_concurrent = 0
    results = dict(client.generate(chat(f"fast {i}") for i in range(300)))
    assert all(c.ok for c in results.values())
    per = client.usage.endpoints[server.url]
    assert per["concurrency"] == 12 and per["state"] == "healthy"  # ...and grown back, never above 12
    assert server.max_concurrent <= 12


def test_adaptive_concurrency_off_keeps_the_configured_value(make_server, make_client):
    server = make_server(reply=words(20), slots=2, token_seconds=0.02)
    client = make_client(server, concurrency=12, timeout=1.0, max_retries=2, adaptive_concurrency=False,
                         status_interval=0)
    list(client.generate(chat(f"slow {i}") for i in range(12)))  # some run out of retries
    per = client.usage.endpoints[server.url]
    assert per["timeouts"] >= 1 and per["concurrency"] == 12


# ---------------------------------------------------------------------------------------- the status line


def test_the_status_line_says_done_in_flight_tokens_and_each_endpoint(make_server, make_client, records):
    server = make_server(reply=words(10), latency=0.05)
    client = make_client(server, concurrency=4, status_interval=0.2)
    list(client.generate(chat(f"q{i}") for i in range(60)))
    time.sleep(0.5)  # the line after the last reply
    lines = [r.getMessage() for r in records if r.name == "wizardcoder.status"]
    assert lines, "no status line"
    assert all(line.startswith("LLM: ") and "done" in line and "in flight" in line and "tokens/s" in line
               and "timeouts" in line and f"{server.url} healthy" in line for line in lines)
    count = len(lines)
    time.sleep(0.6)
    assert len([r for r in records if r.name == "wizardcoder.status"]) == count  # idle: no more lines


# ---------------------------------------------------------------------------------------- honest states


def test_one_killed_endpoint_of_two_ends_down_not_healthy(make_server, make_client):
    a, b = make_server(latency=0.02), make_server(latency=0.02)
    client = make_client(a, base_url=[a.url, b.url], concurrency=4, max_retries=1, endpoint_cooldown=60)
    for done, _ in enumerate(client.generate(chat(f"q{i}") for i in range(60)), 1):
        if done == 10:
            a.stop()
    per = client.usage.endpoints
    assert per[a.url]["state"] == "down" and "connection refused" in per[a.url]["reason"].lower()
    assert per[b.url]["state"] == "healthy"
    assert f"{a.url}: down: out of rotation" in client._pool.describe()


def test_an_endpoint_failing_most_requests_is_degraded_not_healthy(make_server, make_client):
    # two of three attempts get a 500; each request gets through on a retry
    server = make_server(faults=lambda body, attempt: Fault.server_error() if attempt % 3 else None)
    client = make_client(server, concurrency=2, max_retries=4, status_interval=0)
    assert all(c.ok for _, c in client.generate(chat(f"q{i}") for i in range(10)))
    per = client.usage.endpoints[server.url]
    assert per["state"] == "degraded"
    assert "of its last" in per["reason"] and "HTTP 500" in per["reason"]


def test_a_dead_lone_endpoint_is_called_down_when_the_breaker_stops_the_run(make_server, make_client):
    server = make_server()
    client = make_client(server, concurrency=4, max_retries=1, breaker_min_failures=4, breaker_window=10)
    assert client.complete(chat("first")).ok
    server.outage = 503
    with pytest.raises(LLMError, match="looks down") as caught:
        list(client.generate(chat(f"q{i}") for i in range(40)))
    assert "healthy" not in str(caught.value) and f"{server.url}: down: its last" in str(caught.value)
