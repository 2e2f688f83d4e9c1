"""Fixtures for the LLM client tests: the real fake OpenAI server and a fast client factory."""

from __future__ import annotations

import pytest

from wizardcoder.llm.openai_client import OpenAIClient
from wizardcoder.testing.fake_server import FakeOpenAIServer


@pytest.fixture
def make_server():
    servers: list[FakeOpenAIServer] = []

    def make(**kwargs) -> FakeOpenAIServer:
        server = FakeOpenAIServer(**kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def make_client():
    """OpenAIClient with test-sized backoff (the retry logic is the same, the sleeps are short)."""
    clients: list[OpenAIClient] = []

    def make(server: FakeOpenAIServer, **kwargs) -> OpenAIClient:
        options = {
            "model": "fake-model",
            "backoff_base": 0.01,
            "backoff_cap": 0.05,
            "timeout": 5.0,
            "seed": 0,
        }
        options.update(kwargs)
        base_url = options.pop("base_url", server.url)  # a list of several servers' URLs, or this one
        client = OpenAIClient(base_url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
