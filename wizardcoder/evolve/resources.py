"""The LLM client and the sandbox of an evolve run: those the caller gives (tests) are used as they are; the
others are opened by `open()`, called when a round has work left, and closed by `close()`."""

from __future__ import annotations

import logging
import threading
from typing import Any

from sandbox import Sandbox
from wizardcoder.evolve.config import EvolveConfig
from wizardcoder.execution import open_sandbox
from wizardcoder.llm import LLMClient, create_client

log = logging.getLogger(__name__)


class RunResources:
    def __init__(self, cfg: EvolveConfig, client: LLMClient | None = None, sandbox: Sandbox | None = None):
        self.cfg = cfg
        self.client, self._own_client = client, client is None
        self.sandbox, self._own_sandbox = sandbox, sandbox is None

    def open(self) -> tuple[LLMClient, Sandbox]:
        """The client and the sandbox, opened if they are not yet. The client (imports, a local model's load,
        the preflight: an unreachable endpoint or an unknown model fails now, naming it) opens in a thread
        while the sandbox starts in this one (its signal hooks): both take seconds, and neither needs the
        other."""
        failure: list[BaseException] = []
        opener = None
        if self.client is None:
            def open_client() -> None:
                try:
                    self.client = create_client(self.cfg.llm)  # kept before the preflight: close() closes it
                    self.client.preflight()
                except BaseException as exc:  # noqa: BLE001 - raised below, in the calling thread
                    failure.append(exc)

            opener = threading.Thread(target=open_client, name="wizardcoder-evolve-llm-open", daemon=True)
            opener.start()
        try:
            if self.sandbox is None:
                self.sandbox = open_sandbox(self.cfg.sandbox)
        finally:
            if opener is not None:
                opener.join()
        if failure:
            raise failure[0]
        assert self.client is not None and self.sandbox is not None
        return self.client, self.sandbox

    def usage(self) -> dict[str, Any] | None:
        """The client's counters in this invocation (requests, retries apart, refusals, per endpoint); None if
        no client was opened or it keeps none."""
        usage = getattr(self.client, "usage", None) if self.client is not None else None
        return usage.as_dict() if hasattr(usage, "as_dict") else None

    def close(self) -> None:
        if self._own_client and self.client is not None:
            self.client.close()
        if self._own_sandbox and self.sandbox is not None:
            self.sandbox.close()
