"""LLM clients behind one small interface (see `base.py`).

    from wizardcoder.llm import LLMConfig, create_client, Request
    with create_client(LLMConfig(base_url="http://localhost:8000/v1", model="m")) as client:
        for index, completion in client.generate(Request.from_text(t) for t in tasks):
            ...

`base_url` may be a list of endpoints serving the same model (least-loaded healthy one first). A Completion
is texts, `rejected` (a refusal for good: record it as a verdict) or `error` (infrastructure: ask again);
see `Completion`. Stages call `client.preflight()` before their work, to fail fast on a bad endpoint.

Importing this package is cheap: openai, torch and transformers load only when a client is created.
"""

from wizardcoder.llm.base import (
    WAIT,
    Completion,
    LLMAuthError,
    LLMClient,
    LLMEndpointConfigError,
    LLMError,
    Request,
    Usage,
)
from wizardcoder.llm.config import LLMConfig, LLMConfigError, create_client

__all__ = [
    "WAIT",
    "Completion",
    "LLMAuthError",
    "LLMClient",
    "LLMConfig",
    "LLMConfigError",
    "LLMEndpointConfigError",
    "LLMError",
    "Request",
    "Usage",
    "create_client",
]
