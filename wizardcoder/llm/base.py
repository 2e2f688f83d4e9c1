"""The one small LLM interface every stage codes against.

A client has one streaming call, `generate(requests)`, which yields `(index, Completion)` pairs in
the order they finish; `complete(request)` is the one-request convenience. A `Completion` is one of
three outcomes (see its docstring): texts, `rejected` (a deterministic refusal: a verdict, never
asked again) or `error` (an infrastructure failure: retried later, never a bad sample).
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wizardcoder.errors import UserError


class LLMError(RuntimeError):
    """An LLM failure that aborts the run (the endpoint is down, misconfigured, or the model cannot load)."""


class LLMAuthError(LLMError, UserError):
    """The endpoint refused our credentials (HTTP 401/403). Never retried: the message says which env var to fix."""


class LLMEndpointConfigError(LLMError, UserError):
    """The endpoint is reachable but does not serve what we ask: a model it does not list, or HTTP 404 for every
    request (a base_url without /v1). Bad input (exit 2): the message lists what the endpoint does serve."""


@dataclass(frozen=True)
class Request:
    """One generation request. Chat when `messages` is given, plain completion when `prompt` is."""

    messages: tuple[Mapping[str, Any], ...] | None = None
    prompt: str | None = None
    max_tokens: int = 1024
    temperature: float = 0.7
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    n: int = 1
    # a JSON schema the answer must follow, as OpenAI's `json_schema` object ({"name", "schema", "strict"}); where
    # the server takes none, the request goes without it and the answer is parsed as markdown
    response_format: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("Request needs exactly one of messages= (chat) or prompt= (completion)")
        if self.messages is not None:
            messages = tuple(self.messages)
            if not messages:
                raise ValueError("Request.messages is empty")
            for m in messages:
                if not isinstance(m, (dict, Mapping)) or "role" not in m or "content" not in m:  # dict: no ABC check
                    raise ValueError(f"each chat message needs 'role' and 'content', got {m!r}")
            object.__setattr__(self, "messages", messages)
        elif not isinstance(self.prompt, str):
            raise ValueError(f"Request.prompt must be a str, got {type(self.prompt).__name__}")
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        if any(not isinstance(s, str) or not s for s in stop):
            raise ValueError(f"stop sequences must be non-empty strings, got {stop!r}")
        object.__setattr__(self, "stop", stop)
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise ValueError(f"max_tokens must be an int >= 1, got {self.max_tokens!r}")
        if not (isinstance(self.temperature, (int, float)) and 0 <= self.temperature <= 2):
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature!r}")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"n must be an int >= 1, got {self.n!r}")
        if self.response_format is not None and not (
                isinstance(self.response_format, Mapping) and isinstance(self.response_format.get("schema"), Mapping)
                and self.response_format.get("name")):
            raise ValueError("response_format must be a json_schema object: {'name': ..., 'schema': {...}}")

    @property
    def is_chat(self) -> bool:
        return self.messages is not None

    @classmethod
    def from_text(cls, text: str, api: str = "chat", system: str | None = None, **kwargs: Any) -> Request:
        """A request for `text`: one user message when `api == "chat"`, the raw prompt when "completions"."""
        if api == "completions":
            return cls(prompt=text, **kwargs)
        if api != "chat":
            raise ValueError(f"api must be 'chat' or 'completions', got {api!r}")
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": text}
        ]
        return cls(messages=tuple(messages), **kwargs)


@dataclass(frozen=True)
class Completion:
    """What came back for one Request. Exactly one of three outcomes:

    * **texts** (`ok` is True): `n` texts with their finish reasons and token counts. A text is the *answer*:
      a reasoning model's thinking (a `reasoning_content` / `reasoning` field, or a `<think>` block and the
      like inline, see `reasoning.py`) is in `reasonings`, never in `texts`; `raw_texts` holds each reply as
      the server sent it (for audit). `answer_missing[i]` is True when reply i has no answer to parse: its
      thinking was cut by the token limit (finish reason "length") or it stopped right after thinking.
      `structured` says the request went out with its JSON schema (`Request.response_format`) on.
    * **rejected** (`rejected` is the reason, carrying the server's own message, e.g.
      "HTTP 400: This model's maximum context length is 2048 tokens ..."; `http_status` is the status,
      None when the client refused before sending because prompt + max_tokens exceed
      `llm.max_context_tokens`): a *deterministic* refusal (HTTP 400/404/413/422 and other 4xx except
      401/403/408/409/425/429; but a 404 before any request succeeded is an `error`: it means a wrong URL or
      model, not a bad prompt). Asking again gets the same answer, so the client never retries it and it
      never counts toward the circuit breaker. A stage must record it as a verdict for that input (reason
      `wizardcoder.reasons.Reason.REQUEST_REJECTED`) next to the call's key, so no rerun asks again, and
      carry on.
    * **error** (`error` is set): an *infrastructure* failure (429, 5xx, timeouts, connection errors, garbled
      replies) that outlived the retries. Never a verdict and never a bad sample: leave the call unrecorded
      (or recorded as failed) so a rerun asks again.
    """

    texts: tuple[str, ...]
    finish_reasons: tuple[str, ...]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    rejected: str | None = None
    http_status: int | None = None
    reasonings: tuple[str, ...] = ()  # per text, "" where none (empty: no reasoning at all)
    raw_texts: tuple[str, ...] = ()  # per text, as sent (empty: the texts themselves)
    answer_missing: tuple[bool, ...] = ()  # per text (empty: none missing)
    reasoning_tokens: int = 0  # part of completion_tokens
    structured: bool = False

    @property
    def text(self) -> str:
        return self.texts[0] if self.texts else ""

    def reasoning(self, i: int = 0) -> str:
        return self.reasonings[i] if i < len(self.reasonings) else ""

    def raw_text(self, i: int = 0) -> str:
        """Reply i as the server sent it, thinking included."""
        return self.raw_texts[i] if i < len(self.raw_texts) else (self.texts[i] if i < len(self.texts) else "")

    def missing(self, i: int = 0) -> bool:
        return i < len(self.answer_missing) and self.answer_missing[i]

    @property
    def ok(self) -> bool:
        return self.error is None and self.rejected is None

    @classmethod
    def failed(cls, error: str, http_status: int | None = None) -> Completion:
        return cls(texts=(), finish_reasons=(), prompt_tokens=0, completion_tokens=0, error=error,
                   http_status=http_status)

    @classmethod
    def refused(cls, reason: str, http_status: int | None = None) -> Completion:
        return cls(texts=(), finish_reasons=(), rejected=reason, http_status=http_status)


@dataclass(frozen=True)
class Usage:
    """Counters over a client's lifetime. `requests` counts requests (each once, however many attempts);
    `retries` counts the extra attempts apart; `failures` the requests that ended in an infrastructure error,
    `rejected` those refused for good. `cost` is set where prices are configured; `estimated` counts replies
    without a `usage` block whose tokens we estimated (about 4 characters per token). `reasoning_tokens` is the
    part of `completion_tokens` spent thinking (the server's `completion_tokens_details.reasoning_tokens`, else
    counted from the reasoning text: `reasoning_estimated` replies). `resent` counts requests sent again at once
    with an adjusted body (a parameter the endpoint refused) or a larger token limit (a reply cut inside its
    thinking). `endpoints` holds per-endpoint counters (URL -> counters) for clients that spread requests over
    several endpoints."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    failures: int = 0
    rejected: int = 0
    estimated: int = 0
    reasoning_tokens: int = 0
    reasoning_estimated: int = 0
    resent: int = 0
    cost: float | None = None
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class UsageCounter:
    """Thread-safe running totals behind `client.usage`."""

    price_per_1k_prompt: float | None = None
    price_per_1k_completion: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("requests", "prompt_tokens", "completion_tokens", "retries", "failures", "rejected", "estimated",
             "reasoning_tokens", "reasoning_estimated", "resent"), 0
        )
    )

    def add(self, **deltas: int) -> None:
        with self._lock:
            for key, value in deltas.items():
                self._counts[key] += value

    def snapshot(self, endpoints: dict[str, dict[str, Any]] | None = None) -> Usage:
        with self._lock:
            counts = dict(self._counts)
        cost = None
        if self.price_per_1k_prompt is not None or self.price_per_1k_completion is not None:
            cost = (
                counts["prompt_tokens"] * (self.price_per_1k_prompt or 0.0)
                + counts["completion_tokens"] * (self.price_per_1k_completion or 0.0)
            ) / 1000.0
        return Usage(**counts, cost=cost, endpoints=endpoints or {})


