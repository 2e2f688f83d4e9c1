"""Refusals, preflight and many endpoints: OpenAIClient against real fake servers, through the real `openai` package."""

from __future__ import annotations

import socket
import time

import pytest

from wizardcoder.errors import UserError
from wizardcoder.llm import (
    LLMConfig,
    LLMConfigError,
    LLMEndpointConfigError,
    LLMError,
    Request,
    create_client,
)
from wizardcoder.llm.breaker import SAME_REFUSAL_ABORT
from wizardcoder.testing.fake_server import Fault, body_text


def chat(text: str, **kwargs) -> Request:
    return Request.from_text(text, **kwargs)


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------- refusals


def test_a_prompt_the_server_refuses_ends_rejected_not_retried_and_never_trips_the_breaker(make_server, make_client):
    server = make_server(reject_marker="HUGE-PROMPT")
    # a breaker this sensitive would trip on 3 failures; 10 refusals must not count as failures at all
    client = make_client(server, max_retries=3, breaker_window=10, breaker_min_failures=3, concurrency=4)
    texts = [f"HUGE-PROMPT {i}" if i % 3 == 0 else f"fine {i}" for i in range(30)]
    results = dict(client.generate(chat(t) for t in texts))
    assert sorted(results) == list(range(30))
    for i, completion in results.items():
        if i % 3 == 0:
            assert completion.rejected and "maximum context length" in completion.rejected
            assert completion.http_status == 400 and completion.error is None and not completion.ok
            assert server.attempts[texts[i]] == 1  # asked once, never retried
        else:
            assert completion.ok and completion.text == f"echo: {texts[i]}"
    usage = client.usage
    assert (usage.rejected, usage.failures, usage.retries, usage.requests) == (10, 0, 0, 30)
    assert usage.endpoints[server.url]["rejected"] == 10


@pytest.mark.parametrize("status", [404, 413, 422])
def test_other_deterministic_refusals_are_rejected_too(make_server, make_client, status):
    server = make_server(faults=lambda body, attempt: Fault("status", status) if "bad" in body_text(body) else None)
    client = make_client(server)
    assert client.complete(chat("good")).ok
    refused = client.complete(chat("bad one"))
    assert refused.http_status == status and f"HTTP {status}" in refused.rejected
    assert server.attempts["bad one"] == 1


def test_a_404_before_any_success_is_not_taken_as_the_prompts_refusal(make_server, make_client):
    """404 for everything is a wrong URL or model: until some request succeeds, a 404 is an infrastructure error
    (asked again by a rerun, never recorded as a verdict), and the third one aborts the run."""
    server = make_server(faults=lambda body, attempt: Fault("status", 404) if "bad" in body_text(body) else None)
    client = make_client(server)
    first = client.complete(chat("bad 1"))
    assert first.error and "404" in first.error and first.rejected is None
    assert client.complete(chat("good")).ok
    assert client.complete(chat("bad 2")).rejected  # now it is about that prompt
    fresh = make_client(server)
    with pytest.raises(LLMEndpointConfigError, match="every request so far got HTTP 404"):
        list(fresh.generate(chat(f"bad {i}") for i in range(10)))


@pytest.mark.parametrize("status", [429, 500, 503])
def test_infrastructure_statuses_are_still_retried_errors(make_server, make_client, status):
    server = make_server(faults=lambda body, attempt: Fault("status", status, retry_after="0"))
    client = make_client(server, max_retries=2)
    completion = client.complete(chat("x"))
    assert completion.error and completion.rejected is None and server.attempts["x"] == 3


def test_prompts_that_cannot_fit_the_context_are_refused_before_sending(make_server):
    server = make_server()
    cfg = LLMConfig(base_url=server.url, model="fake-model", max_context_tokens=300)
    with create_client(cfg) as client:
        results = dict(client.generate([chat("short", max_tokens=64), chat("word " * 400, max_tokens=64),
                                        chat("x" * 800, max_tokens=200)]))
        assert results[0].ok
        for i in (1, 2):
            assert results[i].http_status is None and "llm.max_context_tokens 300" in results[i].rejected
        assert server.requests == 1 and client.usage.rejected == 2


