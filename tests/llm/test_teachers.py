"""OpenAIClient against the fake server answering like each kind of teacher (`TeacherStyle`): reasoning in
every wire style, refused parameters (OpenAI's reasoning models), JSON schemas honoured or refused, reasoning
tokens, thinking cut by the token limit."""

from __future__ import annotations

import json
import logging

import pytest

from wizardcoder.llm import LLMEndpointConfigError, Request
from wizardcoder.testing.fake_server import Fault
from wizardcoder.testing.teachers import FIELDS, INLINE, WIRE_STYLES, TeacherStyle

ANSWER = "Rewritten Instruction: write f(x) that returns x + 1"
DRAFT = "Rewritten Instruction: a DRAFT that must not be parsed\n```python\ndef draft():\n    return 0\n```"
SCHEMA = {"name": "evolved", "schema": {"type": "object", "properties": {"instruction": {"type": "string"}},
                                        "required": ["instruction"], "additionalProperties": False}}


def ask(text: str = "evolve this", **kwargs) -> Request:
    return Request.from_text(text, max_tokens=kwargs.pop("max_tokens", 64), **kwargs)


def teacher(wire: str = "think", **kwargs) -> TeacherStyle:
    return TeacherStyle(wire, draft=kwargs.pop("draft", lambda body, answer: DRAFT), **kwargs)


@pytest.mark.parametrize("wire", WIRE_STYLES)
def test_every_wire_style_gives_the_plain_answer_and_keeps_the_thinking_apart(make_server, make_client, wire):
    server = make_server(reply=lambda body: ANSWER, teacher=teacher(wire))
    client = make_client(server)
    completion = client.complete(ask())
    assert completion.ok and completion.text == ANSWER and completion.finish_reasons == ("stop",)
    assert not completion.missing()
    if wire == "plain":
        assert completion.reasoning() == "" and completion.reasoning_tokens == 0
        return
    assert "DRAFT" in completion.reasoning() and "DRAFT" not in completion.text
    if wire in INLINE:
        assert "DRAFT" in completion.raw_text()  # the reply as sent, for raw/
    assert completion.reasoning_tokens == len(DRAFT.split()) == client.usage.reasoning_tokens
    assert client.usage.endpoints[server.url]["reasoning_tokens"] == len(DRAFT.split())
    assert client.usage.completion_tokens == len(DRAFT.split()) + len(ANSWER.split())


def test_reasoning_tokens_are_counted_from_the_text_where_the_server_gives_none(make_server, make_client):
    server = make_server(reply=lambda body: ANSWER, teacher=teacher("reasoning_content", reasoning_usage=False))
    client = make_client(server)
    completion = client.complete(ask())
    assert completion.reasoning_tokens > 0
    assert client.usage.reasoning_tokens == completion.reasoning_tokens and client.usage.reasoning_estimated == 1


@pytest.mark.parametrize("wire", ["think", "reasoning_content", "reasoning", "harmony"])
def test_thinking_cut_by_the_token_limit_leaves_no_answer(make_server, make_client, wire):
    long_draft = " ".join(["thinking"] * 100)
    server = make_server(reply=lambda body: ANSWER, teacher=teacher(wire, draft=lambda body, answer: long_draft))
    client = make_client(server, reasoning_budget=0)
    completion = client.complete(ask(max_tokens=30))
    assert completion.ok and completion.text == "" and completion.missing()
    assert completion.finish_reasons == ("length",)
    assert server.requests == 1  # no budget to add: not asked again


def test_a_reply_cut_inside_its_thinking_is_asked_again_at_once_with_the_reasoning_budget(make_server, make_client):
    long_draft = " ".join(["thinking"] * 100)
    server = make_server(reply=lambda body: ANSWER, teacher=teacher("think", draft=lambda body, answer: long_draft))
    client = make_client(server, reasoning_budget=200)
    first = client.complete(ask("first", max_tokens=30))
    assert first.text == ANSWER and not first.missing()
    assert server.attempts["first"] == 2 and client.usage.resent == 1
    assert client.usage.requests == 1 and client.usage.rejected == 0
    assert client.usage.completion_tokens == 30 + 100 + len(ANSWER.split())  # the cut reply's tokens count too
    second = client.complete(ask("second", max_tokens=30))  # known to think: the budget goes with the first try
    assert second.text == ANSWER and server.attempts["second"] == 1


def test_a_budget_the_context_cannot_hold_is_dropped_for_that_request(make_server, make_client):
    def faults(body, attempt):
        return Fault.context_length_exceeded(4096) if body.get("max_tokens", 0) > 1000 else None

    server = make_server(reply=lambda body: ANSWER, faults=faults)
    client = make_client(server, reasoning_effort="high", reasoning_budget=4096)  # a reasoning model from the start
    completion = client.complete(ask())
    assert completion.ok and completion.text == ANSWER and client.usage.rejected == 0


def test_a_reply_that_begins_inside_its_block_teaches_the_client_that_untagged_cut_replies_are_thinking(
        make_server, make_client):
    server = make_server(reply=lambda body: ANSWER, teacher=teacher("think_open"))
    client = make_client(server, reasoning_budget=0)
    assert client.complete(ask("whole")).text == ANSWER
    cut = client.complete(ask("cut", max_tokens=5))  # "Rewritten Instruction: a DRAFT ..." without "</think>"
    assert cut.missing() and cut.text == "" and "DRAFT" in cut.reasoning()


