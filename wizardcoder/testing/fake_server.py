"""A real HTTP server speaking the OpenAI API, for tests and benchmarks (no network, no dependencies).

`/v1/chat/completions`, `/v1/completions` and `/v1/models` over minimal HTTP/1.1 with keep-alive,
on plain `asyncio` in a background thread (`async_http.py`): one event loop holds hundreds of slow
connections at almost no cost, which a thread-per-connection server would not. Replies come from a callable,
latency is simulated, and faults are injected per attempt, so the real `openai` package and our
retry code run exactly as they would against a flaky production endpoint.

    with FakeOpenAIServer(reply=lambda body: "hi", latency=0.1,
                          faults=lambda body, attempt: Fault.server_error() if attempt == 1 else None) as srv:
        client = OpenAIClient(base_url=srv.url, model="fake")

Run standalone (e.g. to benchmark a client from another process):
    python -m wizardcoder.testing.fake_server --latency 1.0 --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import time
from collections.abc import Callable
from typing import Any

from wizardcoder.testing.async_http import AsyncHTTPServer
from wizardcoder.testing.faults import Fault  # re-exported: tests build faults from here
from wizardcoder.testing.slots import Slots
from wizardcoder.testing.teachers import TeacherStyle

CHAT_PATH = "/v1/chat/completions"
COMPLETIONS_PATH = "/v1/completions"
MODELS_PATH = "/v1/models"


def body_text(body: dict) -> str:
    """What identifies a request across retries: the last message's content, or the prompt."""
    if "messages" in body:
        messages = body.get("messages") or [{}]
        return str(messages[-1].get("content", ""))
    prompt = body.get("prompt", "")
    return prompt[0] if isinstance(prompt, list) and prompt else str(prompt)


def count_words(text: str) -> int:
    return len(text.split())


ReplyFn = Callable[[dict], str]
FaultFn = Callable[[dict, int], "Fault | None"]

