"""OpenAIClient against the real fake OpenAI server, through the real `openai` package."""

from __future__ import annotations

import email.utils
import random
import threading
import time
import zlib

import pytest

from wizardcoder.llm import LLMAuthError, LLMEndpointConfigError, LLMError, Request
from wizardcoder.llm.openai_client import OpenAIClient, parse_retry_after
from wizardcoder.testing.fake_server import Fault, body_text


def chat(text: str, **kwargs) -> Request:
    return Request.from_text(text, **kwargs)


def first_attempt(fault: Fault):
    return lambda body, attempt: fault if attempt == 1 else None


# ---------------------------------------------------------------------------------------- basics


def test_chat_and_completions_round_trip(make_server, make_client):
    server = make_server(reply=lambda body: f"[{body_text(body)}] done")
    client = make_client(server)
    requests = [chat("hello"), Request(prompt="def f():", max_tokens=16, temperature=0.0)]
    results = dict(client.generate(requests))
    assert results[0].texts == ("[hello] done",) and results[0].finish_reasons == ("stop",)
    assert results[1].text == "[def f():] done"
    assert all(c.ok for c in results.values())
    assert server.attempts == {"hello": 1, "def f():": 1}


def test_n_samples_and_usage_match_server_counts(make_server, make_client):
    server = make_server(reply=lambda body: "one two three")
    client = make_client(server, price_per_1k_prompt=1.0, price_per_1k_completion=2.0)
    completion = client.complete(chat("a b c d", n=3))
    assert completion.texts == ("one two three",) * 3
    usage = client.usage
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens) == (1, 4, 9)
    assert (server.prompt_tokens, server.completion_tokens) == (4, 9)
    assert usage.estimated == 0 and usage.retries == 0 and usage.failures == 0
    assert usage.cost == pytest.approx((4 * 1.0 + 9 * 2.0) / 1000)


def test_n_is_topped_up_when_the_server_ignores_it(make_server, make_client):
    counter = iter(range(100))
    server = make_server(reply=lambda body: f"sample {next(counter)}", honour_n=False)
    client = make_client(server)
    completion = client.complete(chat("three please", n=3))
    assert completion.texts == ("sample 0", "sample 1", "sample 2")
    assert server.attempts["three please"] == 3 and client.usage.requests == 1


def test_usage_is_estimated_when_the_reply_has_none(make_server, make_client):
    server = make_server(reply=lambda body: "x" * 40, include_usage=False)
    client = make_client(server)
    completion = client.complete(chat("y" * 8))
    assert completion.completion_tokens == 10 and completion.prompt_tokens == 2
    assert client.usage.estimated == 1 and client.usage.cost is None


def test_model_defaults_to_the_first_served_model(make_server, make_client):
    server = make_server(model="served-model")
    seen = []
    server.reply = lambda body: seen.append(body["model"]) or "ok"
    client = make_client(server, model=None)
    assert client.complete(chat("hi")).text == "ok"
    assert seen == ["served-model"] and client.model == "served-model"


def test_stop_sequences_beyond_the_api_limit_are_applied_client_side(make_server, make_client):
    server = make_server(reply=lambda body: f"keep {len(body['stop'])} stops CUT tail")
    client = make_client(server)
    completion = client.complete(chat("go", stop=("w1", "w2", "w3", "w4", "CUT")))
    assert completion.text == "keep 4 stops "
    assert completion.finish_reasons == ("stop",)


# ---------------------------------------------------------------------------------------- faults


def test_429_waits_at_least_retry_after(make_server, make_client):
    server = make_server(faults=first_attempt(Fault.rate_limit(0.6)))
    client = make_client(server)
    assert client.complete(chat("rate limited")).ok
    (t1, _), (t2, _) = server.arrivals
    assert t2 - t1 >= 0.6
    assert server.statuses[429] == 1 and client.usage.retries == 1


def test_retry_after_as_http_date_is_honoured(make_server, make_client):
    def faults(body, attempt):
        if attempt == 1:  # 3 s ahead; HTTP dates have 1 s resolution, so at least 2 s must pass
            return Fault.rate_limit(email.utils.formatdate(time.time() + 3, usegmt=True))
        return None

    server = make_server(faults=faults)
    client = make_client(server)
    assert client.complete(chat("dated")).ok
    (t1, _), (t2, _) = server.arrivals
    assert t2 - t1 >= 1.5


