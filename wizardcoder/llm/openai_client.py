"""`OpenAIClient`: any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp server, TGI, ...).

Design:

* **Concurrency**: `openai.AsyncOpenAI` on a private event loop in one daemon thread, with
  `concurrency` slots (an asyncio queue of tokens; a semaphore with a label). An in-flight request
  costs a coroutine and a socket, not a thread: 256 slow requests cost a few MB and one thread, and
  a synchronous caller (the stages are plain loops) does not have to be async. A thread pool would
  need one OS thread per in-flight request and the sync client's blocking I/O; it works at 16, it is
  wasteful at 256. Slots are spread over several `AsyncOpenAI` clients of at most 32 connections
  each, because the HTTP pool scans all its connections on every request (measured: 2.9 ms of
  client CPU per request at concurrency 256 with one pool, 1.5 ms with pools of 32).
* **Bounded in-flight**: `generate()` pulls from the input iterable in the caller's thread only
  while fewer than `max_in_flight` (default 2 x concurrency) requests are submitted but not yet
  yielded, so a generator of a million requests streams in flat memory, and a slow consumer
  applies backpressure instead of piling up results.
* **Retries are ours only** (the `openai` package's are disabled with `max_retries=0`): 429, 408,
  409, 5xx, timeouts, connection errors, truncated or malformed replies and empty `choices` are
  retried with exponential backoff and full jitter, honouring `Retry-After` (seconds or an HTTP
  date, capped). A request keeps its concurrency slot while it backs off, so a struggling endpoint
  sees less load, not more.
* **Failures**: a request that exhausts `max_retries` yields a `Completion` with `error` set (the
  stream never raises for one bad request). 401/403 raise `LLMAuthError` at once (never retried),
  404 raises `LLMError` (wrong base_url or model). A circuit breaker aborts the run with `LLMError`
  when most recent requests exhaust their retries: the endpoint is down, and burning through a
  million requests' retry budgets would take days to say so.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import email.utils
import importlib
import json
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from wizardcoder.llm.base import (
    Completion,
    LLMAuthError,
    LLMClient,
    LLMError,
    ProgressFn,
    Request,
    Usage,
    UsageCounter,
    estimate_tokens,
    request_text,
    truncate_at_stop,
)

log = logging.getLogger(__name__)

SHARD_SIZE = 32  # concurrency slots per HTTP connection pool
MAX_API_STOPS = 4  # OpenAI accepts at most 4 stop sequences; the rest are applied client-side
DUMMY_KEY = "sk-no-key-required"


class _MalformedReply(Exception):
    """The endpoint answered 200 with something that is not a usable completion (retried)."""


class _Fatal(Exception):
    """Wraps an error that must abort the whole run (auth, wrong URL)."""

    def __init__(self, error: LLMError):
        super().__init__(str(error))
        self.error = error


@dataclass
class _Abort:
    error: BaseException


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


def _resolve_key(api_key: str | None, api_key_env: str, base_url: str | None) -> str:
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


def _httpx_module() -> Any | None:
    """The httpx flavour this openai version is built on (httpx, or httpx2 in openai 3.x)."""
    import openai

    try:
        base = next(c for c in openai.DefaultAsyncHttpxClient.__mro__ if c.__name__ == "AsyncClient")
        return importlib.import_module(base.__module__.split(".")[0])
    except Exception as exc:  # noqa: BLE001 - an unusual openai build
        log.debug("cannot tell which httpx the openai package uses (%s)", exc)
        return None


def _http_client(concurrency: int, timeout: float) -> Any | None:
    """An async HTTP client with a connection pool as large as our concurrency (the openai default keeps
    only 100 connections alive)."""
    import openai

    httpx_mod = _httpx_module()
    if httpx_mod is None:
        return None
    try:
        limits = httpx_mod.Limits(max_connections=concurrency + 8, max_keepalive_connections=concurrency + 8)
        timeouts = httpx_mod.Timeout(timeout, connect=min(timeout, 10.0))
        return openai.DefaultAsyncHttpxClient(limits=limits, timeout=timeouts)
    except Exception as exc:  # noqa: BLE001 - fall back to the openai defaults
        log.debug("using the openai package's default HTTP client (%s)", exc)
        return None


class OpenAIClient(LLMClient):
    """See the module docstring. `model=None` uses the first model the endpoint lists at /models."""

    name = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        *,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 16,
        max_retries: int = 6,
        timeout: float = 120.0,
        max_in_flight: int | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        max_retry_after: float = 120.0,
        breaker_window: int = 100,
        breaker_min_failures: int = 20,
        breaker_threshold: float = 0.5,
        price_per_1k_prompt: float | None = None,
        price_per_1k_completion: float | None = None,
        extra_body: Mapping[str, Any] | None = None,
        seed: int | None = None,
    ):
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise ValueError("concurrency >= 1, max_retries >= 0 and timeout > 0 are required")
        self.base_url = base_url
        self.model = model
        self.api_key_env = api_key_env
        self._api_key = _resolve_key(api_key, api_key_env, base_url)
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.timeout = float(timeout)
        self.max_in_flight = max_in_flight or 2 * concurrency
        if self.max_in_flight < concurrency:
            raise ValueError("max_in_flight must be >= concurrency")
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.breaker_window = breaker_window
        self.breaker_min_failures = breaker_min_failures
        self.breaker_threshold = breaker_threshold
        self.extra_body = dict(extra_body or {})
        self._rng = random.Random(seed)
        self._usage = UsageCounter(price_per_1k_prompt, price_per_1k_completion)
        self._outcomes: collections.deque[bool] = collections.deque(maxlen=breaker_window)
        self._outcome_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._clients: list[Any] = []
        self._slots: asyncio.Queue[int] | None = None
        self._model_lock: asyncio.Lock | None = None
        self._raw_response: Any = None
        self._start_lock = threading.Lock()
        self._closed = False

    @classmethod
    def from_config(cls, cfg: Any, **kwargs: Any) -> OpenAIClient:
        return cls(
            base_url=cfg.base_url,
            model=cfg.model,
            api_key_env=cfg.api_key_env,
            concurrency=cfg.concurrency,
            max_retries=cfg.max_retries,
            timeout=cfg.timeout,
            price_per_1k_prompt=cfg.price_per_1k_prompt,
            price_per_1k_completion=cfg.price_per_1k_completion,
            **kwargs,
        )

    # ---------------------------------------------------------------- event-loop thread
    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._closed:
                raise LLMError("this OpenAIClient is closed")
            if self._loop is not None:
                return self._loop
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            self._thread = threading.Thread(target=run, name="wizardcoder-llm-openai", daemon=True)
            self._thread.start()
            ready.wait()
            asyncio.run_coroutine_threadsafe(self._setup(), loop).result()
            self._loop = loop
            return loop

    async def _setup(self) -> None:
        import openai

        self._model_lock = asyncio.Lock()
        httpx_mod = _httpx_module()
        self._raw_response = getattr(httpx_mod, "Response", None)
        # Concurrency slots, each bound to one shard: at most SHARD_SIZE requests share a connection pool,
        # because httpcore scans its whole pool on every request (cost O(pool) per request).
        shards = -(-self.concurrency // SHARD_SIZE)
        self._slots = asyncio.Queue()
        for shard in range(shards):
            size = self.concurrency // shards + (1 if shard < self.concurrency % shards else 0)
            for _ in range(size):
                self._slots.put_nowait(shard)
            kwargs: dict[str, Any] = {}
            http_client = _http_client(size, self.timeout)
            if http_client is not None:
                kwargs["http_client"] = http_client
            self._clients.append(
                openai.AsyncOpenAI(
                    api_key=self._api_key,
                    base_url=self.base_url,
                    max_retries=0,
                    timeout=self.timeout,
                    **kwargs,
                )
            )

    def close(self) -> None:
        with self._start_lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for client in self._clients:
                await client.close()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        except Exception as exc:  # noqa: BLE001 - closing must not raise
            log.debug("error while closing the HTTP client: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

    # ---------------------------------------------------------------- streaming
    def generate(
        self, requests: Iterable[Request], progress: ProgressFn | None = None
    ) -> Iterator[tuple[int, Completion]]:
        loop = self._ensure_started()
        results: queue.Queue[tuple[int, Completion | _Abort]] = queue.Queue()
        pending: dict[int, concurrent.futures.Future] = {}
        source = iter(requests)
        exhausted = False
        next_index = 0
        try:
            while True:
                while not exhausted and len(pending) < self.max_in_flight:
                    try:
                        request = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    if not isinstance(request, Request):
                        raise TypeError(f"generate() takes Request objects, got {type(request).__name__}")
                    pending[next_index] = asyncio.run_coroutine_threadsafe(
                        self._deliver(next_index, request, results), loop
                    )
                    next_index += 1
                if not pending:
                    return
                index, item = self._next_result(results)
                pending.pop(index, None)
                if isinstance(item, _Abort):
                    raise item.error
                if progress is not None:
                    progress(item)
                yield index, item
        finally:
            for future in pending.values():
                future.cancel()

    def _next_result(self, results: queue.Queue) -> tuple[int, Any]:
        while True:
            try:
                return results.get(timeout=1.0)
            except queue.Empty:
                if self._thread is None or not self._thread.is_alive():
                    raise LLMError("the LLM client's event loop stopped unexpectedly") from None

    async def _deliver(self, index: int, request: Request, results: queue.Queue) -> None:
        try:
            completion = await self._complete(request)
        except asyncio.CancelledError:
            raise
        except _Fatal as fatal:
            results.put((index, _Abort(fatal.error)))
            return
        except BaseException as exc:  # noqa: BLE001 - a bug must surface, not hang the consumer
            results.put((index, _Abort(exc)))
            return
        tripped = self._record(completion)
        results.put((index, _Abort(tripped) if tripped is not None else completion))

    def _record(self, completion: Completion) -> LLMError | None:
        """Feed the circuit breaker; returns the error to abort with when it trips."""
        with self._outcome_lock:
            self._outcomes.append(completion.error is not None)
            failed = sum(self._outcomes)
            seen = len(self._outcomes)
            if failed >= self.breaker_min_failures and failed > self.breaker_threshold * seen:
                self._outcomes.clear()
                return LLMError(
                    f"the LLM endpoint {self.base_url or 'api.openai.com'} looks down: {failed} of the last {seen} "
                    f"requests failed after {self.max_retries} retries each (last: {completion.error}). "
                    "Check the server, or lower llm.concurrency if it is overloaded; completed results are kept."
                )
        return None

    # ---------------------------------------------------------------- one request
    async def _complete(self, request: Request) -> Completion:
        assert self._slots is not None
        shard = await self._slots.get()
        try:
            return await self._complete_on(self._clients[shard], request)
        finally:
            self._slots.put_nowait(shard)

    async def _complete_on(self, client: Any, request: Request) -> Completion:
        model = await self._resolve_model()
        texts: list[str] = []
        reasons: list[str] = []
        prompt_tokens = completion_tokens = 0
        calls = 0
        # Some servers (llama.cpp) ignore n > 1: ask again for what is missing.
        while len(texts) < request.n and calls < request.n:
            calls += 1
            part = await self._with_retries(client, request, model, request.n - len(texts))
            if isinstance(part, str):
                self._usage.add(requests=1, failures=1)
                log.warning("LLM request failed permanently: %s", part)
                return Completion.failed(part)
            got_texts, got_reasons, p_tok, c_tok = part
            texts += got_texts
            reasons += got_reasons
            prompt_tokens += p_tok
            completion_tokens += c_tok
        self._usage.add(requests=1)
        return Completion(
            tuple(texts[: request.n]), tuple(reasons[: request.n]), prompt_tokens, completion_tokens
        )

    async def _resolve_model(self) -> str:
        if self.model:
            return self.model
        assert self._model_lock is not None
        async with self._model_lock:
            if not self.model:
                import openai

                try:
                    listing = await self._clients[0].models.list()
                    ids = [m.id for m in listing.data]
                except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                    raise _Fatal(self._auth_error(exc)) from exc
                except Exception as exc:
                    raise _Fatal(
                        LLMError(
                            f"llm.model is not set and listing the models at {self.base_url} failed "
                            f"({type(exc).__name__}: {exc}); set llm.model"
                        )
                    ) from exc
                if not ids:
                    raise _Fatal(
                        LLMError(f"llm.model is not set and {self.base_url} serves no models; set llm.model")
                    )
                self.model = ids[0]
                log.warning(
                    "llm.model is not set: using %s, the first model %s serves", self.model, self.base_url
                )
        return self.model

    def _auth_error(self, exc: Any) -> LLMAuthError:
        status = getattr(exc, "status_code", "?")
        return LLMAuthError(
            f"the LLM endpoint {self.base_url or 'api.openai.com'} refused our credentials (HTTP {status}). "
            f"Set a valid key in the environment variable {self.api_key_env} (llm.api_key_env names the variable)."
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            wait = min(retry_after, self.max_retry_after)
            return wait + self._rng.uniform(0, min(1.0, 0.1 * wait))
        return self._rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))

    async def _with_retries(
        self, client: Any, request: Request, model: str, n: int
    ) -> tuple[list[str], list[str], int, int] | str:
        """The reply to `request` with `n` choices, or the error string after retries ran out."""
        import openai

        last = ""
        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            try:
                return await self._call(client, request, model, n)
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                raise _Fatal(self._auth_error(exc)) from exc
            except openai.NotFoundError as exc:
                raise _Fatal(
                    LLMError(
                        f"the LLM endpoint answered 404 for model {model!r} at {self.base_url or 'api.openai.com'}: "
                        f"check llm.base_url (it usually ends in /v1) and llm.model ({exc})"
                    )
                ) from exc
            except openai.APIStatusError as exc:
                status = exc.status_code
                last = f"HTTP {status}: {str(exc)[:300]}"
                if not (status in (408, 409, 425, 429) or status >= 500):
                    return f"not retried, {last}"  # a bad request (400, 413, 422): retrying will not help
                retry_after = parse_retry_after(exc.response.headers)
            except openai.APITimeoutError:
                last = f"timed out after {self.timeout:g}s"
            except (
                openai.APIConnectionError,
                _MalformedReply,
                ValueError,
                openai.APIResponseValidationError,
            ) as exc:
                last = f"{type(exc).__name__}: {str(exc)[:300]}"
            except Exception as exc:
                module = type(exc).__module__.split(".")[0]
                if module not in ("httpx", "httpx2", "httpcore", "h11", "anyio", "pydantic"):
                    log.exception("unexpected error from the LLM endpoint (not retried)")
                    return f"not retried, {type(exc).__name__}: {exc}"
                last = f"{type(exc).__name__}: {str(exc)[:300]}"  # transport / parse errors below openai
            if attempt == self.max_retries:
                break
            delay = self._delay(attempt, retry_after)
            self._usage.add(retries=1)
            log.debug("LLM attempt %d failed (%s); retrying in %.2fs", attempt + 1, last, delay)
            await asyncio.sleep(delay)
        return f"gave up after {self.max_retries + 1} attempts, last: {last}"

    async def _call(
        self, client: Any, request: Request, model: str, n: int
    ) -> tuple[list[str], list[str], int, int]:
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if n != 1:
            body["n"] = n
        if request.stop:
            body["stop"] = list(request.stop[:MAX_API_STOPS])
        if request.seed is not None:
            body["seed"] = request.seed
        body.update(self.extra_body)
        chat = request.messages is not None
        if chat:
            body["messages"] = [dict(m) for m in request.messages]  # type: ignore[union-attr]
        else:
            body["prompt"] = request.prompt
        data = await self._post(client, "/chat/completions" if chat else "/completions", body, chat)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            raise _MalformedReply("the reply has no choices")
        texts: list[str] = []
        reasons: list[str] = []
        for choice in sorted(choices, key=lambda c: (c.get("index") or 0) if isinstance(c, dict) else 0):
            if not isinstance(choice, dict):
                raise _MalformedReply(f"a choice is {type(choice).__name__}, not an object")
            if chat:
                message = choice.get("message")
                if not isinstance(message, dict):
                    raise _MalformedReply("a choice has no message")
                text = message.get("content") or ""
            else:
                text = choice.get("text")
            if not isinstance(text, str):
                raise _MalformedReply(f"choice text is {type(text).__name__}, not str")
            text, stopped = truncate_at_stop(text, request.stop)
            texts.append(text)
            reasons.append("stop" if stopped else str(choice.get("finish_reason") or "stop"))
        usage = data.get("usage")
        p_tok = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        c_tok = usage.get("completion_tokens") if isinstance(usage, dict) else None
        if isinstance(p_tok, int) and isinstance(c_tok, int):
            estimated = 0
        else:
            p_tok = estimate_tokens(request_text(request))
            c_tok = sum(estimate_tokens(t) for t in texts)
            estimated = 1
        self._usage.add(prompt_tokens=p_tok, completion_tokens=c_tok, estimated=estimated)
        return texts, reasons, p_tok, c_tok

    async def _post(self, client: Any, path: str, body: dict[str, Any], chat: bool) -> dict[str, Any]:
        """POST through the openai package and return the reply JSON as a dict.

        `client.post` is the package's public call for raw endpoints: its HTTP stack, auth and
        status-error mapping (RateLimitError, AuthenticationError, ...), without the per-call TypedDict
        transform of the parameters and the pydantic reply models, which together cost ~40% of the
        client's CPU per request; we validate the few fields we read ourselves.
        """
        if self._raw_response is not None:
            response = await client.post(
                path, body=body, cast_to=self._raw_response, options={"timeout": self.timeout}
            )
            data = json.loads(response.content)  # ValueError when malformed: retried
        else:  # fallback: the package's own reply models
            from openai.types import Completion as TextCompletion
            from openai.types.chat import ChatCompletion

            reply = await client.post(
                path,
                body=body,
                cast_to=ChatCompletion if chat else TextCompletion,
                options={"timeout": self.timeout},
            )
            if not hasattr(reply, "model_dump"):
                raise _MalformedReply(f"not a completion object: {str(reply)[:200]!r}")
            data = reply.model_dump()
        if not isinstance(data, dict):
            raise _MalformedReply(f"the reply is {type(data).__name__}, not a JSON object")
        return data

    @property
    def usage(self) -> Usage:
        return self._usage.snapshot()