# ---------------------------------------------------------------------------------------- preflight


def test_preflight_fails_within_seconds_naming_the_url_when_the_connection_is_refused():
    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.monotonic()
    with create_client(LLMConfig(base_url=url, model="m")) as client, pytest.raises(LLMError) as caught:
        client.preflight()
    assert time.monotonic() - started < 5
    assert url in str(caught.value) and "refused" in str(caught.value).lower()
    assert not isinstance(caught.value, UserError)  # infrastructure: exit 1, not 2


def test_preflight_lists_the_served_models_when_the_name_is_unknown(make_server, make_client):
    server = make_server(model="served-model-a")
    client = make_client(server, model="no-such-model")
    with pytest.raises(LLMEndpointConfigError) as caught:
        client.preflight()
    assert isinstance(caught.value, UserError)  # bad input: exit 2
    assert "'no-such-model'" in str(caught.value) and "served-model-a" in str(caught.value)
    assert server.requests == 0


def test_preflight_picks_the_served_model_when_none_is_set(make_server, make_client):
    server = make_server(model="only-model")
    client = make_client(server, model=None)
    client.preflight()
    assert client.model == "only-model" and client.complete(chat("hi")).ok


# ---------------------------------------------------------------------------------------- many endpoints


def test_base_url_lists_are_validated():
    assert LLMConfig(base_url=["http://a:1/v1"]).base_url == "http://a:1/v1"
    assert LLMConfig(base_url=["http://a:1/v1", "http://b:1/v1"]).base_urls == ["http://a:1/v1", "http://b:1/v1"]
    for bad in ([], ["http://a:1/v1", "http://a:1/v1"], ["http://a:1/v1", "ftp://b"]):
        with pytest.raises(LLMConfigError, match="llm.base_url"):
            LLMConfig(base_url=bad)


def test_requests_spread_over_endpoints_by_load(make_server, make_client):
    a, b = make_server(latency=0.05), make_server(latency=0.05)
    client = make_client(a, base_url=[a.url, b.url], concurrency=8)
    client.preflight()
    results = dict(client.generate(chat(f"q{i}") for i in range(80)))
    assert all(c.ok for c in results.values()) and len(results) == 80
    per = client.usage.endpoints
    assert per[a.url]["requests"] + per[b.url]["requests"] == 80
    assert min(per[a.url]["requests"], per[b.url]["requests"]) >= 20  # both carried a fair share


def test_one_endpoint_killed_mid_run_loses_nothing(make_server, make_client):
    a, b = make_server(latency=0.05), make_server(latency=0.05)
    client = make_client(a, base_url=[a.url, b.url], concurrency=8, max_retries=1, endpoint_cooldown=60)
    texts = [f"task {i}" for i in range(200)]
    results = {}
    for index, completion in client.generate(chat(t) for t in texts):
        results[index] = completion
        if len(results) == 40:
            a.stop()  # the kill switch: in-flight connections drop, new ones are refused
    assert sorted(results) == list(range(200))
    assert all(c.ok and c.text == f"echo: {texts[i]}" for i, c in results.items())
    usage = client.usage
    per = usage.endpoints
    assert usage.failures == 0 and per[a.url]["taken_out"] == 1 and per[a.url]["state"] == "down"
    assert "connection refused" in per[a.url]["reason"]
    assert per[a.url]["requests"] >= 10 and per[a.url]["requests"] + per[b.url]["requests"] == 200
    assert per[b.url]["state"] == "healthy"