def test_retry_after_is_capped(make_server, make_client):
    server = make_server(faults=first_attempt(Fault.rate_limit(3600)))
    client = make_client(server, max_retry_after=0.1)
    assert client.complete(chat("capped")).ok
    (t1, _), (t2, _) = server.arrivals
    assert t2 - t1 < 30  # not the hour the header asked for


def test_parse_retry_after_forms():
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": "7"}, now) == 7.0
    assert parse_retry_after({"retry-after": "1.5"}, now) == 1.5
    assert parse_retry_after({"retry-after-ms": "250"}, now) == 0.25
    assert parse_retry_after({"retry-after": date}, now) == pytest.approx(30, abs=1)
    assert parse_retry_after({"retry-after": email.utils.formatdate(now - 30, usegmt=True)}, now) == 0.0
    assert parse_retry_after({"retry-after": "soon"}, now) is None
    assert parse_retry_after({}, now) is None


@pytest.mark.parametrize(
    "fault",
    [
        Fault.server_error(500),
        Fault.server_error(503),
        Fault.truncated(),
        Fault.malformed(),
        Fault.empty_choices(),
        Fault.disconnect(),
    ],
    ids=["500", "503", "truncated", "malformed", "empty_choices", "disconnect"],
)
def test_transient_fault_then_success(make_server, make_client, fault):
    server = make_server(reply=lambda body: "fine", faults=first_attempt(fault))
    client = make_client(server)
    completion = client.complete(chat("flaky"))
    assert completion.ok and completion.text == "fine"
    assert server.attempts["flaky"] == 2
    assert client.usage.retries == 1 and client.usage.failures == 0


def test_timeout_then_success(make_server, make_client):
    server = make_server(reply=lambda body: "late but fine", faults=first_attempt(Fault.hang(10)))
    client = make_client(server, timeout=0.3)
    completion = client.complete(chat("slow"))
    assert completion.ok and completion.text == "late but fine"
    assert server.attempts["slow"] == 2


def test_a_dripping_reply_is_cut_at_the_attempt_deadline_then_retried(make_server, make_client):
    """Every read gets a byte in time, so only a deadline on the whole attempt ends it."""
    server = make_server(reply=lambda body: "fine at last", faults=first_attempt(Fault.drip(60)))
    client = make_client(server, timeout=0.5)
    started = time.monotonic()
    completion = client.complete(chat("drip"))
    assert completion.ok and completion.text == "fine at last"
    assert server.attempts["drip"] == 2 and time.monotonic() - started < 15


def test_a_reply_that_is_not_http_is_retried(make_server, make_client):
    server = make_server(reply=lambda body: "fine", faults=first_attempt(Fault.garbage()))
    client = make_client(server)
    completion = client.complete(chat("noise"))
    assert completion.ok and completion.text == "fine"
    assert server.attempts["noise"] == 2 and client.usage.failures == 0


def test_permanent_500_gives_an_error_completion_after_max_retries_plus_one(make_server, make_client):
    server = make_server(faults=lambda body, attempt: Fault.server_error(500))
    client = make_client(server, max_retries=3)
    completion = client.complete(chat("doomed"))
    assert not completion.ok and completion.texts == ()
    assert "4 attempts" in completion.error and "500" in completion.error
    assert server.attempts["doomed"] == 4
    assert client.usage.failures == 1 and client.usage.retries == 3


def test_bad_request_is_refused_not_retried(make_server, make_client):
    server = make_server(faults=lambda body, attempt: Fault("status", 400))
    client = make_client(server)
    completion = client.complete(chat("too long"))
    assert not completion.ok and completion.error is None
    assert completion.http_status == 400 and "injected 400" in completion.rejected
    assert server.requests == 1 and client.usage.rejected == 1 and client.usage.retries == 0


@pytest.mark.parametrize("status", [401, 403])
def test_auth_error_raises_at_once_naming_the_env_var(make_server, make_client, monkeypatch, status):
    monkeypatch.setenv("WIZ_TEST_KEY", "wrong")
    server = make_server(faults=lambda body, attempt: Fault.unauthorized(status))
    client = make_client(server, api_key_env="WIZ_TEST_KEY")
    with pytest.raises(LLMAuthError, match="WIZ_TEST_KEY") as info:
        list(client.generate([chat("secret")]))
    assert f"HTTP {status}" in str(info.value)
    assert server.attempts["secret"] == 1


