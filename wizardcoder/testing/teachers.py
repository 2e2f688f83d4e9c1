"""How the fake OpenAI server answers like each kind of teacher: `TeacherStyle`.

A reasoning model thinks before it answers, and servers hand the thinking back in several wire styles (see
`wizardcoder/llm/reasoning.py`). A style takes the scripted answer (the server's `reply` function) and the
thinking (`draft`, e.g. misleading drafts of the answer) and puts both on the wire as that kind of teacher
does; it may also refuse parameters the way OpenAI's reasoning models do, honour or refuse a JSON schema,
report reasoning tokens, and cut a reply at the token limit the request asked for (finish reason "length").

    FakeOpenAIServer(reply, teacher=TeacherStyle("think", draft=lambda body, answer: "Let me think..."))
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wizardcoder.evolve.parsing import ParsedSolution, parse_solution
from wizardcoder.testing.faults import Fault

# wire style -> (before the thinking, between thinking and answer, after the answer) for inline styles
INLINE = {
    "think": ("<think>\n", "\n</think>\n\n", ""),
    "think_open": ("", "\n</think>\n\n", ""),  # DeepSeek-R1 / Qwen3.5 templates: <think> is in the prompt
    "think_twice": ("<think>\n<think>\n", "\n</think>\n\n", ""),  # a duplicated opening tag
    "seed": ("<seed:think>", "</seed:think>", ""),
    "mistral": ("[THINK]", "[/THINK]", ""),
    "cohere": ("<|START_THINKING|>", "<|END_THINKING|><|START_RESPONSE|>", "<|END_RESPONSE|>"),
    "kimi": ("◁think▷", "◁/think▷", ""),
    "gemma": ("<|channel>thought\n", "<channel|>", ""),
    "harmony": ("<|channel|>analysis<|message|>", "<|end|><|start|>assistant<|channel|>final<|message|>",
                "<|return|>"),
    "harmony_bare": ("analysis", "assistantfinal", ""),  # the special tokens dropped by the server
    "granite": ("Here is my thought process:\n", "\nHere is my response:\n", ""),
    "apriel": ("Here are my reasoning steps:\n", "\n[BEGIN FINAL RESPONSE]\n", "\n[END FINAL RESPONSE]\n<|end|>"),
}
FIELDS = {"reasoning_content": "reasoning_content", "reasoning": "reasoning"}  # style -> message field
WIRE_STYLES = ("plain", *FIELDS, *INLINE)

# what OpenAI (and Azure) say when a model does not take a parameter
REFUSALS = {
    "max_tokens": ("Unsupported parameter: 'max_tokens' is not supported with this model. Use "  # noqa: ISC004
                   "'max_completion_tokens' instead.", "unsupported_parameter"),
    "max_completion_tokens": ("Unrecognized request argument supplied: max_completion_tokens", None),
    "temperature": ("Unsupported value: 'temperature' does not support {value} with this model. "  # noqa: ISC004
                    "Only the default (1) value is supported.", "unsupported_value"),
    "top_p": ("Unsupported parameter: 'top_p' is not supported with this model.", "unsupported_parameter"),
    "stop": ("Unsupported parameter: 'stop' is not supported with this model.", "unsupported_parameter"),
    "seed": ("Unrecognized request argument supplied: seed", None),
    "reasoning_effort": ("Unrecognized request argument supplied: reasoning_effort", None),
    "json_schema": ("Unrecognized request argument supplied: json_schema", None),
}
# an older llama.cpp server on a schema it cannot take
SCHEMA_REFUSAL = 'response_format type must be one of "text" or "json_object", but got: json_schema'

Draft = Callable[[dict, str], str]
StructuredReply = Callable[[dict, str], str]


def words(text: str) -> int:
    return len(text.split())


@dataclass(frozen=True)
class TeacherStyle:
    """One kind of teacher on the wire.

    wire: one of WIRE_STYLES ("plain": the answer alone).
    draft: (request body, answer) -> the thinking text; None: a fixed short one.
    refuses: request parameters answered with HTTP 400 in OpenAI's words (see REFUSALS); "temperature" refuses
        any value but 1.
    schemas: honour a `response_format` of type json_schema; False: refuse it with HTTP 400, as an older
        llama.cpp does (which takes its own top-level `json_schema`: refuse that too with
        refuses={"json_schema"}). `structured` turns the scripted answer into the JSON the schema asks for
        (default `as_json`).
    enforce_limit: cut the reply (thinking first) at the token limit the request asks for, counting words as
        tokens, with finish reason "length".
    reasoning_usage: report `completion_tokens_details.reasoning_tokens` (False: servers that do not).
    """

    wire: str = "plain"
    draft: Draft | None = None
    refuses: frozenset[str] = frozenset()
    schemas: bool = True
    structured: StructuredReply | None = None
    enforce_limit: bool = True
    reasoning_usage: bool = True

    def __post_init__(self) -> None:
        if self.wire not in WIRE_STYLES:
            raise ValueError(f"wire must be one of {', '.join(WIRE_STYLES)}, got {self.wire!r}")
        unknown = set(self.refuses) - set(REFUSALS)
        if unknown:
            raise ValueError(f"cannot refuse {sorted(unknown)}: one of {', '.join(REFUSALS)}")

    def refusal(self, body: dict) -> Fault | None:
        """The HTTP 400 this teacher gives a request body, if any."""
        for name in self.refuses:
            if name not in body or (name == "temperature" and body[name] == 1):
                continue
            message, code = REFUSALS[name]
            error = {"message": message.format(value=body[name]), "type": "invalid_request_error", "param": name,
                     "code": code}
            return Fault.reply({"error": error}, status=400)
        schema = _schema(body)
        if schema is not None and not self.schemas and "response_format" in body:
            return Fault.reply({"error": {"code": 400, "message": SCHEMA_REFUSAL, "type": "invalid_request_error"}},
                               status=400)
        return None

    def choice(self, body: dict, answer: str, chat: bool) -> tuple[dict[str, Any], str, int, int]:
        """(the choice's message fields, or {"text"} for completions; finish reason; completion tokens; reasoning
        tokens) for one scripted answer."""
        schema = _schema(body)
        if schema is not None and (self.schemas or "json_schema" in body):
            answer = (self.structured or as_json)(body, answer)
        thinking = "" if self.wire == "plain" else (self.draft(body, answer) if self.draft else "Let me think.")
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        finish = "stop"
        if self.enforce_limit and isinstance(limit, int) and words(thinking) + words(answer) > limit:
            finish = "length"
            kept = limit - words(thinking)
            if kept <= 0:  # cut inside the thinking: no answer at all
                thinking, answer = " ".join(thinking.split()[:limit]), ""
            else:
                answer = " ".join(answer.split()[:kept])
        thought = words(thinking)
        if self.wire in FIELDS and chat:
            fields: dict[str, Any] = {"content": answer or None, FIELDS[self.wire]: thinking}
            content_words = words(answer)
        else:
            if self.wire in ("plain", *FIELDS):  # a completions reply has no reasoning field
                text = answer
            else:
                before, between, after = INLINE[self.wire]
                cut_inside = finish == "length" and not answer
                text = before + thinking + ("" if cut_inside else between + answer + (after if finish == "stop"
                                                                                      else ""))
            fields = {"content": text} if chat else {"text": text}
            content_words = words(answer)
        return fields, finish, thought + content_words, thought if self.reasoning_usage else 0


def _schema(body: dict) -> dict | None:
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema")
    return body.get("json_schema") if isinstance(body.get("json_schema"), dict) else None


def as_json(body: dict, answer: str) -> str:
    """A scripted markdown answer as the JSON the request's schema asks for: a solve answer's solution and tests
    (as evolve's markdown parser reads them; an answer it cannot read goes whole into "solution"), an evolve
    answer as its "instruction", else the answer under the schema's first property."""
    properties = list((_schema(body) or {}).get("properties") or ["answer"])
    if properties == ["solution", "tests"]:  # the solve request opens the conversation (a repair turn goes on)
        prompt = str((body.get("messages") or [{}])[0].get("content", "")) or str(body.get("prompt", ""))
        language = "cpp" if "C++" in prompt else "java" if "Java " in prompt else "python"
        parsed = parse_solution(answer, language)
        if isinstance(parsed, ParsedSolution):
            return json.dumps({"solution": parsed.solution, "tests": parsed.tests})
        return json.dumps({"solution": answer, "tests": ""})
    return json.dumps({properties[0]: answer})
