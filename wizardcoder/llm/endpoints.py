"""Several OpenAI-compatible endpoints behind one client: least-loaded routing, health and re-probing.

Every endpoint has its own `openai.AsyncOpenAI` clients (one per `SHARD_SIZE` concurrency slots: httpcore
scans its whole connection pool on every request, so pools of 32 cost half the client CPU of one pool of
256). A request goes to the healthy endpoint with the fewest requests in flight. An endpoint is taken out of
rotation when a connection to it is refused, or after `down_after` failed attempts in a row (a 5xx storm,
timeouts); a background task re-probes it (`GET /models`) after a cool-down that doubles while it stays
down, and puts it back when it answers. Only when every endpoint is out do requests go to the down ones
anyway: their retries then run out and the client's circuit breaker stops the run. An endpoint that
answers 429 is busy, not down: it gets no new requests until its Retry-After has passed while another
endpoint is free.

Each endpoint also has its own concurrency limit (`adaptive.py`): it shrinks when the endpoint times out,
rate limits or answers ever more slowly, and a request waits for room rather than pile onto a full endpoint.
`state()` says how each one is doing as of now (down / taken out N x / degraded / healthy, and why).

Everything here runs on the client's event loop thread; the counters are read from other threads only
as whole snapshots.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import importlib
import json
import logging
import time
from collections.abc import Callable, Collection
from typing import Any

from wizardcoder.llm.adaptive import ConcurrencyLimit
from wizardcoder.llm.base import LLMEndpointConfigError, LLMError
from wizardcoder.llm.quirks import Quirks

log = logging.getLogger(__name__)

SHARD_SIZE = 32  # concurrency slots per HTTP connection pool
DEFAULT_BASE_URL = "https://api.openai.com/v1"  # where the openai package sends requests without a base_url
COUNTERS = ("requests", "attempts", "failed_attempts", "rate_limited", "rejected", "prompt_tokens",
            "completion_tokens", "reasoning_tokens", "taken_out", "timeouts")
RECENT = 50  # attempts remembered per endpoint for its state
DEGRADED_SHARE = 0.2  # an endpoint that failed this share of its recent attempts is degraded


def httpx_module() -> Any | None:
    """The httpx flavour this openai version is built on (httpx, or httpx2 in openai 3.x)."""
    import openai

    try:
        base = next(c for c in openai.DefaultAsyncHttpxClient.__mro__ if c.__name__ == "AsyncClient")
        return importlib.import_module(base.__module__.split(".")[0])
    except Exception as exc:  # noqa: BLE001 - an unusual openai build
        log.debug("cannot tell which httpx the openai package uses (%s)", exc)
        return None


def _http_client(connections: int, timeout: float) -> Any | None:
    """An async HTTP client with a connection pool as large as its share of the concurrency (the openai
    default keeps only 100 connections alive).

    The openai package's aiohttp transport where it ships one (openai[aiohttp]): the same client, errors and
    retries, at about two thirds of httpx's CPU per request (1.0 vs 1.5 ms against the fake server at
    concurrency 64 and 256), which is most of what evolve spends per task. Else httpx's own transport.
    """
    import openai

    httpx_mod = httpx_module()
    if httpx_mod is None:
        return None
    limits = httpx_mod.Limits(max_connections=connections + 8, max_keepalive_connections=connections + 8)
    timeouts = httpx_mod.Timeout(timeout, connect=min(timeout, 10.0))
    aiohttp_client = getattr(openai, "DefaultAioHttpClient", None)
    if aiohttp_client is not None:
        try:
            return aiohttp_client(limits=limits, timeout=timeouts)
        except Exception as exc:  # noqa: BLE001 - RuntimeError without the extra; httpx below
            log.debug("openai's aiohttp transport is not available (%s); using httpx", exc)
    try:
        return openai.DefaultAsyncHttpxClient(limits=limits, timeout=timeouts)
    except Exception as exc:  # noqa: BLE001 - fall back to the openai defaults
        log.debug("using the openai package's default HTTP client (%s)", exc)
        return None


_OPENAI_CLASS: Any = None


def _openai_class() -> Any:
    """`openai.AsyncOpenAI` remembering each path's full URL: the package parses and joins the base URL and
    the path twice on every request (~25 us, a tenth of a call's CPU), though a client's paths are few."""
    global _OPENAI_CLASS
    if _OPENAI_CLASS is None:
        import openai

        class AsyncOpenAI(openai.AsyncOpenAI):
            def _prepare_url(self, url: str) -> Any:
                urls = self.__dict__.setdefault("_wizardcoder_urls", {})
                if url not in urls:
                    if len(urls) >= 64:  # a client asks few paths; never grow without bound
                        urls.clear()
                    urls[url] = super()._prepare_url(url)
                return urls[url]

        _OPENAI_CLASS = AsyncOpenAI
    return _OPENAI_CLASS


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    node: BaseException | None = exc
    while node is not None and node not in seen:
        seen.append(node)
        node = node.__cause__ or node.__context__
    return seen


def connection_detail(exc: BaseException) -> str:
    """The most specific message in an exception's cause chain, saying "connection refused" when it was."""
    chain = _chain(exc)
    detail = next((str(e) for e in reversed(chain) if str(e)), str(exc))
    refused = any(isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED
                  for e in chain)
    return f"connection refused ({detail})" if refused and "refused" not in detail.lower() else detail


async def list_models(endpoint: Endpoint, timeout: float) -> Any:
    """`GET /models` as the raw HTTP response (`model_ids` parses its body: servers answer odd shapes)."""
    client = endpoint.clients[0]
    return await client.get("/models", cast_to=httpx_module().Response, options={"timeout": timeout})


def model_ids(body: bytes) -> list[str] | None:
    """The model ids of a `GET /models` reply (`{"data": [{"id": ...}, ...]}`); None when it is not such a list."""
    try:
        listed = json.loads(body).get("data")
    except (ValueError, AttributeError):
        return None
    if not isinstance(listed, list):
        return None
    ids = [m["id"] for m in listed if isinstance(m, dict) and isinstance(m.get("id"), str)]
    return ids if ids or not listed else None


def timed_out(exc: BaseException) -> bool:
    """Whether a transport "timeout" really was one: openai's aiohttp transport also reports a connection the
    server dropped, and a name that does not resolve, as a connect timeout."""
    root = _chain(exc)[-1]
    return isinstance(root, TimeoutError) or "timeout" in type(root).__name__.lower() or root is exc


def is_refused(exc: BaseException) -> bool:
    """Whether the TCP connection itself failed (refused, no route): the endpoint is down, not just slow."""
    return any(type(e).__name__ == "ConnectError" or isinstance(e, ConnectionRefusedError) for e in _chain(exc))


class Endpoint:
    """One base URL: its HTTP clients, load, health and counters."""

    def __init__(self, url: str | None, api_key: str, concurrency: int, timeout: float, cooldown: float,
                 adaptive: bool = True, down_after: int = 5):
        self.url = url
        self.label = url or DEFAULT_BASE_URL
        # Every endpoint can carry the whole concurrency (the others may be down), in pools of SHARD_SIZE.
        shards = -(-concurrency // SHARD_SIZE)
        size = -(-concurrency // shards)
        self.clients: list[Any] = []
        for _ in range(shards):
            kwargs: dict[str, Any] = {}
            http_client = _http_client(size, timeout)
            if http_client is not None:
                kwargs["http_client"] = http_client
            self.clients.append(
                _openai_class()(api_key=api_key, base_url=url, max_retries=0, timeout=timeout, **kwargs)
            )
        self.shard_load = [0] * shards
        self.inflight = 0
        self.picks = 0
        self.failures_in_a_row = 0
        self.down_reason: str | None = None
        self.last_probe: str | None = None  # what the last re-probe of it found, while it is down
        self.busy_until = 0.0  # rate limited (429) until then
        self.down_since = 0.0
        self.base_cooldown = cooldown
        self.cooldown = cooldown
        self.probe: asyncio.Task | None = None
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.limit = ConcurrencyLimit(concurrency, timeout, enabled=adaptive)
        self.down_after = down_after
        self.recent: collections.deque[bool] = collections.deque(maxlen=RECENT)  # attempt outcomes, True: ok
        self.last_failure = ""
        self.busy_since = 0.0  # monotonic time its in-flight count last rose from zero
        self.last_answer_at = 0.0  # ... it last answered
        self.latency_total = 0.0  # seconds its answered attempts took, summed
        self.quirks = Quirks()  # what its request bodies must look like, learned from its refusals (quirks.py)

    @property
    def healthy(self) -> bool:
        return self.down_reason is None

    def has_room(self) -> bool:
        return self.inflight < self.limit.allowed

    def acquire(self, now: float) -> int:
        shard = min(range(len(self.shard_load)), key=self.shard_load.__getitem__)
        self.shard_load[shard] += 1
        if not self.inflight:
            self.busy_since = now
        self.inflight += 1
        self.picks += 1
        self.counts["attempts"] += 1
        return shard

    def release(self, shard: int) -> None:
        self.shard_load[shard] -= 1
        self.inflight -= 1

    def answered(self, started: float, now: float) -> None:
        """An attempt started at `started` got a reply (texts, or a refusal) at `now`."""
        self.last_answer_at = now
        self.latency_total += now - started
        self.limit.answered(started, now)

    def timed_out(self, started: float, now: float) -> None:
        self.counts["timeouts"] += 1
        self.limit.congested(started, now, "timeouts")

    def state(self) -> tuple[str, str]:
        """How it is doing as of now, and why: ("down" | "taken out N x" | "degraded" | "healthy", reason)."""
        out = self.counts["taken_out"]
        if not self.healthy:
            probe = f"; last probe: {self.last_probe}" if self.last_probe else ""
            return "down", f"out of rotation: {self.down_reason}{probe}" + (f" (taken out {out}x)" if out > 1 else "")
        if self.failures_in_a_row >= self.down_after:
            return "down", f"its last {self.failures_in_a_row} attempts failed, last: {self.last_failure}"
        recent = tuple(self.recent)  # one C-level copy: safe against the loop thread appending
        failed = recent.count(False)
        trouble = []
        if failed and failed >= DEGRADED_SHARE * len(recent):
            trouble.append(f"{failed} of its last {len(recent)} attempts failed, last: {self.last_failure}")
        if self.limit.allowed < self.limit.ceiling:
            trouble.append(f"concurrency cut to {self.limit.allowed} of {self.limit.ceiling} ({self.limit.last_cut})")
        if out:
            return f"taken out {out}x", "; ".join(["back in rotation", *trouble])
        return ("degraded", "; ".join(trouble)) if trouble else ("healthy", "")

    def snapshot(self) -> dict[str, Any]:
        state, reason = self.state()
        adjusted = {"adjusted": list(self.quirks.notes)} if self.quirks.notes else {}
        return {**self.counts, "state": state, "reason": reason, "concurrency": self.limit.allowed, **adjusted}


class EndpointPool:
    """The endpoints of one client. See the module docstring."""

    def __init__(
        self,
        urls: list[str | None],
        *,
        api_key: str,
        concurrency: int,
        timeout: float,
        down_after: int = 5,
        cooldown: float = 5.0,
        max_cooldown: float = 60.0,
        probe_timeout: float = 5.0,
        adaptive: bool = True,
    ):
        self.endpoints = [Endpoint(url, api_key, concurrency, timeout, cooldown, adaptive, down_after)
                          for url in urls]
        self.down_after = down_after
        self._room: asyncio.Event | None = None  # set when an attempt ends, for requests waiting for room
        self.max_cooldown = max_cooldown
        self.probe_timeout = probe_timeout

    # ---------------------------------------------------------------- routing
    async def acquire(self, avoid: Endpoint | None = None, refused: Collection[Endpoint] = ()
                      ) -> tuple[Endpoint, int, float]:
        """The endpoint `pick` chooses, once it has room under its concurrency limit (waiting for it), with the
        shard taken and the time the attempt starts. Call `release` when the attempt ends."""
        while True:
            endpoint = self.pick(avoid, refused)
            if endpoint.has_room():
                now = time.monotonic()
                return endpoint, endpoint.acquire(now), now
            if self._room is None:
                self._room = asyncio.Event()
            await self._room.wait()

    def release(self, endpoint: Endpoint, shard: int) -> None:
        endpoint.release(shard)
        if self._room is not None:
            self._room.set()
            self._room = None

    def pick(self, avoid: Endpoint | None = None, refused: Collection[Endpoint] = ()) -> Endpoint:
        """The least-loaded healthy endpoint that is not rate limited, has room under its concurrency limit and
        is not among those that `refused` the request (nor `avoid`, if there is another); else the least-loaded
        healthy one; if none is healthy, the least-loaded of all (the request then fails and backs off, or finds
        it back)."""
        if len(self.endpoints) == 1:
            return self.endpoints[0]
        now = time.monotonic()
        healthy = [e for e in self.endpoints if e.healthy]
        ready = [e for e in healthy if e.busy_until <= now] or healthy
        ready = [e for e in ready if e.has_room()] or ready
        if refused:
            ready = [e for e in ready if e not in refused] or ready
        if avoid is not None and len(ready) > 1:
            ready = [e for e in ready if e is not avoid]
        return min(ready or self.endpoints, key=lambda e: (e.inflight, e.picks))

    def inflight(self) -> int:
        return sum(e.inflight for e in self.endpoints)

    def any_ready(self, other_than: Endpoint | Collection[Endpoint] | None = None) -> bool:
        """Whether another endpoint is healthy and not rate limited (somewhere to fail over to)."""
        now = time.monotonic()
        others = other_than if isinstance(other_than, (set, frozenset, list, tuple)) else (other_than,)
        return any(e.healthy and e.busy_until <= now and e not in others for e in self.endpoints)

    def rate_limited(self, endpoint: Endpoint, retry_after: float | None, started: float) -> None:
        now = time.monotonic()
        endpoint.counts["rate_limited"] += 1
        endpoint.busy_until = now + (retry_after if retry_after is not None else 1.0)
        endpoint.limit.congested(started, now, "HTTP 429")

    # ---------------------------------------------------------------- health
    def succeeded(self, endpoint: Endpoint) -> None:
        endpoint.recent.append(True)
        endpoint.failures_in_a_row = 0
        endpoint.cooldown = endpoint.base_cooldown  # it served a request: a later outage starts afresh
        if not endpoint.healthy:
            self._back(endpoint, "a request succeeded")

    def failed(self, endpoint: Endpoint, reason: str, refused: bool) -> None:
        """An attempt on `endpoint` hit an infrastructure error; take the endpoint out when it looks down."""
        endpoint.counts["failed_attempts"] += 1
        endpoint.failures_in_a_row += 1
        endpoint.recent.append(False)
        endpoint.last_failure = reason[:300]
        if len(self.endpoints) == 1:
            return  # nowhere else to go: the request's retries and the circuit breaker decide
        if endpoint.healthy and (refused or endpoint.failures_in_a_row >= self.down_after):
            why = reason if refused else f"{endpoint.failures_in_a_row} failed attempts in a row, last: {reason}"
            self._take_out(endpoint, why)

    def _take_out(self, endpoint: Endpoint, reason: str) -> None:
        endpoint.down_reason = reason[:300]
        endpoint.down_since = time.monotonic()
        endpoint.counts["taken_out"] += 1
        others = sum(e.healthy for e in self.endpoints)
        log.warning("LLM endpoint %s taken out of rotation (%s); %d other(s) healthy; re-probing in %.0fs",
                    endpoint.label, endpoint.down_reason, others, endpoint.cooldown)
        if endpoint.probe is None or endpoint.probe.done():
            endpoint.probe = asyncio.get_running_loop().create_task(self._reprobe(endpoint))

    def _back(self, endpoint: Endpoint, why: str) -> None:
        log.warning("LLM endpoint %s is back in rotation (%s) after %.0fs", endpoint.label, why,
                    time.monotonic() - endpoint.down_since)
        endpoint.down_reason = endpoint.last_probe = None
        endpoint.failures_in_a_row = 0

    async def _reprobe(self, endpoint: Endpoint) -> None:
        while not endpoint.healthy:
            await asyncio.sleep(endpoint.cooldown)
            if endpoint.healthy:
                return
            problem = await self.probe(endpoint)
            if problem is None:
                # a probe proves less than a served request (/models may answer while completions fail):
                # until one is served, the next outage waits twice as long, so a flapping endpoint costs little
                endpoint.cooldown = min(endpoint.cooldown * 2, self.max_cooldown)
                self._back(endpoint, "it answered a probe")
                return
            endpoint.cooldown = min(endpoint.cooldown * 2, self.max_cooldown)
            endpoint.last_probe = problem[:300]
            log.info("LLM endpoint %s still down (%s); next probe in %.0fs", endpoint.label, problem,
                     endpoint.cooldown)

    async def probe(self, endpoint: Endpoint) -> str | None:
        """None when the endpoint answers HTTP (any status below 500), else what went wrong."""
        import openai

        try:
            await list_models(endpoint, self.probe_timeout)  # any answer is alive, a model list or not
        except openai.APIStatusError as exc:
            return None if exc.status_code < 500 else f"HTTP {exc.status_code}"
        except openai.APITimeoutError as exc:
            return connection_detail(exc) if is_refused(exc) else f"no answer within {self.probe_timeout:g}s"
        except Exception as exc:  # noqa: BLE001 - connection errors of any transport
            return connection_detail(exc)
        return None

    # ---------------------------------------------------------------- preflight
    async def preflight(self, model: str | None, timeout: float, auth_error: Callable[[Any, Endpoint], Exception]
                        ) -> str:
        """Check every endpoint with `GET /models` within `timeout`; returns the model to use (`model`, or the
        first one listed when it is None). See `OpenAIClient.preflight` for what raises."""
        checks = await asyncio.gather(*(self._list_models(e, model, timeout, auth_error) for e in self.endpoints))
        unreachable = [(e, problem) for e, (problem, _) in zip(self.endpoints, checks) if problem is not None]
        if len(unreachable) == len(self.endpoints):
            where = "; ".join(f"{e.label}: {problem}" for e, problem in unreachable)
            raise LLMError(
                f"cannot reach the LLM endpoint{'s' if len(self.endpoints) > 1 else ''} ({where}). Is the server "
                "running, and is --base-url / llm.base_url right (host, port, usually ending in /v1)?")
        for endpoint, problem in unreachable:
            self.failed(endpoint, f"preflight: {problem}", refused=True)
        listed = [(e, ids) for e, (problem, ids) in zip(self.endpoints, checks) if problem is None and ids is not None]
        if model is None:
            first = next(((e, ids) for e, ids in listed if ids), None)
            if first is None:
                raise LLMEndpointConfigError(
                    f"llm.model is not set and no endpoint lists models at /models ({self.describe()}): "
                    "set --model / llm.model")
            model = first[1][0]
            log.warning("llm.model is not set: using %s, the first model %s serves", model, first[0].label)
        for endpoint, ids in listed:
            if model not in ids:
                names = ", ".join(ids[:50]) + (f" (and {len(ids) - 50} more)" if len(ids) > 50 else "")
                raise LLMEndpointConfigError(
                    f"the LLM endpoint {endpoint.label} does not serve the model {model!r}; it lists: "
                    f"{names or 'no models'}. Set --model / llm.model to one of these.")
        log.info("LLM endpoint(s) reachable: %s (model %s)", self.describe(), model)
        return model

    @staticmethod
    async def _list_models(endpoint: Endpoint, model: str | None, timeout: float,
                           auth_error: Callable[[Any, Endpoint], Exception]) -> tuple[str | None, list[str] | None]:
        """(problem reaching it or None, the model ids it lists or None where /models is not served)."""
        import openai

        try:
            listing = await list_models(endpoint, timeout)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise auth_error(exc, endpoint) from exc
        except openai.NotFoundError:
            await EndpointPool._check_routes(endpoint, model, timeout)
            log.warning("LLM endpoint %s does not serve GET /models: the model name is not checked", endpoint.label)
            return None, None
        except openai.APIStatusError as exc:  # 5xx: up but unwell (requests retry)
            log.warning("LLM endpoint %s answered HTTP %d to GET /models: the model name is not checked",
                        endpoint.label, exc.status_code)
            return None, None
        except openai.APITimeoutError as exc:
            if is_refused(exc) or not timed_out(exc):  # the aiohttp transport reports these as timeouts
                return connection_detail(exc), None
            return f"no answer to GET /models within {timeout:g}s", None
        except Exception as exc:  # noqa: BLE001 - connection errors of any transport
            return connection_detail(exc), None
        ids = model_ids(listing.content)
        if ids is None:  # it answered, with something else than a model list: like a 5xx, not checked
            log.warning("LLM endpoint %s answered GET /models with something that is not a model list (%r): "
                        "the model name is not checked", endpoint.label, listing.content[:200])
        return None, ids

    @staticmethod
    async def _check_routes(endpoint: Endpoint, model: str | None, timeout: float) -> None:
        """Where /models is 404, one-token requests to both completion routes: 404 from both means the URL (or
        the model) is wrong, which every request would then hit."""
        import openai

        said = ""
        for path, body in (("/chat/completions", {"messages": [{"role": "user", "content": "ping"}]}),
                           ("/completions", {"prompt": "ping"})):
            try:
                await endpoint.clients[0].post(path, body={"model": model or "", "max_tokens": 1, **body},
                                               cast_to=getattr(httpx_module(), "Response", object),
                                               options={"timeout": timeout})
            except openai.NotFoundError as exc:
                said = str(getattr(exc, "message", exc))[:200]
                continue
            except Exception:  # noqa: BLE001 - anything but 404 means the route exists
                return
            return
        raise LLMEndpointConfigError(
            f"the LLM endpoint {endpoint.label} answers HTTP 404 to /models, /chat/completions and /completions "
            f"({said}): check --base-url / llm.base_url (it usually ends in /v1) and --model / llm.model")

    # ---------------------------------------------------------------- reporting
    def describe(self) -> str:
        """Each endpoint's state as of now, with the reason."""
        return "; ".join(f"{e.label}: " + ": ".join(part for part in e.state() if part) for e in self.endpoints)

    def usage(self) -> dict[str, dict[str, Any]]:
        return {e.label: e.snapshot() for e in self.endpoints}

    async def close(self) -> None:
        for endpoint in self.endpoints:
            if endpoint.probe is not None:
                endpoint.probe.cancel()
            for client in endpoint.clients:
                await client.close()
