"""`Fault`: one failure the fake OpenAI server (`fake_server.py`) injects into an attempt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fault:
    """One injected failure. Build with the class methods."""

    kind: str  # status | hang | truncate | malformed | empty_choices | disconnect | drip | garbage | reply
    status: int = 500
    retry_after: str | None = None  # the Retry-After header value, sent verbatim
    seconds: float = 3600.0  # how long a hang lasts (the client should time out first)
    message: str | None = None  # the error message a status fault sends (default "injected <status>")
    payload: Any = None  # what a `reply` fault sends as its JSON body, with `status`

    @classmethod
    def reply(cls, payload: Any, status: int = 200) -> Fault:
        """This JSON body instead of the completion (odd shapes, an error body with 200)."""
        return cls("reply", status=status, payload=payload)

    @classmethod
    def rate_limit(cls, retry_after: float | str | None = 1) -> Fault:
        """429, with `Retry-After: <seconds>` (a number) or any literal header value (e.g. an HTTP date)."""
        value = (
            None
            if retry_after is None
            else (retry_after if isinstance(retry_after, str) else f"{retry_after:g}")
        )
        return cls("status", 429, value)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls("status", status)

    @classmethod
    def context_length_exceeded(cls, limit: int = 2048) -> Fault:
        """400 with the message vLLM and OpenAI send for a prompt longer than the model's context."""
        return cls("status", 400, message=f"This model's maximum context length is {limit} tokens. However, "
                                          "you requested more tokens. Please reduce the length of the messages.")

    @classmethod
    def unauthorized(cls, status: int = 401) -> Fault:
        return cls("status", status)

    @classmethod
    def hang(cls, seconds: float = 3600.0) -> Fault:
        """Accept the request and say nothing for `seconds`, then drop the connection."""
        return cls("hang", seconds=seconds)

    @classmethod
    def truncated(cls) -> Fault:
        """Send headers promising the full body, half of it, then close the connection."""
        return cls("truncate")

    @classmethod
    def malformed(cls) -> Fault:
        """200 with `application/json` that does not parse."""
        return cls("malformed")

    @classmethod
    def empty_choices(cls) -> Fault:
        """200 with valid JSON whose `choices` is empty."""
        return cls("empty_choices")

    @classmethod
    def disconnect(cls) -> Fault:
        """Close the connection without a response."""
        return cls("disconnect")

    @classmethod
    def drip(cls, seconds: float = 3600.0) -> Fault:
        """200 and its headers at once, then the body a byte at a time, 0.1 s apart, over `seconds`: every
        read gets data in time, so only a deadline on the whole attempt ends it."""
        return cls("drip", seconds=seconds)

    @classmethod
    def garbage(cls) -> Fault:
        """Bytes that are not HTTP at all (another service on the port), then close."""
        return cls("garbage")