def test_server_api_key_is_checked(make_server, make_client, monkeypatch):
    server = make_server(api_key="sk-right")
    monkeypatch.setenv("WIZ_TEST_KEY", "sk-right")
    assert make_client(server, api_key_env="WIZ_TEST_KEY").complete(chat("hi")).ok
    monkeypatch.setenv("WIZ_TEST_KEY", "sk-wrong")
    with pytest.raises(LLMAuthError, match="WIZ_TEST_KEY"):
        make_client(server, api_key_env="WIZ_TEST_KEY").complete(chat("hi"))


def test_missing_key_for_the_official_api_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("WIZ_ABSENT_KEY", raising=False)
    with pytest.raises(LLMAuthError, match="WIZ_ABSENT_KEY"):
        OpenAIClient(None, "gpt-x", api_key_env="WIZ_ABSENT_KEY")


def test_wrong_base_url_fails_the_preflight_and_every_404_aborts(make_server, make_client):
    server = make_server()
    client = OpenAIClient(server.url.replace("/v1", "/nope"), "m", backoff_base=0.01)
    try:
        with pytest.raises(LLMEndpointConfigError, match="404.*base_url"):
            client.preflight()
        # without a preflight: 404 for every request before any succeeded is a wrong URL, not bad prompts
        with pytest.raises(LLMEndpointConfigError, match="every request so far got HTTP 404"):
            list(client.generate(chat(f"q{i}") for i in range(10)))
    finally:
        client.close()


def test_circuit_breaker_aborts_when_the_endpoint_is_down(make_server, make_client):
    server = make_server(faults=lambda body, attempt: Fault.server_error(503))
    client = make_client(server, max_retries=1, concurrency=4, breaker_window=10, breaker_min_failures=5)
    yielded: list = []
    with pytest.raises(LLMError, match="looks down"):
        yielded.extend(client.generate(chat(f"r{i}") for i in range(1000)))
    assert all(not c.ok for _, c in yielded)
    assert server.requests < 100  # stopped long before burning 1000 requests' retries


# ---------------------------------------------------------------------------------------- streaming


def test_nothing_lost_under_random_faults(make_server, make_client):
    kinds = [
        None,
        None,
        Fault.server_error(500),
        Fault.rate_limit(0.05),
        Fault.truncated(),
        Fault.malformed(),
        Fault.empty_choices(),
        Fault.disconnect(),
        Fault.hang(10),
    ]

    def faults(body, attempt):
        if attempt > 2:
            return None
        rng = random.Random(zlib.crc32(f"{body_text(body)}/{attempt}".encode()))
        return rng.choice(kinds)

    server = make_server(reply=lambda body: body_text(body).upper(), faults=faults)
    client = make_client(server, concurrency=16, timeout=0.5, max_retries=4)
    seen: dict[int, str] = {}
    for index, completion in client.generate(chat(f"task {i}") for i in range(200)):
        assert index not in seen
        assert completion.ok, completion.error
        seen[index] = completion.text
    assert seen == {i: f"TASK {i}" for i in range(200)}
    assert sum(server.attempts.values()) > 200  # faults really happened
    # Every extra attempt the server saw was a client retry. The client may count a few more: under load
    # a 0.5 s timeout can fire before the server has read the request, so the server never sees that try.
    assert client.usage.requests == 200
    assert sum(server.attempts.values()) - 200 <= client.usage.retries <= 4 * 200


@pytest.mark.parametrize("concurrency", [4, 40])  # 40: more than one connection-pool shard (32 slots each)
def test_concurrency_bound_is_respected(make_server, make_client, concurrency):
    server = make_server(latency=0.3)
    client = make_client(server, concurrency=concurrency)
    results = list(client.generate(chat(f"c{i}") for i in range(3 * concurrency)))
    assert len(results) == 3 * concurrency
    assert server.max_concurrent == concurrency


def test_input_is_consumed_lazily_with_bounded_in_flight(make_server, make_client):
    server = make_server(latency=0.05)
    client = make_client(server, concurrency=4, max_in_flight=8)
    pulled = 0
    lock = threading.Lock()

    def requests():
        nonlocal pulled
        for i in range(100):
            with lock:
                pulled += 1
            yield chat(f"lazy {i}")

    yielded = 0
    for _ in client.generate(requests()):
        yielded += 1
        assert pulled - yielded <= 8  # never more than max_in_flight submitted but not yet yielded
    assert yielded == 100


