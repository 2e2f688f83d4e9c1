"""`LLMConfig` (the `llm:` section of evolve and eval configs) and `create_client`, the one factory."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wizardcoder.config import SettingError, Settings, setting
from wizardcoder.llm.base import LLMClient

log = logging.getLogger(__name__)

BUILTIN_PROVIDERS = ("auto", "openai", "embedded", "transformers")
LOCAL_PROVIDERS = ("transformers", "embedded")  # load the model in this process: adapters, prompt templates
# name -> factory of providers added at run time: tests register `fake` (wizardcoder.testing.fake_llm)
_REGISTERED: dict[str, Callable[[LLMConfig], LLMClient]] = {}


def register_provider(name: str, factory: Callable[[LLMConfig], LLMClient]) -> None:
    """Make `llm.provider: <name>` create its client with `factory(cfg)`. Such a provider takes chat
    messages, like an endpoint (no adapter, no local template)."""
    if name in BUILTIN_PROVIDERS:
        raise ValueError(f"{name!r} is a built-in provider")
    _REGISTERED[name] = factory


def provider_names() -> tuple[str, ...]:
    return BUILTIN_PROVIDERS + tuple(_REGISTERED)


REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


class LLMConfigError(SettingError):
    """A bad `llm.*` value (a ConfigError and a ValueError, naming its key)."""


@dataclass
class LLMConfig(Settings):
    SECTION = "llm"

    provider: str = setting(
        "auto", choices=provider_names,
        help="auto: an OpenAI-compatible endpoint if base_url is set (or model names a hosted model), a local "
             "model if model is a path on disk, else the embedded SmolLM2-135M-Instruct (tiny: demos and tests)")
    base_url: str | list[str] | None = setting(
        None,
        help="an OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (vLLM, llama.cpp server, TGI, ...), "
             "or a list of endpoints serving the same model: each request goes to the least-loaded healthy one, "
             "and one that is down is skipped until it answers again")
    model: str | None = setting(None, help="the endpoint's model name, or a local model directory / .gguf file")
    api_key_env: str = setting("OPENAI_API_KEY", fingerprinted=False,
                               help="the environment variable holding the API key; local servers take any value")
    api: str = setting("chat", choices=("chat", "completions"),
                       help="the endpoint API: chat (messages) or completions (a raw prompt)")
    concurrency: int = setting(16, ge=1, fingerprinted=False,
                               help="requests in flight at once (HTTP providers), in total over all endpoints")
    max_retries: int = setting(6, ge=0, fingerprinted=False,
                               help="retries per request after the first attempt (429 / 5xx / timeouts / garbled "
                                    "replies)")
    timeout: float = setting(120.0, gt=0, fingerprinted=False, help="seconds per HTTP attempt")
    adaptive_concurrency: bool = setting(
        True, fingerprinted=False,
        help="each endpoint's concurrency starts at llm.concurrency, halves on timeouts or HTTP 429 and when "
             "replies take over half of llm.timeout, and grows back by one per round of replies in time "
             "(false: always llm.concurrency)")
    status_interval: float = setting(
        30.0, ge=0, fingerprinted=False,
        help="seconds between one-line LLM status reports (done, in flight, tokens/s, each endpoint's state) in "
             "the log; in a terminal the live display's last line. 0: none")
    max_context_tokens: int | None = setting(
        None, ge=1, fingerprinted=False,
        help="the model's context length, where known: a prompt (estimated at ~4 characters per token) + "
             "max_tokens that cannot fit is refused before sending, as the server's HTTP 400 would be")
    adapter: str | None = setting(None, help="a peft LoRA adapter directory (transformers and embedded providers)")
    template: str = setting("alpaca", choices=("alpaca", "chat"),
                            help="how instructions are rendered for local models: alpaca or chat (the tokenizer's "
                                 "chat template)")
    batch_size: int = setting(8, ge=1, fingerprinted=False, help="rows per generate() call (local providers)")
    device: str = setting("auto", fingerprinted=False,
                          help="local providers: auto (cuda if available, else cpu), cpu, cuda, cuda:N or mps")
    token_limit_param: str = setting(
        "auto", choices=("auto", "max_tokens", "max_completion_tokens"), fingerprinted=False,
        help="the name of the token-limit parameter in requests; auto: max_completion_tokens on OpenAI's own chat "
             "API, max_tokens elsewhere. Either way an endpoint that refuses the one sent gets the other from then on")
    reasoning_effort: str | None = setting(
        None, choices=REASONING_EFFORTS,
        help="sent as reasoning_effort (OpenAI o-series / gpt-5, gpt-oss on vLLM, ...); null: not sent. An endpoint "
             "that refuses it gets requests without it (one warning)")
    reasoning_budget: int = setting(
        4096, ge=0,
        help="tokens added to each request's token limit once the model shows it reasons (a think block, a "
             "reasoning field or reasoning tokens in its replies; at once when llm.reasoning_effort is set), so "
             "the thinking does not use up the answer's budget; a reply cut inside its thinking before then is "
             "asked again at once with it. 0: never")
    structured: str | bool = setting(  # bool: YAML reads a bare `off` as false
        "auto", choices=("auto", "json_schema", "off"),
        help="ask for answers as JSON following a schema (solve: the solution and the tests; evolve: the "
             "rewritten instruction); answers that are not such JSON are read as markdown, and an endpoint that "
             "refuses schemas gets markdown requests from then on. auto: json_schema behind an endpoint, off on "
             "local models")
    price_per_1k_prompt: float | None = setting(None, ge=0, fingerprinted=False,
                                                help="USD per 1k prompt tokens: usage.cost is reported when set")
    price_per_1k_completion: float | None = setting(None, ge=0, fingerprinted=False,
                                                    help="USD per 1k completion tokens")

    def __post_init__(self) -> None:
        if isinstance(self.structured, bool):  # `structured: off` in YAML (or the override) is false
            self.structured = "json_schema" if self.structured else "off"
        super().__post_init__()

        def bad(key: str, problem: str) -> LLMConfigError:
            return LLMConfigError(f"llm.{key}: {problem}")

        if isinstance(self.base_url, (list, tuple)):
            if not self.base_url:
                raise bad("base_url", "an empty list: give one URL or a list of URLs, or leave it unset")
            if len(set(self.base_url)) != len(self.base_url):
                raise bad("base_url", f"{self.base_url!r} lists an endpoint twice")
            self.base_url = self.base_url[0] if len(self.base_url) == 1 else list(self.base_url)
        for url in self.base_urls:
            if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
                raise bad("base_url", f"{url!r} is not an http(s) URL (e.g. http://localhost:8000/v1)")
        if self.provider == "transformers" and not self.model:
            raise bad("model", "provider 'transformers' needs llm.model (a model directory or a .gguf file)")
        if not self.api_key_env or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", self.api_key_env):
            raise bad("api_key_env", f"{self.api_key_env!r} is not an environment variable name")
        if not re.match(r"^(auto|cpu|mps|cuda(:\d+)?)$", str(self.device)):
            raise bad("device", f"{self.device!r}: use auto, cpu, cuda, cuda:N or mps")
        if self.adapter is not None and self.resolved_provider() not in LOCAL_PROVIDERS:
            raise bad(
                "adapter",
                f"an adapter needs a local model; provider {self.resolved_provider()!r} cannot load one "
                "(use provider 'transformers' or 'embedded', or serve the adapter behind base_url)",
            )

    @property
    def base_urls(self) -> list[str]:
        """`base_url` as a list (empty when unset)."""
        if self.base_url is None:
            return []
        return [self.base_url] if isinstance(self.base_url, str) else list(self.base_url)

    def resolved_provider(self) -> str:
        """The provider `auto` stands for here (see the comment on `provider`)."""
        if self.provider != "auto":
            return self.provider
        if self.base_url:
            return "openai"
        if self.model:
            return "transformers" if Path(self.model).expanduser().exists() else "openai"
        return "embedded"

    # What the provider can take: stages ask here instead of testing provider names.
    def max_stop_sequences(self) -> int | None:
        """How many stop sequences one request may carry (the OpenAI API takes 4; callers apply the rest)."""
        return 4 if self.resolved_provider() == "openai" else None

    def batches_requests(self) -> bool:
        """A local model runs one batch at a time (its rows share the sampling settings): a stage sends what
        belongs together (a task's samples) as one request. An endpoint takes requests one by one."""
        return self.resolved_provider() in ("embedded", "transformers")

    def seeds_each_request(self) -> bool:
        """An endpoint takes a sampling seed per request; a local model batches requests of equal
        sampling settings, so they share one seed."""
        return self.resolved_provider() == "openai"

    def prefers_instructions(self) -> bool:
        """Whether the model is best asked with an instruction (a chat turn) rather than a raw prompt
        to continue: instruction-tuned local models and endpoints on `api: chat`."""
        provider = self.resolved_provider()
        if provider == "embedded" or self.adapter:
            return True
        return provider not in LOCAL_PROVIDERS and self.api == "chat"

    def wants_schema(self) -> bool:
        """Whether requests carry a JSON schema for their answer (`structured`; `auto`: behind an endpoint)."""
        if self.structured == "auto":
            return self.resolved_provider() == "openai"
        return self.structured == "json_schema"

    def local_template(self) -> str | None:
        """How instructions are rendered for a local model (None: the provider takes chat messages)."""
        provider = self.resolved_provider()
        if provider not in LOCAL_PROVIDERS:
            return None
        return "chat" if provider == "embedded" and not self.adapter else self.template


def create_client(cfg: LLMConfig) -> LLMClient:
    """The client `cfg` asks for. Heavy imports (openai, torch) happen here, never at import time."""
    provider = cfg.resolved_provider()
    if provider == "openai":
        from wizardcoder.llm.endpoints import DEFAULT_BASE_URL
        from wizardcoder.llm.openai_client import OpenAIClient

        client: LLMClient = OpenAIClient.from_config(cfg)
        log.warning(
            "LLM: OpenAI-compatible endpoint%s %s, model %s (concurrency %d%s)",
            "s" if len(cfg.base_urls) > 1 else "",
            ", ".join(cfg.base_urls) or DEFAULT_BASE_URL,
            cfg.model or "<first served model>",
            cfg.concurrency,
            ", adapted to each endpoint's load" if cfg.adaptive_concurrency else "",
        )
        return client
    if provider == "transformers":
        from wizardcoder.llm.transformers_client import TransformersClient

        model = Path(cfg.model).expanduser()  # type: ignore[arg-type]
        gguf_file = None
        if model.suffix == ".gguf":
            model, gguf_file = model.parent, model.name
        log.warning(
            "LLM: local transformers model %s%s on %s",
            cfg.model,
            f" + adapter {cfg.adapter}" if cfg.adapter else "",
            cfg.device,
        )
        return TransformersClient(
            str(model), adapter=cfg.adapter, gguf_file=gguf_file, batch_size=cfg.batch_size, device=cfg.device,
            constrained=cfg.wants_schema(),
        )
    if provider == "embedded":
        from wizardcoder.llm.embedded import create_embedded_client

        log.warning(
            "LLM: no endpoint configured (llm.base_url), using the EMBEDDED SmolLM2-135M-Instruct "
            "on %s: a tiny model for demos and tests, expect low quality. Set llm.base_url for real runs.",
            cfg.device,
        )
        return create_embedded_client(adapter=cfg.adapter, batch_size=cfg.batch_size, device=cfg.device,
                                      constrained=cfg.wants_schema())
    if provider in _REGISTERED:
        return _REGISTERED[provider](cfg)
    raise LLMConfigError(f"llm.provider: unknown provider {provider!r}")  # pragma: no cover - validated above