def test_a_5xx_storm_takes_an_endpoint_out_until_a_probe_finds_it_back(make_server, make_client):
    a, b = make_server(latency=0.01), make_server(latency=0.01)
    a.outage = 503
    client = make_client(a, base_url=[a.url, b.url], concurrency=4, max_retries=1, endpoint_cooldown=0.2,
                         endpoint_down_after=3)
    first = dict(client.generate(chat(f"storm {i}") for i in range(40)))
    assert all(c.ok for c in first.values())
    per = client.usage.endpoints
    # out at least once (a probe may let it back in a while, /models still answering), and it served nothing
    assert per[a.url]["taken_out"] >= 1 and per[a.url]["requests"] == 0 and per[a.url]["failed_attempts"] >= 3
    a.outage = None
    deadline = time.monotonic() + 10
    while client.usage.endpoints[a.url]["state"] == "down" and time.monotonic() < deadline:
        time.sleep(0.05)
    second = dict(client.generate(chat(f"calm {i}") for i in range(40)))
    assert all(c.ok for c in second.values())
    assert client.usage.endpoints[a.url]["requests"] >= 10 and client.usage.failures == 0


@pytest.mark.parametrize("fault", [Fault.server_error(502), Fault.hang(), Fault.disconnect(), Fault.malformed(),
                                   Fault.truncated()], ids=["502", "hang", "disconnect", "malformed", "truncated"])
def test_any_failing_endpoint_is_taken_out_while_the_healthy_one_serves_everything(make_server, make_client, fault):
    sick, healthy = make_server(faults=lambda body, attempt: fault), make_server(latency=0.01)
    client = make_client(sick, base_url=[sick.url, healthy.url], concurrency=4, max_retries=2, timeout=0.5,
                         endpoint_down_after=3, endpoint_cooldown=60)

    def questions():  # at least 40; more while the sick one is still in rotation (a loaded machine can
        i = 0          # finish 40 on the healthy one before a hanging endpoint has timed out 3 times)
        deadline = time.monotonic() + 30
        while i < 40 or (client.usage.endpoints[sick.url]["taken_out"] == 0 and time.monotonic() < deadline):
            yield chat(f"q{i}")
            i += 1

    results = dict(client.generate(questions()))
    assert all(c.ok and c.text == f"echo: q{i}" for i, c in results.items()) and len(results) >= 40
    per = client.usage.endpoints
    assert per[sick.url]["taken_out"] == 1 and per[sick.url]["requests"] == 0
    assert per[healthy.url]["requests"] == len(results) and client.usage.failures == 0


def test_a_rate_limited_endpoint_gets_no_requests_until_its_retry_after_while_another_is_free(
        make_server, make_client):
    limited, free = make_server(faults=lambda body, attempt: Fault.rate_limit(30)), make_server(latency=0.01)
    client = make_client(limited, base_url=[limited.url, free.url], concurrency=4, max_retries=2)
    started = time.monotonic()
    results = dict(client.generate(chat(f"q{i}") for i in range(40)))
    assert time.monotonic() - started < 15  # nobody sat out the 30 s Retry-After
    assert all(c.ok for c in results.values()) and len(results) == 40
    per = client.usage.endpoints
    assert per[free.url]["requests"] == 40 and 1 <= per[limited.url]["rate_limited"] <= 4
    assert per[limited.url]["taken_out"] == 0  # busy is not down


def test_an_endpoint_down_at_preflight_is_skipped(make_server, make_client):
    b = make_server()
    dead = f"http://127.0.0.1:{free_port()}/v1"
    client = make_client(b, base_url=[dead, b.url], endpoint_cooldown=60)
    client.preflight()
    results = dict(client.generate(chat(f"q{i}") for i in range(20)))
    assert all(c.ok for c in results.values())
    assert client.usage.endpoints[dead]["requests"] == 0 and client.usage.endpoints[b.url]["requests"] == 20


def test_all_endpoints_down_stops_the_run_cleanly(make_server, make_client):
    a, b = make_server(latency=0.02), make_server(latency=0.02)
    client = make_client(a, base_url=[a.url, b.url], concurrency=4, max_retries=1, breaker_window=10,
                         breaker_min_failures=5)
    done = []
    started = time.monotonic()
    with pytest.raises(LLMError, match="every one of the 2 LLM endpoints looks down") as caught:
        for index, completion in client.generate(chat(f"t{i}") for i in range(1000)):
            done.append(completion)
            if len(done) == 20:
                a.stop()
                b.stop()
    assert time.monotonic() - started < 30
    assert sum(c.ok for c in done) >= 20 and len(done) < 100
    assert a.url in str(caught.value) and b.url in str(caught.value)