def test_results_arrive_in_completion_order(make_server, make_client):
    server = make_server(latency=lambda body: 0.5 if body_text(body) == "slow" else 0.0)
    client = make_client(server, concurrency=2)
    order = [index for index, _ in client.generate([chat("slow"), chat("fast")])]
    assert order == [1, 0]  # the slow request is first in the input but finishes last


def test_abandoned_stream_cancels_in_flight_work(make_server, make_client):
    server = make_server(latency=0.3)
    client = make_client(server, concurrency=4, max_in_flight=4)
    stream = client.generate(chat(f"a{i}") for i in range(1000))
    next(stream)
    stream.close()
    assert server.requests <= 8
    client.close()
    client.close()  # idempotent
    with pytest.raises(LLMError, match="closed"):
        client.complete(chat("after close"))


def test_256_concurrent_slow_requests(make_server, make_client):
    """The fake server holds 256 connections at once (3 s each: on a loaded machine the last of 256 may take
    over a second to go out) and the client really keeps 256 in flight."""
    server = make_server(latency=3.0)
    client = make_client(server, concurrency=256, timeout=60)
    results = dict(client.generate(chat(f"wide {i}") for i in range(256)))
    assert sorted(results) == list(range(256)) and all(c.ok for c in results.values())
    assert server.max_concurrent == 256


def test_typed_reply_fallback_parses_the_same(make_server, make_client):
    """Where the httpx flavour cannot be found, replies go through the openai package's own models."""
    server = make_server(reply=lambda body: "typed reply")
    client = make_client(server)
    client._ensure_started()
    client._raw_response = None
    results = dict(client.generate([chat("a", n=2), Request(prompt="b")]))
    assert results[0].texts == ("typed reply", "typed reply") and results[1].text == "typed reply"
    assert client.usage.completion_tokens == server.completion_tokens == 6


def test_the_request_template_sends_what_client_post_sends(monkeypatch):
    """The copied per-path request options (a CPU saving) put the same request on the wire as `client.post`."""
    import http.server
    import json

    from wizardcoder.llm import openai_wire

    seen: list[tuple[str, dict, dict]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server API
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, dict(self.headers), body))
            reply = json.dumps({"choices": [{"index": 0, "message": {"content": "ok"}, "finish_reason": "stop"}],
                                "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for template in (True, False):
            if not template:
                monkeypatch.setattr(openai_wire, "_options", lambda *args: None)
            client = OpenAIClient(f"http://127.0.0.1:{server.server_port}/v1", model="m", timeout=5.0, seed=0,
                                  preflight_timeout=5.0)
            try:
                for _ in range(2):
                    assert client.complete(chat("hello", max_tokens=5, seed=3)).text == "ok"
            finally:
                client.close()
    finally:
        server.shutdown()
    assert len(seen) == 4
    varying = {"idempotency-key", "x-stainless-retry-count"}
    wire = [(path, {k.lower(): v for k, v in headers.items() if k.lower() not in varying}, body)
            for path, headers, body in seen]
    assert wire[0] == wire[1] == wire[2] == wire[3]
    assert wire[0][0] == "/v1/chat/completions" and wire[0][2]["messages"][0]["content"] == "hello"


def test_a_source_that_waits_gets_its_next_request_sent_once_an_answer_is_in(make_server, make_client):
    """A request source whose next requests depend on answers yields WAIT meanwhile (evolve's single stream:
    a task's solves follow its evolution)."""
    from wizardcoder.llm import WAIT

    server = make_server()
    client = make_client(server, concurrency=4)
    answered: list[str] = []

    def source():
        yield chat("first")
        while not answered:
            yield WAIT
        yield chat(f"after {answered[0]}")

    got = []
    for _, completion in client.generate(source()):
        answered.append(completion.text)
        got.append(completion.text)
    assert got == ["echo: first", "echo: after echo: first"]


def test_waiting_with_nothing_in_flight_is_a_bug_of_the_source(make_server, make_client):
    from wizardcoder.llm import WAIT

    client = make_client(make_server())
    with pytest.raises(RuntimeError, match="WAIT"):
        list(client.generate(iter([WAIT])))
