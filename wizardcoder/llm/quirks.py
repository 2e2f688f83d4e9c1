"""What each endpoint accepts, learned from its refusals: the token-limit parameter's name, the parameters it
refuses, and how it takes a JSON schema (`Quirks`); and what the model's replies say about it (`ModelHabits`).

Servers disagree on the request body. OpenAI's reasoning models refuse `max_tokens` ("Unsupported parameter:
'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.") and any temperature but
1; some strict servers refuse `max_completion_tokens` ("Unrecognized request argument supplied") or any field
they do not know (pydantic's "Extra inputs are not permitted"); an older llama.cpp refuses a `response_format`
of type `json_schema` but takes its own top-level `json_schema`. Such an HTTP 400 is about the parameter, not
the prompt: the client adjusts that endpoint's `Quirks` once (switch the token-limit name; move the schema to
the next form; drop the parameter), warns once, and sends the request again at once. It is never a refusal of
the prompt and never counts toward the alike-refusals stop.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

TOKEN_LIMIT_PARAMS = ("max_tokens", "max_completion_tokens")
# sampling settings a server may refuse; without them it uses its defaults (stop sequences we apply ourselves,
# missing samples of `n` are asked for again)
DROPPABLE = ("temperature", "top_p", "seed", "stop", "n", "reasoning_effort")
# how a JSON schema is sent, in the order tried: OpenAI's (vLLM, SGLang, Ollama, llama.cpp too), llama.cpp's own
SCHEMA_FORMS = ("response_format", "json_schema")

_REFUSES = re.compile(
    r"unsupported|not supported|does not support|unrecognized|unknown (?:parameter|field|argument|key)"
    r"|extra (?:inputs|fields) (?:are )?not permitted|extra_forbidden|not allowed|not permitted"
    r"|invalid (?:parameter|schema)|must be one of", re.IGNORECASE)


@dataclass
class Quirks:
    """One endpoint's adjustments (see the module docstring)."""

    token_limit: str = "max_tokens"
    dropped: set[str] = field(default_factory=set)
    schema_form: str | None = "response_format"  # None: it takes no schema (answers are parsed as markdown)
    notes: list[str] = field(default_factory=list)  # what was adjusted, for stats.json
    _refused_limits: set[str] = field(default_factory=set)

    def apply(self, body: dict[str, Any], max_tokens: int, schema: Mapping[str, Any] | None) -> dict[str, Any]:
        """`body` (without a token limit or a schema yet) as this endpoint takes it."""
        body[self.token_limit] = max_tokens
        if schema is not None and self.schema_form == "response_format":
            body["response_format"] = {"type": "json_schema", "json_schema": dict(schema)}
        elif schema is not None and self.schema_form == "json_schema":
            body["json_schema"] = schema["schema"]
        for name in self.dropped:
            body.pop(name, None)
        return body

    def learn(self, parameter: str) -> str | None:
        """Adjust for a refusal of `parameter`; returns what changed ("" when an earlier refusal of a request
        in flight at the same time changed it already: send again as is), or None when nothing is left to
        adjust (then the refusal stands)."""
        if parameter in TOKEN_LIMIT_PARAMS:
            self._refused_limits.add(parameter)
            other = next(p for p in TOKEN_LIMIT_PARAMS if p != parameter)
            if self.token_limit != parameter:
                return None if other in self._refused_limits else ""
            if other in self._refused_limits:
                return None
            self.token_limit = other
            note = f"{parameter} refused: the token limit goes as {other}"
        elif parameter in SCHEMA_FORMS:
            if self.schema_form != parameter:
                return ""
            following = SCHEMA_FORMS[SCHEMA_FORMS.index(parameter) + 1:]
            self.schema_form = following[0] if following else None
            note = (f"{parameter} refused: the JSON schema goes as {self.schema_form}" if self.schema_form
                    else f"{parameter} refused: no JSON schema (answers are parsed as markdown)")
        elif parameter in DROPPABLE:
            if parameter in self.dropped:
                return ""
            self.dropped.add(parameter)
            note = f"{parameter} refused: no longer sent (the server's default applies)"
        else:
            return None
        self.notes.append(note)
        return note


class ModelHabits:
    """What replies say about the model itself (every endpoint serves the same one): it thinks before it
    answers (from then on requests get `reasoning_budget` tokens on top of their own limit), and its replies
    begin inside the reasoning block (its template puts the opening tag in the prompt: a reply without any tag
    is then thinking the token limit cut, not an answer)."""

    def __init__(self, reasoning_budget: int = 0, thinks: bool = False):
        self.reasoning_budget = reasoning_budget
        self.thinks = thinks
        self.starts_inside = False

    def budget(self) -> int:
        return self.reasoning_budget if self.thinks else 0

    def learn(self, reply: Any, budget: int) -> bool:
        """Learn from `reply` (an `openai_wire.Reply`) to a request sent with `budget`; returns whether to ask
        again at once: cut inside its thinking before the budget applied."""
        if reply.thinks and not self.thinks:
            self.thinks = True
            log.warning(
                "LLM: the model reasons before it answers (%s in its replies): the reasoning is kept apart from "
                "the answer (recorded, never parsed)%s", reply.marker or "reasoning tokens",
                f"; requests get llm.reasoning_budget = {self.reasoning_budget} tokens on top of their limit"
                if self.reasoning_budget else "")
        if reply.opened_in_prompt and not self.starts_inside:
            self.starts_inside = True
            log.info("LLM: the model's replies begin inside their reasoning block (the opening tag is in its "
                     "prompt template): a reply with no closing tag is thinking, not an answer")
        return not budget and self.budget() > 0 and reply.cut_while_thinking()


def refused_parameter(message: str, error: Mapping[str, Any] | None, sent: Mapping[str, Any]) -> str | None:
    """The parameter an HTTP 400 refuses, when it refuses one we sent and can adjust; else None (a refusal of the
    prompt: context length, content policy, ...)."""
    adjustable = [p for p in (*TOKEN_LIMIT_PARAMS, *SCHEMA_FORMS, *DROPPABLE) if p in sent]
    if error is not None:
        named = error.get("param")
        code = str(error.get("code") or "")
        if named in adjustable and (code.startswith(("unsupported", "unknown")) or _REFUSES.search(message)):
            return str(named)
    if not _REFUSES.search(message):
        return None
    mentions = [(m.start(), p) for p in adjustable
                for m in [re.search(rf"(?<![\w]){re.escape(p)}(?![\w])", message)] if m]
    return min(mentions)[1] if mentions else None


def error_object(body: Any) -> Mapping[str, Any] | None:
    """The `{"message", "param", "code"}` object of an OpenAI-style error body, where there is one."""
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            return inner
        if "param" in body or "code" in body:
            return body
    return None


def default_token_limit(base_url: str | None, chat: bool, setting: str = "auto") -> str:
    """The token-limit parameter to start with: `llm.token_limit_param`, or for `auto` `max_completion_tokens` on
    OpenAI's own chat API (its current name, the only one its reasoning models take) and `max_tokens`
    elsewhere (every self-hosted server takes it; a refusal switches it)."""
    if setting != "auto":
        return setting
    official = base_url is None or "api.openai.com" in base_url
    return "max_completion_tokens" if official and chat else "max_tokens"