# ---------------------------------------------------------------- odd servers


@pytest.mark.parametrize("models_reply", [b'{"data": {"id": "fake-model"}}', b'{"data": ["fake-model"]}',
                                          b'{"data": [{"name": "fake-model"}]}', b"{}", b'{"data": null}',
                                          b"<html>models</html>", b"0"])
def test_a_models_reply_that_is_no_model_list_leaves_the_name_unchecked(make_server, make_client, models_reply):
    server = make_server(models_reply=models_reply)
    client = make_client(server)
    client.preflight()  # no crash, no "cannot reach": it answered
    assert client.complete(chat("hello")).ok


def test_a_redirect_that_reaches_the_client_is_an_error_not_a_refusal(make_server, make_client):
    server = make_server(faults=lambda body, attempt: Fault("status", 301) if attempt == 1 else None)
    client = make_client(server)
    completion = client.complete(chat("moved"))
    assert completion.ok and server.attempts["moved"] == 2 and client.usage.rejected == 0


def test_a_200_error_body_is_retried(make_server, make_client):
    payload = {"error": {"message": "overloaded, try later"}}
    server = make_server(faults=lambda body, attempt: Fault.reply(payload) if attempt == 1 else None)
    client = make_client(server)
    assert client.complete(chat("odd")).ok and server.attempts["odd"] == 2


def test_choice_indices_of_mixed_types_are_read_in_order_given(make_server, make_client):
    payload = {"choices": [{"index": "0", "message": {"content": "a"}}, {"index": 1, "message": {"content": "b"}}]}
    server = make_server(faults=lambda body, attempt: Fault.reply(payload))
    completion = make_client(server).complete(chat("odd", n=2))
    assert completion.texts == ("a", "b")


def test_a_200_error_body_is_named_when_retries_run_out(make_server, make_client):
    server = make_server(faults=lambda body, attempt: Fault.reply({"error": {"message": "overloaded, try later"}}))
    completion = make_client(server, max_retries=1).complete(chat("odd"))
    assert completion.error is not None and "overloaded, try later" in completion.error


@pytest.mark.parametrize("usage", [{"prompt_tokens": -5, "completion_tokens": -7},
                                   {"prompt_tokens": True, "completion_tokens": False},
                                   {"prompt_tokens": 10**30, "completion_tokens": 3}])
def test_usage_figures_that_cannot_be_counts_are_estimated(make_server, make_client, usage):
    reply = {"choices": [{"index": 0, "message": {"content": "four words of text"}}], "usage": usage}
    server = make_server(faults=lambda body, attempt: Fault.reply(reply))
    completion = make_client(server).complete(chat("count me"))
    assert completion.ok and completion.prompt_tokens > 0 and 0 < completion.completion_tokens < 100


def test_a_dropped_connection_is_not_reported_as_a_timeout(make_server, make_client):
    server = make_server(faults=lambda body, attempt: Fault.disconnect())
    completion = make_client(server, max_retries=1).complete(chat("dropped"))
    assert completion.error is not None and "timed out" not in completion.error


def test_an_endpoint_that_refuses_every_request_alike_stops_the_run(make_server, make_client):
    """A parameter or model the server rejects (HTTP 400 on everything) is not a verdict on every prompt."""
    server = make_server(faults=lambda body, attempt: Fault("status", 400, message="Unsupported parameter: "
                                                             "'max_tokens'; use 'max_completion_tokens'"))
    for concurrency in (1, 8):  # one at a time, or many in flight (they wait for a success that never comes)
        client = make_client(server, concurrency=concurrency, timeout=30.0)
        started = time.monotonic()
        with pytest.raises(LLMEndpointConfigError, match="max_completion_tokens"):
            list(client.generate(chat(f"task {i}") for i in range(40)))
        # Each prompt is sent at most twice (as asked, then with the token limit the server names); the run
        # stops after SAME_REFUSAL_ABORT refusals, with at most `concurrency` prompts in flight: far fewer
        # than the 40 prompts x 2 a run that took each refusal as that prompt's verdict would send.
        assert time.monotonic() - started < 10
        assert server.requests <= 2 * (SAME_REFUSAL_ABORT + concurrency), server.requests
        server.reset_stats()


