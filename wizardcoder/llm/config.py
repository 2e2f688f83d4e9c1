"""`LLMConfig` (the `llm:` section of evolve and eval configs) and `create_client`, the one factory."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from wizardcoder.errors import ConfigError
from wizardcoder.llm.base import LLMClient

log = logging.getLogger(__name__)

PROVIDERS = ("auto", "openai", "embedded", "transformers", "fake")


class LLMConfigError(ConfigError, ValueError):
    """A bad `llm.*` value. A ValueError too, so `load_config` prefixes it with the config file it came from."""


@dataclass
class LLMConfig:
    # auto: an OpenAI-compatible endpoint if base_url is set (or model names a hosted model), a local
    # model if model is a path on disk, else the embedded SmolLM2-135M-Instruct (tiny: demos and tests).
    provider: str = "auto"
    # e.g. http://localhost:8000/v1 (vLLM, llama.cpp server, TGI, ...), or a list of endpoints serving the same
    # model: each request goes to the least-loaded healthy one; one that is down is skipped until it answers again
    base_url: str | list[str] | None = None
    model: str | None = None  # endpoint model name, or a local model directory / .gguf file
    api_key_env: str = "OPENAI_API_KEY"  # name of the env var holding the key; local servers: any value works
    api: str = "chat"  # which endpoint stages target: "chat" (messages) or "completions" (raw prompt)
    concurrency: int = 16  # requests in flight at once (HTTP providers), in total over all endpoints
    max_retries: int = 6  # per request, after the first attempt (429 / 5xx / timeouts / garbled replies)
    timeout: float = 120.0  # seconds per HTTP attempt
    # the model's context length, where known: a prompt (estimated at ~4 characters per token) + max_tokens
    # that cannot fit is refused before sending (a `rejected` completion, as the server's HTTP 400 would be)
    max_context_tokens: int | None = None
    adapter: str | None = None  # a peft LoRA adapter directory (transformers and embedded providers)
    template: str = "alpaca"  # how instructions are rendered for local models: "alpaca" or "chat"
    batch_size: int = 8  # rows per generate() call (local providers)
    device: str = "auto"  # local providers: auto (cuda if available, else cpu), cpu, cuda, cuda:N, mps
    price_per_1k_prompt: float | None = None  # USD per 1k prompt tokens: usage.cost is reported when set
    price_per_1k_completion: float | None = None

    def __post_init__(self) -> None:
        def bad(key: str, problem: str) -> LLMConfigError:
            return LLMConfigError(f"llm.{key}: {problem}")

        if self.provider not in PROVIDERS:
            raise bad("provider", f"unknown provider {self.provider!r}; use one of {', '.join(PROVIDERS)}")
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
        if self.api not in ("chat", "completions"):
            raise bad("api", f"{self.api!r}: use 'chat' or 'completions'")
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise bad("concurrency", f"must be an integer >= 1, got {self.concurrency!r}")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise bad("max_retries", f"must be an integer >= 0, got {self.max_retries!r}")
        if not isinstance(self.timeout, (int, float)) or self.timeout <= 0:
            raise bad("timeout", f"must be a number of seconds > 0, got {self.timeout!r}")
        if self.max_context_tokens is not None and (
            not isinstance(self.max_context_tokens, int) or self.max_context_tokens < 1
        ):
            raise bad("max_context_tokens", f"must be an integer >= 1 or unset, got {self.max_context_tokens!r}")
        if self.template not in ("alpaca", "chat"):
            raise bad("template", f"{self.template!r}: use 'alpaca' or 'chat'")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise bad("batch_size", f"must be an integer >= 1, got {self.batch_size!r}")
        if not re.match(r"^(auto|cpu|mps|cuda(:\d+)?)$", str(self.device)):
            raise bad("device", f"{self.device!r}: use auto, cpu, cuda, cuda:N or mps")
        for key in ("price_per_1k_prompt", "price_per_1k_completion"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise bad(key, f"must be a price >= 0 or unset, got {value!r}")
        if self.adapter is not None and self.resolved_provider() in ("openai", "fake"):
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
        return provider in ("openai", "fake") and self.api == "chat"

    def local_template(self) -> str | None:
        """How instructions are rendered for a local model (None: the provider takes chat messages)."""
        provider = self.resolved_provider()
        if provider not in ("transformers", "embedded"):
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
            "LLM: OpenAI-compatible endpoint%s %s, model %s (concurrency %d)",
            "s" if len(cfg.base_urls) > 1 else "",
            ", ".join(cfg.base_urls) or DEFAULT_BASE_URL,
            cfg.model or "<first served model>",
            cfg.concurrency,
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
            str(model), adapter=cfg.adapter, gguf_file=gguf_file, batch_size=cfg.batch_size, device=cfg.device
        )
    if provider == "embedded":
        from wizardcoder.llm.embedded import create_embedded_client

        log.warning(
            "LLM: no endpoint configured (llm.base_url), using the EMBEDDED SmolLM2-135M-Instruct "
            "on %s: a tiny model for demos and tests, expect low quality. Set llm.base_url for real runs.",
            cfg.device,
        )
        return create_embedded_client(adapter=cfg.adapter, batch_size=cfg.batch_size, device=cfg.device)
    if provider == "fake":
        from wizardcoder.testing.fake_llm import FakeClient
        from wizardcoder.testing.scripted_evolve import pipeline_reply

        log.warning("LLM: the FAKE client of wizardcoder.testing (scripted evolve answers, else an echo); "
                    "for tests and demos only")
        return FakeClient(pipeline_reply, keep_requests=False)
    raise LLMConfigError(f"llm.provider: unknown provider {provider!r}")  # pragma: no cover - validated above
