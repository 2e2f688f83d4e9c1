"""What goes over the wire to an OpenAI-compatible endpoint: request bodies, replies, errors, headers.

Pure functions, the one raw POST and the deadline of a whole attempt; the client (`openai_client.py`) decides
what to retry and where.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from wizardcoder.llm.base import LLMAuthError, Request, estimate_tokens, request_text, truncate_at_stop
from wizardcoder.llm.quirks import Quirks
from wizardcoder.llm.reasoning import split_reasoning

log = logging.getLogger(__name__)

MAX_API_STOPS = 4  # OpenAI accepts at most 4 stop sequences; the rest are applied client-side
DUMMY_KEY = "sk-no-key-required"


class MalformedReply(Exception):
    """The endpoint answered 200 with something that is not a usable completion (retried)."""


def server_message(exc: Any) -> str:
    """The server's own words from an `openai.APIStatusError` (vLLM: {"message"}; OpenAI, llama.cpp:
    {"error": {"message"}}), else the exception text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str) and inner:
            return inner
        if body.get("message"):
            return str(body["message"])
    return str(getattr(exc, "message", None) or exc)



def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date; None if absent or bad."""
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now_dt = datetime.fromtimestamp(time.time() if now is None else now, tz=timezone.utc)
    return max(0.0, (when - now_dt).total_seconds())


def resolve_key(api_key: str | None, api_key_env: str, base_url: str | None) -> str:
    if api_key:
        return api_key
    value = os.environ.get(api_key_env)
    if value:
        return value
    if base_url is None:
        raise LLMAuthError(
            f"no API key: set the environment variable {api_key_env} (llm.api_key_env names it), "
            "or set llm.base_url to a local OpenAI-compatible server"
        )
    log.info(
        "%s is not set; sending a dummy API key to %s (fine for local servers without auth)",
        api_key_env,
        base_url,
    )
    return DUMMY_KEY



def request_body(request: Request, model: str, n: int, extra_body: Mapping[str, Any], quirks: Quirks,
                 max_tokens: int | None = None) -> dict[str, Any]:
    """The JSON body of `request` as the endpoint with `quirks` takes it; `max_tokens` overrides the request's
    (a reasoning budget on top)."""
    body: dict[str, Any] = {
        "model": model,
        "temperature": request.temperature,
        "top_p": request.top_p,
    }
    if n != 1:
        body["n"] = n
    if request.stop:
        body["stop"] = list(request.stop[:MAX_API_STOPS])
    if request.seed is not None:
        body["seed"] = request.seed
    body.update(extra_body)
    if request.messages is not None:
        body["messages"] = [dict(m) for m in request.messages]
    else:
        body["prompt"] = request.prompt
    return quirks.apply(body, max_tokens or request.max_tokens, request.response_format)


@dataclass
class Reply:
    """One reply's choices taken apart (see `Completion`), and its token counts."""

    texts: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    reasonings: list[str] = field(default_factory=list)
    raw_texts: list[str] = field(default_factory=list)
    missing: list[bool] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: int = 0  # 1: the token counts are estimates (no usage block)
    reasoning_estimated: int = 0  # 1: the reasoning tokens are counted from the reasoning text
    opened_in_prompt: bool = False  # a reply began inside a reasoning block
    marker: str = ""  # the reasoning delimiter or field found ("" for none)

    @property
    def thinks(self) -> bool:
        return bool(self.marker) or self.reasoning_tokens > 0

    def cut_while_thinking(self) -> bool:
        return any(m and r == "length" for m, r in zip(self.missing, self.reasons))


REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")  # vLLM/SGLang/llama.cpp, vLLM>=0.10/Ollama, Ollama


def parse_reply(data: dict[str, Any], request: Request, starts_inside: bool = False) -> Reply:
    """The choices of a reply, each split into answer and reasoning (`reasoning.split_reasoning`; a reasoning
    field is recorded, never parsed), with the token counts; `MalformedReply` when it holds no usable
    completion."""
    chat = request.messages is not None
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        error = data.get("error")
        said = error.get("message", error) if isinstance(error, dict) else error
        raise MalformedReply("the reply has no choices" + (f"; the server said: {str(said)[:300]}" if said else ""))
    reply = Reply()
    field_tokens = 0  # estimated tokens of reasoning fields (inline reasoning is in the text)
    for choice in sorted(choices, key=_choice_index):
        if not isinstance(choice, dict):
            raise MalformedReply(f"a choice is {type(choice).__name__}, not an object")
        field_reasoning = ""
        if chat:
            message = choice.get("message")
            if not isinstance(message, dict):
                raise MalformedReply("a choice has no message")
            text = message.get("content") or ""
            field_name = next((f for f in REASONING_FIELDS if isinstance(message.get(f), str) and message[f]), None)
            if field_name:
                field_reasoning = message[field_name]
                field_tokens += estimate_tokens(field_reasoning)
                reply.marker = reply.marker or field_name
        else:
            text = choice.get("text")
        if not isinstance(text, str):
            raise MalformedReply(f"choice text is {type(text).__name__}, not str")
        finish = str(choice.get("finish_reason") or "stop")
        split = split_reasoning(text, starts_inside)
        answer, stopped = truncate_at_stop(split.answer, request.stop)
        reasoning = "\n".join(part for part in (field_reasoning, split.reasoning) if part)
        reply.texts.append(answer)
        reply.reasons.append("stop" if stopped else finish)
        reply.reasonings.append(reasoning)
        reply.raw_texts.append(text)
        # a reasoning field and no content: the thinking used the whole budget, or the model said nothing more
        reply.missing.append(split.answer_missing or (bool(field_reasoning) and not text.strip()))
        reply.opened_in_prompt = reply.opened_in_prompt or split.opened_in_prompt
        reply.marker = reply.marker or split.marker
    usage = data.get("usage")
    p_tok = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    c_tok = usage.get("completion_tokens") if isinstance(usage, dict) else None
    details = usage.get("completion_tokens_details") if isinstance(usage, dict) else None
    r_tok = details.get("reasoning_tokens") if isinstance(details, dict) else None
    thought = sum(estimate_tokens(r) for r in reply.reasonings)
    if _token_count(r_tok):
        reply.reasoning_tokens = r_tok
    elif thought:
        reply.reasoning_tokens, reply.reasoning_estimated = thought, 1
    if _token_count(p_tok) and _token_count(c_tok):
        reply.prompt_tokens, reply.completion_tokens = p_tok, c_tok
    else:
        reply.prompt_tokens = estimate_tokens(request_text(request))
        reply.completion_tokens = sum(estimate_tokens(t) for t in reply.raw_texts) + field_tokens
        reply.estimated = 1
    return reply