def test_a_refusal_before_any_success_waits_for_one_and_is_then_a_verdict(make_server, make_client):
    """At the start of a run refusals come back first (successes take the latency): one refused prompt among
    answered ones is still that prompt's verdict."""
    server = make_server(latency=lambda body: 0.0 if "too long" in body_text(body) else 0.4,
                         faults=lambda body, attempt: Fault.context_length_exceeded()
                         if "too long" in body_text(body) else None)
    client = make_client(server, concurrency=4)
    got = dict(client.generate([chat("too long"), chat("fine 1"), chat("fine 2"), chat("fine 3")]))
    assert got[0].rejected is not None and got[0].error is None
    assert all(got[i].ok for i in (1, 2, 3)) and server.attempts["too long"] == 1


def test_a_refusal_before_any_success_waits_only_while_a_success_can_come(make_server, make_client):
    """The other request in flight fails (503, no retries left): nothing can succeed any more, so the refusal
    is decided then, as the prompt's verdict, not after the whole timeout."""
    server = make_server(latency=lambda body: 1.0 if "slow" in body_text(body) else 0.0,
                         faults=lambda body, attempt: Fault("status", 400, message="bad")
                         if "bad" in body_text(body) else Fault.server_error(503))
    client = make_client(server, concurrency=2, timeout=20.0, max_retries=0)
    started = time.monotonic()
    got = dict(client.generate([chat("slow one"), chat("bad one")]))
    assert time.monotonic() - started < 5
    assert got[0].error is not None and got[1].rejected is not None and got[1].error is None


def test_a_refusal_by_one_endpoint_is_asked_of_another(make_server, make_client):
    """One endpoint that lost the model (404) or has a smaller context (400) is no verdict on the prompt."""
    good = make_server()
    bad = make_server(faults=lambda body, attempt: Fault("status", 404, message="model not found"))
    client = make_client(good, base_url=[good.url, bad.url])
    got = dict(client.generate([chat(f"p{i}") for i in range(12)]))
    assert all(c.ok for c in got.values()) and client.usage.rejected == 0
    assert bad.requests > 0  # it was asked, and refused


def test_refusals_waiting_for_a_success_do_not_wait_for_each_other(make_server, make_client):
    """Four prompts each refused in their own words, nothing else in flight: no success can come, so each is
    its prompt's verdict at once (they waited the timeout for each other)."""
    server = make_server(faults=lambda body, attempt: Fault("status", 400, message=f"too long: {body_text(body)}"))
    client = make_client(server, concurrency=4, timeout=20.0)
    started = time.monotonic()
    got = dict(client.generate([chat(f"p{i}") for i in range(4)]))
    assert time.monotonic() - started < 5
    assert all(c.rejected is not None and c.error is None for c in got.values())
    assert server.requests == 4


def test_an_endpoint_whose_models_reply_is_no_list_comes_back_after_an_outage(make_server, make_client):
    """The re-probe takes any answer as alive, as the preflight does (it did not for an odd /models body)."""
    odd = make_server(models_reply=b"<html>ok</html>")
    good = make_server()
    client = make_client(good, base_url=[odd.url, good.url], endpoint_cooldown=0.2)
    client.preflight()
    assert client._pool is not None
    endpoint = next(e for e in client._pool.endpoints if e.url == odd.url)
    import asyncio

    problem = asyncio.run_coroutine_threadsafe(client._pool.probe(endpoint), client._loop).result(10)
    assert problem is None
