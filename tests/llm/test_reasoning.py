"""Reasoning apart from the answer (`split_reasoning`) and refused parameters read from servers' own words
(`refused_parameter`)."""

from __future__ import annotations

import pytest

from wizardcoder.llm import Completion, Request
from wizardcoder.llm.quirks import Quirks, default_token_limit, refused_parameter
from wizardcoder.llm.reasoning import split_reasoning, with_answers
from wizardcoder.testing.fake_llm import FakeClient

DRAFT = "Rewritten Instruction: a DRAFT\n```python\ndef draft():\n    return 0\n```\n### Tests\n```python\nassert 0\n```"
ANSWER = "Rewritten Instruction: the task\n```python\ndef f():\n    return 1\n```"


@pytest.mark.parametrize("text", [
    f"<think>\n{DRAFT}\n</think>\n\n{ANSWER}",
    f"{DRAFT}\n</think>\n\n{ANSWER}",  # the opening tag was in the prompt (DeepSeek-R1, Qwen3.5)
    f"<think>\n<think>\n{DRAFT}\n</think>\n\n{ANSWER}",  # a duplicated opening tag
    f"<think>{DRAFT}<think>more</think>and more</think>{ANSWER}",  # nested
    f"<think>{DRAFT}<think>more</think>{ANSWER}",  # nested, the outer one never closed
    f"<think>{DRAFT}</think><think>second thoughts</think>{ANSWER}",  # two blocks
    f"<seed:think>{DRAFT}</seed:think>{ANSWER}",
    f"[THINK]{DRAFT}[/THINK]{ANSWER}",
    f"<|START_THINKING|>{DRAFT}<|END_THINKING|><|START_RESPONSE|>{ANSWER}<|END_RESPONSE|>",
    f"◁think▷{DRAFT}◁/think▷{ANSWER}",
    f"<|channel>thought\n{DRAFT}<channel|>{ANSWER}",
    f"<|channel|>analysis<|message|>{DRAFT}<|end|><|start|>assistant<|channel|>final<|message|>{ANSWER}<|return|>",
    (f"<|channel|>analysis<|message|>{DRAFT}<|end|><|start|>assistant<|channel|>final <|constrain|>json"
     f"<|message|>{ANSWER}"),
    f"analysis{DRAFT}assistantfinal{ANSWER}",  # harmony with the special tokens dropped
    f"Here is my thought process:\n{DRAFT}\nHere is my response:\n{ANSWER}",  # Granite 3.2
    f"Here are my reasoning steps:\n{DRAFT}\n[BEGIN FINAL RESPONSE]\n{ANSWER}\n[END FINAL RESPONSE]\n<|end|>",
    f"<think>{DRAFT}</think>\n<answer>\n{ANSWER}</answer>",  # Hunyuan
    f"<think>{DRAFT}</think><response>{ANSWER}</response>",  # Granite 3.3
])
def test_the_answer_comes_out_whole_and_the_draft_stays_in_the_reasoning(text):
    split = split_reasoning(text)
    assert split.answer.strip() == ANSWER
    assert split.complete and not split.answer_missing
    assert "DRAFT" in split.reasoning and "DRAFT" not in split.answer
    assert split.marker


def test_a_plain_reply_is_the_answer_unchanged():
    split = split_reasoning(ANSWER)
    assert split.answer == ANSWER and split.reasoning == "" and split.complete and not split.marker


def test_a_local_models_text_is_split_like_a_reply_from_an_endpoint():
    # the local clients (transformers, FakeClient) hand whole model texts to `with_answers`
    thinking = FakeClient(lambda request: f"<think>{DRAFT}</think>\n\n{ANSWER}").complete(Request.from_text("q"))
    assert thinking.text == ANSWER and "DRAFT" in thinking.reasoning() and not thinking.missing()
    assert thinking.raw_text().startswith("<think>") and thinking.reasoning_tokens > 0
    cut = FakeClient(lambda request: f"<think>{DRAFT}").complete(Request.from_text("q"))
    assert cut.text == "" and cut.missing()
    plain = Completion((ANSWER,), ("stop",), 1, 1)
    assert with_answers(plain) is plain


CUT_INSIDE_REASONING = [
    f"<think>\n{DRAFT}\nand then the token limit",
    f"<|channel|>analysis<|message|>{DRAFT}",
    f"Here is my thought process:\n{DRAFT}",
    f"Here are my reasoning steps:\n{DRAFT}",
    f"[THINK]{DRAFT}",
]


@pytest.mark.parametrize("text", CUT_INSIDE_REASONING)
def test_a_cut_reasoning_block_has_no_answer(text):
    split = split_reasoning(text)
    assert not split.complete and split.answer_missing and split.answer == ""
    assert "DRAFT" in split.reasoning


@pytest.mark.parametrize("text", CUT_INSIDE_REASONING)
def test_a_local_models_cut_reasoning_is_not_taken_as_its_answer(text):
    """The local clients' split looked for its own list of markers first, narrower than split_reasoning's: a
    local model cut inside its Granite or Apriel thinking had that thinking read as its answer."""
    cut = FakeClient(lambda request: text).complete(Request.from_text("q"))
    assert cut.text == "" and cut.missing() and "DRAFT" in cut.reasoning()


