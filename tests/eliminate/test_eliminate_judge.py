"""The equivalence judge: the request it builds, and reading chatty answers."""

from __future__ import annotations

import pytest

from wizardcoder.eliminate.judge import equivalence_request, parse_equivalence
from wizardcoder.llm import Request
from wizardcoder.testing.fake_llm import FakeClient


def test_request_holds_both_instructions_and_asks_for_equal_or_not():
    req = equivalence_request("Sum a list.", "Sum a list of ints, in O(n), rejecting non-integers.")
    assert isinstance(req, Request)
    assert req.messages is not None and len(req.messages) == 1
    content = req.messages[0]["content"]
    assert "Sum a list." in content and "rejecting non-integers" in content
    assert content.index("Sum a list.") < content.index("rejecting non-integers")
    assert "Not Equal" in content and "constraints" in content and "depth" in content
    assert req.temperature == 0.0 and req.max_tokens <= 64


@pytest.mark.parametrize("reply", [
    "Equal",
    "equal.",
    "**Equal**",
    "Your Judgement: Equal",
    "Judgement: Equal. Both ask for the same function with the same constraints.",
    "The two instructions are equivalent.",
    "They are identical in constraints and depth, so: Equal",
    "Yes, they are the same.",
    "Answer: Equal (the second only rephrases the first).",
])
def test_equal_answers(reply):
    assert parse_equivalence(reply) is True


@pytest.mark.parametrize("reply", [
    "Not Equal",
    "not equal.",
    "**Not Equal**",
    "Your Judgement: Not Equal",
    "Not Equal. The second instruction adds a complexity requirement.",
    "The two prompts are different: the second adds constraints.",
    "They are not the same; the second is deeper.",
    "Unequal",
    "No.",
    "Equal or Not Equal? Not Equal.",
    "The first is simpler. Judgement: Not Equal",
    "They look equal at first glance, but judgement: Not Equal",
])
def test_not_equal_answers(reply):
    assert parse_equivalence(reply) is False


@pytest.mark.parametrize("reply", ["", "   ", "I need more information.", "Equal or Not Equal", "42"])
def test_unparseable_answers_keep_the_sample(reply):
    assert parse_equivalence(reply) is False


def test_judge_round_trip_through_a_fake_client():
    client = FakeClient(lambda request: "Not Equal" if "O(n)" in request.messages[0]["content"] else "Equal")
    pairs = [("Sum a list.", "Sum a list, in O(n)."), ("Sum a list.", "Add up a list.")]
    requests = [equivalence_request(p, e) for p, e in pairs]
    answers = dict(client.generate(requests))
    assert [parse_equivalence(answers[i].text) for i in range(2)] == [False, True]