class FakeOpenAIServer(AsyncHTTPServer):
    """An OpenAI-compatible server on 127.0.0.1 (a free port), run in a background thread.

    reply: request JSON -> completion text (called once per choice); default echoes the request text.
    latency: seconds to wait before answering each completion request (or a callable: request JSON -> seconds).
    faults: (request JSON, attempt number for this request text, 1-based) -> a Fault or None.
    api_key: when set, requests without `Authorization: Bearer <api_key>` get 401.
    include_usage: put a `usage` block (word counts) in replies.
    honour_n: False answers one choice whatever `n` asks (as llama.cpp's server does).
    reject_marker: a request whose text contains it always gets HTTP 400 "maximum context length" (a
        deterministic refusal, on every attempt).
    slots: serve at most this many completion requests at once, as a self-hosted server does (llama.cpp's
        --parallel); the others queue, first come first served. A request whose client hangs up (times out)
        while queued or generating is dropped and frees its slot, as llama.cpp cancels it (`cancelled`).
    token_seconds: seconds each completion token (word) of a reply takes to generate, in its slot.
    teacher: answer like a kind of teacher (`teachers.TeacherStyle`): thinking in the reply or a reasoning field,
        refused parameters, JSON schemas honoured or refused, reasoning tokens, replies cut at the token limit.
    outage: set it (from any thread) to a status, e.g. 503, and every completion request gets that status
        until it is set back to None (a 5xx storm). `stop()` is the kill switch: the port closes, open
        connections drop, and new ones are refused.

    Counters (read them from the test thread): `requests` (completion requests received),
    `attempts[text]` per request text, `statuses`, `max_concurrent`, `prompt_tokens` and
    `completion_tokens` reported in successful replies, `arrivals` (monotonic time, text) per attempt,
    `cancelled` (requests dropped because their client hung up), `max_active` (most requests in slots at once).
    """

    thread_name = "fake-openai-server"

    def __init__(
        self,
        reply: ReplyFn | None = None,
        *,
        latency: float | Callable[[dict], float] = 0.0,
        faults: FaultFn | None = None,
        api_key: str | None = None,
        model: str = "fake-model",
        include_usage: bool = True,
        honour_n: bool = True,
        reject_marker: str | None = None,
        models_reply: bytes | None = None,
        slots: int | None = None,
        token_seconds: float = 0.0,
        teacher: TeacherStyle | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.reply = reply or (lambda body: f"echo: {body_text(body)}")
        self.latency = latency
        self.faults = faults
        self.api_key = api_key
        self.model = model
        self.include_usage = include_usage
        self.honour_n = honour_n
        self.reject_marker = reject_marker
        self.models_reply = models_reply  # GET /models answers these bytes instead of the model list
        self.slots = slots
        self.token_seconds = token_seconds
        self.teacher = teacher
        self._slots: Slots | None = None  # made per start, on the server's loop
        self.outage: int | None = None
        self._ids = 0
        super().__init__(host, port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def max_active(self) -> int:
        """The most requests generating at once (with `slots`)."""
        return self._slots.max_active if self._slots is not None else 0

    def reset_stats(self) -> None:
        super().reset_stats()
        self.requests = 0
        self.attempts: collections.Counter[str] = collections.Counter()
        self.concurrent = 0
        self.max_concurrent = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.arrivals: list[tuple[float, str]] = []
        self.cancelled = 0

    async def _dispatch(
        self, method: str, path: str, headers: dict[str, str], raw_body: bytes, writer: asyncio.StreamWriter,
        reader: asyncio.StreamReader,
    ) -> bool:
        """Answer one request; returns whether the connection may be reused."""
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            await self._send(
                writer,
                401,
                {
                    "error": {
                        "message": "Incorrect API key provided",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
            )
            return True
        if path == MODELS_PATH and method == "GET" and self.models_reply is not None:
            await self._send(writer, 200, None, raw=self.models_reply)
            return True
        if path == MODELS_PATH and method == "GET":
            await self._send(
                writer,
                200,
                {
                    "object": "list",
                    "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "wizardcoder"}],
                },
            )
            return True
        if path not in (CHAT_PATH, COMPLETIONS_PATH):
            await self._send(
                writer, 404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}}
            )
            return True
        if method != "POST":
            await self._send(writer, 405, {"error": {"message": "use POST"}})
            return True
        try:
            body = json.loads(raw_body or b"{}")
        except ValueError:
            await self._send(writer, 400, {"error": {"message": "request body is not JSON"}})
            return True
        text = body_text(body)
        self.requests += 1
        self.attempts[text] += 1
        self.arrivals.append((time.monotonic(), text))
        self.concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            latency = self.latency(body) if callable(self.latency) else self.latency
            if latency:
                await asyncio.sleep(latency)
            fault = self.faults(body, self.attempts[text]) if self.faults else None
            if self.reject_marker and self.reject_marker in text:
                fault = Fault.context_length_exceeded()
            elif self.outage is not None:
                fault = Fault.server_error(self.outage)
            elif fault is None and self.teacher is not None:
                fault = self.teacher.refusal(body)
            if self.slots is None:
                return await self._answer(path, body, fault, writer)
            if self._slots is None:
                self._slots = Slots(self.slots, self.token_seconds)
            self._slots.token_seconds = self.token_seconds  # a test may change it while the server runs
            if not await self._slots.take(reader):
                self.cancelled += 1
                return False
            try:
                return await self._answer(path, body, fault, writer, reader)
            finally:
                self._slots.free()
        finally:
            self.concurrent -= 1

    async def _answer(self, path: str, body: dict, fault: Fault | None, writer: asyncio.StreamWriter,
                      reader: asyncio.StreamReader | None = None) -> bool:
        if fault is not None:
            if fault.kind == "status":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
                await self._send(
                    writer,
                    fault.status,
                    {"error": {"message": fault.message or f"injected {fault.status}", "type": "injected_fault"}},
                    extra_headers=headers,
                )
                return True
            if fault.kind == "hang":
                await asyncio.sleep(fault.seconds)
                return False
            if fault.kind == "disconnect":
                return False
            if fault.kind == "garbage":
                writer.write(b"SSH-2.0-OpenSSH_9.2p1\r\n\x00\x01\x02 not http\r\n\r\n")
                await writer.drain()
                return False
            if fault.kind == "drip":
                await self._drip(writer, json.dumps(self._completion(path, body)).encode(), fault.seconds)
                return False
            if fault.kind == "reply":
                await self._send(writer, fault.status, fault.payload)
                return True
            if fault.kind == "malformed":
                await self._send(
                    writer, 200, None, raw=b'{"id": "cmpl-broken", "choices": [{"index": 0, "mess'
                )
                return True
        payload = self._completion(path, body)
        if fault is not None and fault.kind == "empty_choices":
            payload["choices"] = []
        elif fault is not None and fault.kind == "truncate":
            await self._send(writer, 200, payload, keep_alive=False, truncate=True)
            return False
        elif fault is not None:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        else:
            if reader is not None and self.token_seconds and self._slots is not None:
                words = (payload["usage"]["completion_tokens"] if "usage" in payload else
                         sum(count_words(c["message"].get("content") or "" if "message" in c else c["text"])
                             for c in payload["choices"]))
                if not await self._slots.generate(words, reader):
                    self.cancelled += 1
                    return False
            usage = payload.get("usage")
            if usage:
                self.prompt_tokens += usage["prompt_tokens"]
                self.completion_tokens += usage["completion_tokens"]
        await self._send(writer, 200, payload)
        return True

    def _completion(self, path: str, body: dict) -> dict:
        self._ids += 1
        n = int(body.get("n") or 1) if self.honour_n else 1
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        choices = []
        completion_tokens = reasoning_tokens = 0
        for i in range(n):
            text = self.reply(body)
            cuts = [text.find(s) for s in stop if s and s in text]
            if cuts:
                text = text[: min(cuts)]
            if self.teacher is not None:
                fields, reason, tokens, thought = self.teacher.choice(body, text, path == CHAT_PATH)
                reasoning_tokens += thought
            else:
                fields, reason, tokens = ({"content": text} if path == CHAT_PATH else {"text": text}), "stop", None
            completion_tokens += count_words(text) if tokens is None else tokens
            if path == CHAT_PATH:
                choices.append({"index": i, "message": {"role": "assistant", **fields}, "finish_reason": reason,
                                "logprobs": None})
            else:
                choices.append({"index": i, **fields, "finish_reason": reason, "logprobs": None})
        payload: dict[str, Any] = {
            "id": f"{'chatcmpl' if path == CHAT_PATH else 'cmpl'}-{self._ids}",
            "object": "chat.completion" if path == CHAT_PATH else "text_completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": choices,
        }
        if self.include_usage:
            if path == CHAT_PATH:
                prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
            else:
                prompt = body_text(body)
            prompt_tokens = count_words(prompt)
            payload["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
            if reasoning_tokens:
                payload["usage"]["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
        return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Serve the fake OpenAI API (echo replies) until interrupted."
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per completion request")
    parser.add_argument("--model", default="fake-model", help="the model name /v1/models lists")
    parser.add_argument("--reject-marker", help="requests containing this text always get HTTP 400")
    parser.add_argument("--slots", type=int, help="completion requests served at once (the rest queue)")
    parser.add_argument("--token-seconds", type=float, default=0.0, help="seconds per reply word (in a slot)")
    args = parser.parse_args(argv)
    return serve_until_interrupted(FakeOpenAIServer(latency=args.latency, port=args.port, model=args.model,
                                                    reject_marker=args.reject_marker, slots=args.slots,
                                                    token_seconds=args.token_seconds))


def serve_until_interrupted(server: FakeOpenAIServer) -> int:
    """Start `server`, print its URL (benchmarks read it) and serve until Ctrl-C or SIGTERM."""
    server.start()
    print(f"listening on {server.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