def test_max_tokens_refused_switches_to_max_completion_tokens_without_refusing_any_prompt(
        make_server, make_client, caplog):
    server = make_server(reply=lambda body: ANSWER, teacher=teacher("reasoning", refuses=frozenset({"max_tokens"})))
    client = make_client(server, concurrency=4)
    with caplog.at_level(logging.WARNING):
        results = dict(client.generate(ask(f"prompt {i}") for i in range(12)))
    assert all(c.ok and c.text == ANSWER for c in results.values())
    refused = server.statuses[400]
    assert 1 <= refused <= 4  # only the requests already in flight met the refusal
    usage = client.usage
    assert usage.rejected == 0 and usage.failures == 0 and usage.requests == 12 and usage.resent == refused
    said = "max_tokens refused: the token limit goes as max_completion_tokens"
    assert usage.endpoints[server.url]["adjusted"] == [said]
    assert sum("max_completion_tokens" in r.message for r in caplog.records) == 1  # one warning


def test_max_completion_tokens_refused_switches_back(make_server, make_client):
    server = make_server(reply=lambda body: ANSWER, teacher=teacher(refuses=frozenset({"max_completion_tokens"})))
    client = make_client(server, token_limit_param="max_completion_tokens")
    assert [c.text for _, c in client.generate(ask(f"p{i}") for i in range(6))] == [ANSWER] * 6
    assert client.usage.rejected == 0
    assert client.usage.endpoints[server.url]["adjusted"][0].endswith("goes as max_tokens")


def test_a_server_that_refuses_both_token_limits_stops_the_run_as_before(make_server, make_client):
    server = make_server(reply=lambda body: ANSWER,
                         teacher=teacher(refuses=frozenset({"max_tokens", "max_completion_tokens"})))
    client = make_client(server, concurrency=1)
    with pytest.raises(LLMEndpointConfigError, match="refused alike"):
        list(client.generate(ask(f"p{i}") for i in range(8)))


def test_temperature_stop_and_reasoning_effort_refused_are_dropped_with_one_warning_each(make_server, make_client):
    refuses = frozenset({"max_tokens", "temperature", "stop", "reasoning_effort"})
    server = make_server(reply=lambda body: ANSWER + " END tail", teacher=teacher(refuses=refuses))
    client = make_client(server, reasoning_effort="low")
    completion = client.complete(ask(temperature=0.7, stop=("END",)))
    assert completion.ok and completion.text == ANSWER + " "  # the stop sequence is applied on our side
    adjusted = client.usage.endpoints[server.url]["adjusted"]
    assert len(adjusted) == 4 and client.usage.resent == 4


def test_a_json_schema_is_honoured_and_the_completion_says_so(make_server, make_client):
    server = make_server(reply=lambda body: ANSWER, teacher=teacher("think"))
    client = make_client(server)
    completion = client.complete(ask(response_format=SCHEMA))
    assert json.loads(completion.text) == {"instruction": ANSWER} and completion.structured
    assert not client.complete(ask("no schema")).structured


def test_a_refused_schema_moves_to_llamacpps_field_then_to_markdown(make_server, make_client):
    old_llamacpp = make_server(reply=lambda body: ANSWER, teacher=teacher(schemas=False))
    client = make_client(old_llamacpp)
    completion = client.complete(ask(response_format=SCHEMA))
    assert json.loads(completion.text) == {"instruction": ANSWER} and completion.structured  # via `json_schema`
    assert client.usage.rejected == 0

    no_schemas = make_server(reply=lambda body: ANSWER, teacher=teacher(schemas=False,
                                                                         refuses=frozenset({"json_schema"})))
    client = make_client(no_schemas)
    completion = client.complete(ask(response_format=SCHEMA))
    assert completion.text == ANSWER and not completion.structured  # markdown from then on
    assert client.complete(ask("again", response_format=SCHEMA)).text == ANSWER
    assert no_schemas.statuses[400] == 2 and client.usage.rejected == 0


def test_each_endpoint_keeps_its_own_adjustments(make_server, make_client):
    strict = make_server(reply=lambda body: ANSWER, teacher=teacher(refuses=frozenset({"max_tokens"})))
    lenient = make_server(reply=lambda body: ANSWER, teacher=teacher())
    client = make_client(strict, base_url=[strict.url, lenient.url])
    results = [c for _, c in client.generate(ask(f"p{i}") for i in range(20))]
    assert all(c.text == ANSWER for c in results)
    usage = client.usage.endpoints
    assert "adjusted" in usage[strict.url] and "adjusted" not in usage[lenient.url]


def test_inline_and_field_styles_are_all_known_to_the_fake():
    assert set(WIRE_STYLES) == {"plain", *FIELDS, *INLINE}
    with pytest.raises(ValueError, match="wire must be one of"):
        TeacherStyle("telepathy")


def test_structured_off_reads_as_off_though_yaml_makes_it_false():
    from wizardcoder.config import load_config
    from wizardcoder.evolve import EvolveConfig

    cfg = load_config(EvolveConfig, None, ["llm.structured=off", "llm.base_url=http://127.0.0.1:9/v1"])
    assert cfg.llm.structured == "off" and not cfg.llm.wants_schema()
    assert load_config(EvolveConfig, None, ["llm.base_url=http://127.0.0.1:9/v1"]).llm.wants_schema()
    assert not load_config(EvolveConfig, None, []).llm.wants_schema()  # the embedded model: off by default
