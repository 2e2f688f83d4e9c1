"""`OpenAIClient`: one or several OpenAI-compatible endpoints (OpenAI, vLLM, llama.cpp server, TGI, ...).

Design:

* **Concurrency** (`loop_client.py`): `openai.AsyncOpenAI` clients on a private event loop in one daemon
  thread, with `concurrency` requests in flight at once in total. An in-flight request costs a coroutine and
  a socket, not a thread: 256 slow requests cost a few MB and one thread, and a synchronous caller (the
  stages are plain loops) does not have to be async.
* **Endpoints** (`endpoints.py`): `base_url` may be a list. Each request goes to the least-loaded healthy
  endpoint; one that refuses connections or fails attempts in a row is taken out of rotation, re-probed
  after a cool-down, and the attempts that failed on it are retried at once on the others (without
  using up the request's retries). Usage is counted per endpoint (`usage.endpoints`).
* **Adaptive concurrency and health** (`adaptive.py`, `health.py`): each endpoint's share of the concurrency
  backs off on timeouts, 429s and replies slower than half the timeout, and grows back when they come in time;
  an overloaded endpoint is named in a warning within about a minute; a status line every `status_interval` s.
* **Bounded in-flight** (`loop_client.py`): `generate()` pulls from the input iterable in the caller's
  thread only while fewer than `max_in_flight` (default 2 x concurrency) requests are submitted but not yet
  yielded, so a generator of a million requests streams in flat memory, and a slow consumer applies
  backpressure instead of piling up results.
* **Three outcomes** (see `Completion`): texts; `rejected`, a deterministic refusal (HTTP 400/404/413/422
  and the other 4xx except 401/403/408/409/425/429, or a prompt that cannot fit `max_context_tokens`,
  refused before sending): never retried, never counted by the circuit breaker; or `error`, an
  infrastructure failure that outlived the retries.
* **Retries are ours only** (the `openai` package's are disabled with `max_retries=0`): 429, 408,
  409, 425, 5xx, timeouts, connection errors, truncated or malformed replies and empty `choices` are
  retried with exponential backoff and full jitter, honouring `Retry-After` (seconds or an HTTP
  date, capped). A request keeps its concurrency slot while it backs off, so a struggling endpoint
  sees less load, not more.
* **Aborts** (`breaker.py`): 401/403 raise `LLMAuthError` at once (never retried). A circuit breaker aborts
  the run with `LLMError` when most recent requests exhaust their retries (every endpoint is down: burning
  through a million requests' retry budgets would take days to say so); HTTP 404 for every request
  before any succeeded raises `LLMEndpointConfigError` (a base_url without /v1, a wrong model).
* **Preflight** (`preflight()`, called by the stages before their work): every endpoint answers
  `GET /models` within seconds, and lists the model asked for; else a clear error naming the URL.
* **Reasoning models** (`reasoning.py`, `quirks.py`): the thinking is taken out of every reply (a reasoning
  field, or `<think>` blocks and the like inline) and kept apart from the answer. An HTTP 400 that refuses a
  parameter (`max_tokens` on OpenAI's reasoning models, a temperature, a JSON schema) adjusts that endpoint's
  body once and sends the request again at once: no refusal of the prompt. Once the model shows it thinks,
  requests get `reasoning_budget` tokens on top of their own limit, and a reply cut inside its thinking
  before that is asked again at once with the budget.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wizardcoder.llm.base import (
    Completion,
    LLMAuthError,
    LLMError,
    Request,
    Usage,
    UsageCounter,
    context_rejection,
)
from wizardcoder.llm.breaker import RunBreaker
from wizardcoder.llm.endpoints import (
    DEFAULT_BASE_URL,
    Endpoint,
    EndpointPool,
    connection_detail,
    httpx_module,
    is_refused,
    timed_out,
)
from wizardcoder.llm.health import HealthMonitor
from wizardcoder.llm.loop_client import Fatal, LoopClient
from wizardcoder.llm.openai_wire import (  # parse_retry_after: re-exported
    ATTEMPT_GRACE,
    AttemptDeadline,
    MalformedReply,
    Reply,
    parse_reply,
    parse_retry_after,
    post,
    request_body,
    resolve_key,
    server_message,
    within,
)
from wizardcoder.llm.quirks import ModelHabits, default_token_limit, error_object, refused_parameter

log = logging.getLogger(__name__)

RETRIED_STATUSES = (408, 409, 425, 429)  # and every 5xx; the other 4xx are refusals (401/403 abort)


@dataclass(frozen=True)
class _Failure:
    """How a request ended without texts: refused for good (`rejected`), or an infrastructure error."""

    message: str
    rejected: bool = False
    status: int | None = None


class OpenAIClient(LoopClient):
    """See the module docstring. `model=None` uses the first model the (first) endpoint lists at /models."""

    name = "openai"
    thread_name = "wizardcoder-llm-openai"

    def __init__(
        self,
        base_url: str | Sequence[str] | None = None,
        model: str | None = None,
        *,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 16,
        max_retries: int = 6,
        timeout: float = 120.0,
        max_in_flight: int | None = None,
        max_context_tokens: int | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        max_retry_after: float = 120.0,
        breaker_window: int = 100,
        breaker_min_failures: int = 20,
        breaker_threshold: float = 0.5,
        endpoint_down_after: int = 5,
        endpoint_cooldown: float = 5.0,
        preflight_timeout: float = 10.0,
        adaptive_concurrency: bool = True,
        status_interval: float = 30.0,
        overload_window: float = 60.0,
        overload_warn_every: float = 300.0,
        price_per_1k_prompt: float | None = None,
        price_per_1k_completion: float | None = None,
        extra_body: Mapping[str, Any] | None = None,
        seed: int | None = None,
        token_limit_param: str = "auto",
        api: str = "chat",
        reasoning_effort: str | None = None,
        reasoning_budget: int = 0,
    ):
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise ValueError("concurrency >= 1, max_retries >= 0 and timeout > 0 are required")
        urls = [base_url] if base_url is None or isinstance(base_url, str) else list(base_url)
        if not urls or len(set(urls)) != len(urls):
            raise ValueError(f"base_url: give one URL or a list of distinct URLs, got {base_url!r}")
        self.base_urls: list[str | None] = urls
        self.base_url = urls[0]
        self.model = model
        self.api_key_env = api_key_env
        self._api_key = resolve_key(api_key, api_key_env, urls[0])
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.timeout = float(timeout)
        super().__init__(max_in_flight or 2 * concurrency)
        if self.max_in_flight < concurrency:
            raise ValueError("max_in_flight must be >= concurrency")
        self.max_context_tokens = max_context_tokens
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.breaker_window = breaker_window
        self.breaker_min_failures = breaker_min_failures
        self.breaker_threshold = breaker_threshold
        self.endpoint_down_after = endpoint_down_after
        self.endpoint_cooldown = endpoint_cooldown
        self.preflight_timeout = min(preflight_timeout, self.timeout)
        self.adaptive_concurrency = adaptive_concurrency
        self.status_interval = status_interval
        self.overload_window = overload_window
        self.overload_warn_every = overload_warn_every
        self.extra_body = dict(extra_body or {})
        if reasoning_effort:
            self.extra_body["reasoning_effort"] = reasoning_effort
        self.token_limit_param = default_token_limit(urls[0], api == "chat", token_limit_param)
        self.habits = ModelHabits(reasoning_budget, thinks=bool(reasoning_effort))
        self._rng = random.Random(seed)
        self._usage = UsageCounter(price_per_1k_prompt, price_per_1k_completion)
        self._breaker = RunBreaker(
            self.endpoints_label, len(urls), max_retries, window=breaker_window, min_failures=breaker_min_failures,
            threshold=breaker_threshold,
            describe=lambda: self._pool.describe() if self._pool is not None else self.endpoints_label)
        self._pool: EndpointPool | None = None
        self._slots: asyncio.Semaphore | None = None
        self._monitor: asyncio.Task | None = None  # the overload warnings and status lines (health.py)
        self._model_lock: asyncio.Lock | None = None
        self._raw_response: Any = None

    @classmethod
    def from_config(cls, cfg: Any, **kwargs: Any) -> OpenAIClient:
        return cls(
            base_url=cfg.base_url,
            model=cfg.model,
            api_key_env=cfg.api_key_env,
            concurrency=cfg.concurrency,
            max_retries=cfg.max_retries,
            timeout=cfg.timeout,
            max_context_tokens=getattr(cfg, "max_context_tokens", None),
            adaptive_concurrency=getattr(cfg, "adaptive_concurrency", True),
            status_interval=getattr(cfg, "status_interval", 30.0),
            price_per_1k_prompt=cfg.price_per_1k_prompt,
            price_per_1k_completion=cfg.price_per_1k_completion,
            token_limit_param=getattr(cfg, "token_limit_param", "auto"),
            api=getattr(cfg, "api", "chat"),
            reasoning_effort=getattr(cfg, "reasoning_effort", None),
            reasoning_budget=getattr(cfg, "reasoning_budget", 0),
            **kwargs,
        )

    @property
    def endpoints_label(self) -> str:
        return ", ".join(e or DEFAULT_BASE_URL for e in self.base_urls)

    # ---------------------------------------------------------------- the loop's resources
    async def _setup(self) -> None:
        self._model_lock = asyncio.Lock()
        self._breaker.start()
        self._raw_response = getattr(httpx_module(), "Response", None)
        self._slots = asyncio.Semaphore(self.concurrency)
        self._pool = EndpointPool(
            self.base_urls,
            api_key=self._api_key,
            concurrency=self.concurrency,
            timeout=self.timeout,
            down_after=self.endpoint_down_after,
            cooldown=self.endpoint_cooldown,
            probe_timeout=self.preflight_timeout,
            adaptive=self.adaptive_concurrency,
        )
        for endpoint in self._pool.endpoints:
            endpoint.quirks.token_limit = self.token_limit_param
        monitor = HealthMonitor(self._pool, self.timeout, window=self.overload_window,
                                warn_every=self.overload_warn_every, status_every=self.status_interval)
        self._monitor = asyncio.get_running_loop().create_task(monitor.run())

    async def _release(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    # ---------------------------------------------------------------- preflight
    def preflight(self) -> None:
        """Every endpoint answers `GET /models` within `preflight_timeout` seconds and lists `model`.

        Raises `LLMError` naming the URL when no endpoint can be reached (connection refused, no answer),
        `LLMEndpointConfigError` listing the served names when the model is not among them, `LLMAuthError`
        on 401/403. Endpoints that cannot be reached while others can are taken out of rotation (and
        re-probed). An endpoint that does not serve /models is not checked.
        """
        loop = self._ensure_started()
        assert self._pool is not None
        check = self._pool.preflight(self.model, self.preflight_timeout, self._auth_error)
        self.model = asyncio.run_coroutine_threadsafe(check, loop).result(self.preflight_timeout + 30)

    def _record(self, completion: Completion) -> Completion | LLMError:
        return self._breaker.record(completion)

    # ---------------------------------------------------------------- one request
    async def _complete(self, request: Request) -> Completion:
        too_long = context_rejection(request, self.max_context_tokens)
        if too_long is not None:
            self._usage.add(requests=1, rejected=1)
            return Completion.refused(too_long)
        assert self._slots is not None
        async with self._slots:
            return await self._complete_on(request)

    async def _complete_on(self, request: Request) -> Completion:
        model = await self._resolve_model()
        got = Reply()
        structured = request.response_format is not None
        calls = 0
        # Some servers (llama.cpp) ignore n > 1: ask again for what is missing.
        while len(got.texts) < request.n and calls < request.n:
            calls += 1
            budget = self.habits.budget()
            part = await self._with_retries(request, model, request.n - len(got.texts), budget)
            if isinstance(part, _Failure):
                if part.rejected:
                    self._usage.add(requests=1, rejected=1)
                    log.warning("LLM request refused (not retried): %s", part.message)
                    return Completion.refused(part.message, part.status)
                self._usage.add(requests=1, failures=1)
                log.warning("LLM request failed permanently: %s", part.message)
                return Completion.failed(part.message, part.status)
            reply, sent_structured = part
            if self.habits.learn(reply, budget):
                calls -= 1  # cut inside its thinking before the budget applied: asked again at once with it
                self._usage.add(resent=1)
                _add_tokens(got, reply)
                continue
            structured = structured and sent_structured
            _extend(got, reply)
        self._usage.add(requests=1)
        n = request.n
        return Completion(
            tuple(got.texts[:n]), tuple(got.reasons[:n]), got.prompt_tokens, got.completion_tokens,
            reasonings=tuple(got.reasonings[:n]) if any(got.reasonings) else (),
            raw_texts=tuple(got.raw_texts[:n]) if got.raw_texts != got.texts else (),
            answer_missing=tuple(got.missing[:n]) if any(got.missing) else (),
            reasoning_tokens=got.reasoning_tokens, structured=structured,
        )

    async def _resolve_model(self) -> str:
        if self.model:
            return self.model
        assert self._model_lock is not None and self._pool is not None
        async with self._model_lock:
            if not self.model:  # the preflight's choice: the first model an endpoint lists at /models
                try:
                    self.model = await self._pool.preflight(None, self.preflight_timeout, self._auth_error)
                except LLMError as exc:  # auth, no endpoint reachable, nothing listed: nothing can be asked
                    raise Fatal(exc) from exc
        return self.model

    def _auth_error(self, exc: Any, endpoint: Endpoint | None = None) -> LLMAuthError:
        status = getattr(exc, "status_code", "?")
        where = endpoint.label if endpoint is not None else self.endpoints_label
        return LLMAuthError(
            f"the LLM endpoint {where} refused our credentials (HTTP {status}). "
            f"Set a valid key in the environment variable {self.api_key_env} (llm.api_key_env names the variable)."
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            wait = min(retry_after, self.max_retry_after)
            return wait + self._rng.uniform(0, min(1.0, 0.1 * wait))
        return self._rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))

    async def _with_retries(
        self, request: Request, model: str, n: int, budget: int = 0
    ) -> tuple[Reply, bool] | _Failure:
        """The reply to `request` with `n` choices (and whether its JSON schema went with it), or how it failed
        (refused, or retries ran out). `budget`: tokens on top of the request's limit (reasoning)."""
        import openai

        assert self._pool is not None
        pool = self._pool
        last = ""
        attempt = 0  # attempts that used up the retry budget
        failovers = 0
        avoid: Endpoint | None = None
        refused_by: set[Endpoint] = set()  # endpoints that refused this request (another may take it)
        while True:
            endpoint, shard, started = await pool.acquire(avoid, refused_by)
            retry_after: float | None = None
            busy = False
            sent: dict[str, Any] = {}
            try:
                reply, structured = await within(
                    self._call(endpoint, shard, request, model, n, budget, sent), self.timeout + ATTEMPT_GRACE)
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                raise Fatal(self._auth_error(exc, endpoint)) from exc
            except openai.APIStatusError as exc:
                status = exc.status_code
                endpoint.last_answer_at = time.monotonic()  # it answers: busy or unwell, not stalled
                if 400 <= status < 500 and status not in RETRIED_STATUSES:
                    pool.succeeded(endpoint)  # it answered: a refusal is no sign of trouble
                    if self._adjusted(endpoint, exc, sent):
                        continue  # a parameter it does not take, now left out: sent again at once
                    if budget:  # the reasoning budget may not fit the model's context: again at once without it
                        budget = 0
                        self._usage.add(resent=1)
                        continue
                    message = f"HTTP {status}: {server_message(exc)[:1000]}"
                    refused_by.add(endpoint)
                    if pool.any_ready(other_than=refused_by):
                        failovers += 1  # another endpoint may serve it (a bigger context, the model loaded)
                        avoid = endpoint
                        last = f"{message} from {endpoint.label}"
                        continue
                    breaker = self._breaker
                    if not breaker.answered and status != 404 and breaker.refused_alike(status, message):
                        endpoint.counts["rejected"] += 1  # the breaker stops the run as this one is recorded
                        return _Failure(message, rejected=True, status=status)
                    if not breaker.answered and (
                            status == 404 or not await breaker.refusal_stands(pool.inflight, self.timeout)):
                        # nothing has been answered yet: a wrong URL, model or parameter, not this prompt; an
                        # error (asked again), which the breaker counts toward stopping the run
                        return _Failure(f"{message} (no request has succeeded yet: not taken as this prompt's "
                                        "refusal)", status=status)
                    endpoint.counts["rejected"] += 1
                    return _Failure(message, rejected=True, status=status)
                last = f"HTTP {status} from {endpoint.label}: {server_message(exc)[:300]}"
                retry_after = parse_retry_after(exc.response.headers)
                busy = status == 429
                if busy:  # rate limited is busy, not down
                    pool.rate_limited(endpoint, retry_after, started)
                else:
                    pool.failed(endpoint, last, refused=False)
            except AttemptDeadline:
                last = f"{endpoint.label}: no complete reply within {self.timeout + ATTEMPT_GRACE:g}s"
                endpoint.timed_out(started, time.monotonic())
                pool.failed(endpoint, last, refused=False)
            except openai.APITimeoutError as exc:
                # the aiohttp transport reports a refused or dropped connection (and DNS errors) as a timeout
                refused = is_refused(exc)
                if refused or not timed_out(exc):
                    last = f"{endpoint.label}: {connection_detail(exc)[:300]}"
                else:
                    last = f"{endpoint.label} timed out after {self.timeout:g}s"
                    endpoint.timed_out(started, time.monotonic())
                pool.failed(endpoint, last, refused=refused)
            except openai.APIConnectionError as exc:
                last = f"{endpoint.label}: {connection_detail(exc)[:300]}"
                pool.failed(endpoint, last, refused=is_refused(exc))
            except (MalformedReply, ValueError, openai.APIResponseValidationError) as exc:
                last = f"{endpoint.label}: {type(exc).__name__}: {str(exc)[:300]}"
                pool.failed(endpoint, last, refused=False)
            except Exception as exc:
                module = type(exc).__module__.split(".")[0]
                if module not in ("httpx", "httpx2", "httpcore", "httpcore2", "h11", "anyio", "pydantic", "aiohttp"):
                    log.exception("unexpected error from the LLM endpoint (not retried)")
                    return _Failure(f"not retried, {type(exc).__name__}: {exc}")
                last = f"{endpoint.label}: {type(exc).__name__}: {str(exc)[:300]}"  # transport errors below openai
                pool.failed(endpoint, last, refused=is_refused(exc))
            else:
                pool.succeeded(endpoint)
                endpoint.answered(started, time.monotonic())
                endpoint.counts["requests"] += 1
                endpoint.counts["prompt_tokens"] += reply.prompt_tokens
                endpoint.counts["completion_tokens"] += reply.completion_tokens
                endpoint.counts["reasoning_tokens"] += reply.reasoning_tokens
                self._usage.add(prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
                                estimated=reply.estimated, reasoning_tokens=reply.reasoning_tokens,
                                reasoning_estimated=reply.reasoning_estimated)
                return reply, structured
            finally:
                pool.release(endpoint, shard)
                self._breaker.attempt_ended()  # refusals waiting for an answer look again
            if ((busy or not endpoint.healthy) and pool.any_ready(other_than=endpoint)
                    and failovers < 4 * len(pool.endpoints)):
                failovers += 1  # its endpoint is out or busy: go to another at once, the retry budget untouched
                avoid = endpoint
                self._usage.add(retries=1)
                log.debug("LLM attempt failed on %s (%s); failing over", endpoint.label, last)
                continue
            if attempt == self.max_retries:
                break
            self._usage.add(retries=1)
            delay = self._delay(attempt, retry_after)
            attempt += 1
            avoid = endpoint
            log.debug("LLM attempt %d failed (%s); retrying in %.2fs", attempt, last, delay)
            await asyncio.sleep(delay)
        return _Failure(f"gave up after {attempt + 1 + failovers} attempts, last: {last}")

    async def _call(self, endpoint: Endpoint, shard: int, request: Request, model: str, n: int, budget: int,
                    sent: dict[str, Any]) -> tuple[Reply, bool]:
        """One attempt; `sent` gets the body (what a refusal is read against)."""
        body = request_body(request, model, n, self.extra_body, endpoint.quirks, request.max_tokens + budget)
        sent.update(body)
        chat = request.messages is not None
        path = "/chat/completions" if chat else "/completions"
        data = await post(endpoint.clients[shard], path, body, chat, self.timeout, self._raw_response)
        structured = "response_format" in body or "json_schema" in body
        return parse_reply(data, request, self.habits.starts_inside), structured

    def _adjusted(self, endpoint: Endpoint, exc: Any, sent: dict[str, Any]) -> bool:
        """Whether a refusal was of a parameter this endpoint does not take, now adjusted (warned once)."""
        parameter = refused_parameter(server_message(exc), error_object(getattr(exc, "body", None)), sent)
        note = endpoint.quirks.learn(parameter) if parameter else None
        if note is None:
            return False
        self._usage.add(resent=1)
        if note:  # "": adjusted already, after another request's refusal
            log.warning("LLM endpoint %s: %s (said: %s)", endpoint.label, note, server_message(exc)[:200])
        return True

    @property
    def usage(self) -> Usage:
        return self._usage.snapshot(self._pool.usage() if self._pool is not None else None)


def _extend(got: Reply, reply: Reply) -> None:
    got.texts += reply.texts
    got.reasons += reply.reasons
    got.reasonings += reply.reasonings
    got.raw_texts += reply.raw_texts
    got.missing += reply.missing
    _add_tokens(got, reply)


def _add_tokens(got: Reply, reply: Reply) -> None:
    got.prompt_tokens += reply.prompt_tokens
    got.completion_tokens += reply.completion_tokens
    got.reasoning_tokens += reply.reasoning_tokens