def estimate_tokens(text: str) -> int:
    """A rough token count (about 4 characters per token) for replies that carry no usage block."""
    return math.ceil(len(text) / 4) if text else 0


def request_text(request: Request) -> str:
    if request.messages is not None:
        return "\n".join(str(m.get("content") or "") for m in request.messages)
    return request.prompt or ""


def context_rejection(request: Request, max_context_tokens: int | None) -> str | None:
    """Why `request` cannot fit a context of `max_context_tokens` (None: it may fit, or no limit is known).

    The prompt is estimated at 4 characters per token plus a few tokens of chat framing per message: a rough
    guess, so a prompt near the limit may still be sent and refused by the server, which is the same outcome.
    """
    if not max_context_tokens:
        return None
    framing = 4 * len(request.messages) if request.messages is not None else 0
    prompt = estimate_tokens(request_text(request)) + framing
    if prompt + request.max_tokens <= max_context_tokens:
        return None
    return (f"the prompt (~{prompt} tokens, estimated) + max_tokens {request.max_tokens} exceed "
            f"llm.max_context_tokens {max_context_tokens}; not sent")


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut `text` at the earliest stop sequence; returns (text, whether a stop was found)."""
    cut = -1
    for s in stop:
        pos = text.find(s)
        if pos != -1 and (cut == -1 or pos < cut):
            cut = pos
    return (text[:cut], True) if cut != -1 else (text, False)


ProgressFn = Callable[[Completion], None]


class _Wait:
    def __repr__(self) -> str:
        return "WAIT"


# What a request source passed to `generate` may yield when it has nothing to send until an answer comes in
# (its next requests depend on the answers due): a concurrent client then waits for one before asking again.
# A source yields it only while requests of its own are in flight.
WAIT = _Wait()


class LLMClient:
    """The interface: `generate` (streaming, completion order), `complete`, `usage`, `close`, `with`."""

    name: str = "llm"

    def generate(
        self, requests: Iterable[Request], progress: ProgressFn | None = None
    ) -> Iterator[tuple[int, Completion]]:
        """Yield `(index in input, Completion)` as requests finish. Consumes `requests` lazily, with a
        bounded number in flight, so a generator of a million requests streams in flat memory."""
        raise NotImplementedError

    def complete(self, request: Request) -> Completion:
        for _, completion in self.generate([request]):
            return completion
        raise LLMError("generate() yielded nothing for one request")  # pragma: no cover - a client bug

    def preflight(self) -> None:
        """Check, within seconds, that the model can be reached, before a stage starts its work: raises
        `LLMError` (endpoint unreachable: exit 1) or a `UserError` (unknown model, bad key: exit 2).
        Local clients have nothing to check."""

    @property
    def usage(self) -> Usage:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections, threads and models. Idempotent."""

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