def test_a_reply_that_began_inside_its_block_is_learned_and_a_later_untagged_reply_is_thinking():
    first = split_reasoning(f"{DRAFT}</think>{ANSWER}")
    assert first.opened_in_prompt and first.answer == ANSWER
    assert not split_reasoning(f"<think>{DRAFT}</think>{ANSWER}").opened_in_prompt
    cut = split_reasoning("still thinking about the draft and", starts_inside=True)
    assert cut.answer_missing and cut.reasoning.startswith("still thinking")


def test_a_draft_with_an_unclosed_fence_does_not_hide_the_closing_tag():
    draft = "Maybe:\n```python\ndef draft():\n    return 0\n"
    for text in (f"{draft}</think>\n\n{ANSWER}", f"<think>{draft}</think>\n\n{ANSWER}"):
        split = split_reasoning(text)
        assert split.answer == ANSWER and "draft" in split.reasoning


def test_stopping_right_after_thinking_leaves_no_answer():
    split = split_reasoning(f"<think>{DRAFT}</think>\n")
    assert split.complete and split.answer_missing


@pytest.mark.parametrize("answer", [
    "```python\ndef strip(s):\n    return s.replace('</think>', '')\n```",
    "```python\n# a </think> tag inside code\nx = '<think>'\n```",
    'Write `strip_think(s)` that removes "<think>" blocks.',
])
def test_tags_in_the_answer_itself_are_left_alone(answer):
    assert split_reasoning(f"<think>{DRAFT}</think>{answer}").answer == answer
    assert split_reasoning(answer).answer == answer


# ---------------------------------------------------------------------------------------- refused parameters

SENT = {"model": "m", "max_tokens": 10, "temperature": 0.7, "top_p": 1.0, "seed": 3, "stop": ["x"],
        "reasoning_effort": "low", "response_format": {"type": "json_schema"}, "messages": []}


@pytest.mark.parametrize(("message", "error", "parameter"), [
    ("Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
     {"param": "max_tokens", "code": "unsupported_parameter"}, "max_tokens"),
    ("Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
     None, "max_tokens"),
    (("Unsupported value: 'temperature' does not support 0.7 with this model. Only the default (1) value is "
      "supported."), {"param": "temperature", "code": "unsupported_value"}, "temperature"),
    ("Unrecognized request argument supplied: reasoning_effort", None, "reasoning_effort"),
    ("Unsupported parameter: 'stop' is not supported with this model.", None, "stop"),
    ("[{'type': 'extra_forbidden', 'loc': ('body', 'seed'), 'msg': 'Extra inputs are not permitted'}]", None, "seed"),
    ('response_format type must be one of "text" or "json_object", but got: json_schema', None, "response_format"),
    ("Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
     {"param": "response_format", "code": None}, "response_format"),
    # refusals of the prompt, not of a parameter
    ("This model's maximum context length is 2048 tokens. However, you requested 3000 tokens.", None, None),
    (("'max_tokens' or 'max_completion_tokens' is too large: 5120. This model's maximum context length is 4096 "
      "tokens and your request has 300 input tokens (5120 > 4096 - 300)."), None, None),
    ("Invalid prompt: your prompt was flagged as potentially violating our usage policy.",
     {"param": None, "code": "invalid_prompt"}, None),
])
def test_the_refused_parameter_is_read_from_the_servers_words(message, error, parameter):
    assert refused_parameter(message, error, SENT) == parameter


def test_a_parameter_we_did_not_send_is_never_blamed():
    said = "Unrecognized request argument supplied: max_completion_tokens"
    assert refused_parameter(said, None, {"max_tokens": 5}) is None


def test_quirks_switch_the_token_limit_once_each_way_and_drop_the_rest_once():
    quirks = Quirks()
    assert quirks.learn("max_tokens") and quirks.token_limit == "max_completion_tokens"
    assert quirks.learn("max_tokens") == ""  # a request in flight before the switch: sent again as is
    assert quirks.learn("max_completion_tokens") is None  # both refused: the refusal stands
    assert quirks.learn("temperature") and quirks.learn("temperature") == ""
    assert quirks.learn("response_format") and quirks.schema_form == "json_schema"
    assert quirks.learn("json_schema") and quirks.schema_form is None
    body = quirks.apply({"temperature": 0.7, "top_p": 1.0}, 64, {"name": "x", "schema": {"type": "object"}})
    assert body == {"max_completion_tokens": 64, "top_p": 1.0}
    assert len(quirks.notes) == 4


def test_the_token_limit_starts_as_max_completion_tokens_on_openais_chat_api_only():
    assert default_token_limit(None, chat=True) == "max_completion_tokens"
    assert default_token_limit("https://api.openai.com/v1", chat=True) == "max_completion_tokens"
    assert default_token_limit("https://api.openai.com/v1", chat=False) == "max_tokens"
    assert default_token_limit("http://localhost:8000/v1", chat=True) == "max_tokens"
    assert default_token_limit("http://localhost:8000/v1", chat=True, setting="max_completion_tokens") == \
        "max_completion_tokens"