def _choice_index(choice: Any) -> int:
    index = choice.get("index") if isinstance(choice, dict) else None
    return index if isinstance(index, int) and not isinstance(index, bool) else 0


def _token_count(value: Any) -> bool:
    """A usage figure we can add up (servers have sent negatives, booleans, strings and 1e30)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9


async def post(client: Any, path: str, body: dict[str, Any], chat: bool, timeout: float,
               raw_response: Any) -> dict[str, Any]:
    """POST through the openai package and return the reply JSON as a dict.

    `client.request` / `client.post` are the package's calls for raw endpoints: its HTTP stack, auth and
    status-error mapping (RateLimitError, AuthenticationError, ...), without the per-call TypedDict
    transform of the parameters and the pydantic reply models, which together cost ~40% of the
    client's CPU per request; we validate the few fields we read ourselves. `raw_response` is the
    httpx Response class (None: fall back to the package's reply models).
    """
    if raw_response is not None:
        options = _options(path, body, timeout)
        if options is not None:
            response = await client.request(raw_response, options)
        else:
            response = await client.post(path, body=body, cast_to=raw_response, options={"timeout": timeout})
        data = json.loads(response.content)  # ValueError when malformed: retried
    else:
        from openai.types import Completion as TextCompletion
        from openai.types.chat import ChatCompletion

        reply = await client.post(
            path, body=body, cast_to=ChatCompletion if chat else TextCompletion, options={"timeout": timeout}
        )
        if not hasattr(reply, "model_dump"):
            raise MalformedReply(f"not a completion object: {str(reply)[:200]!r}")
        data = reply.model_dump()
    if not isinstance(data, dict):
        raise MalformedReply(f"the reply is {type(data).__name__}, not a JSON object")
    return data


# `client.post` builds its request options with pydantic's `construct` on every call (~30 us, a tenth of a
# call's CPU at 1M tasks); the options of one path differ only in the body, so each call copies a template
_OPTION_TEMPLATES: dict[tuple[str, float], Any] = {}


def _options(path: str, body: dict[str, Any], timeout: float) -> Any | None:
    """What `client.post(path, body=body, options={"timeout": timeout})` would pass to `client.request`;
    None where this openai version builds its options differently (then `client.post` is used)."""
    template = _OPTION_TEMPLATES.get((path, timeout))
    if template is None:
        try:
            from openai._models import FinalRequestOptions

            template = FinalRequestOptions.construct(method="post", url=path, json_data=None, timeout=timeout)
            template.model_copy
        except Exception as exc:  # noqa: BLE001 - an openai build without them: the public call instead
            log.debug("openai request options unavailable (%s); using client.post", exc)
            template = False
        _OPTION_TEMPLATES[(path, timeout)] = template
    if template is False:
        return None
    return template.model_copy(update={"json_data": body, "params": {}})  # nothing mutable shared between calls


# llm.timeout bounds each read of a reply; a server that drips bytes would keep an attempt alive forever, so the
# whole attempt also has a deadline: the timeout plus this grace (the transport's own timeouts fire first)
ATTEMPT_GRACE = 1.0


class AttemptDeadline(Exception):
    """An attempt outlived `llm.timeout + ATTEMPT_GRACE` seconds (retried as a timeout)."""


async def within(call: Any, seconds: float) -> Any:
    if hasattr(asyncio, "timeout"):  # Python 3.11+: a timer on the running task, no extra task per attempt
        try:
            async with asyncio.timeout(seconds):
                return await call
        except TimeoutError as exc:
            raise AttemptDeadline from exc
    try:
        return await asyncio.wait_for(call, seconds)
    except asyncio.TimeoutError as exc:
        raise AttemptDeadline from exc
