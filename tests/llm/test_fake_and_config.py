"""FakeClient, Request/Completion validation, LLMConfig and create_client."""

from __future__ import annotations

import subprocess
import sys

import pytest

from wizardcoder.config import load_config
from wizardcoder.errors import ConfigError, UserError
from wizardcoder.llm import Completion, LLMAuthError, LLMConfig, LLMError, Request, create_client
from wizardcoder.llm.base import truncate_at_stop
from wizardcoder.llm.openai_client import OpenAIClient
from wizardcoder.testing.fake_llm import FakeClient


def test_fake_client_cycles_a_scripted_list_in_input_order():
    client = FakeClient(["a", "b"])
    out = list(client.generate(Request(prompt=str(i)) for i in range(3)))
    assert [(i, c.text) for i, c in out] == [(0, "a"), (1, "b"), (2, "a")]
    assert len(client.requests) == 3 and client.usage.requests == 3


def test_fake_client_callable_stops_n_and_scripted_failures():
    def reply(request: Request):
        if request.prompt == "fail":
            return Completion.failed("endpoint down")
        return f"{request.prompt} END tail"

    client = FakeClient(reply, price_per_1k_completion=1.0)
    ok = client.complete(Request(prompt="hi", stop=(" END",), n=2))
    assert ok.texts == ("hi", "hi") and ok.finish_reasons == ("stop", "stop")
    failed = client.complete(Request(prompt="fail"))
    assert failed.error == "endpoint down" and not failed.ok and failed.text == ""
    usage = client.usage
    assert usage.requests == 2 and usage.failures == 1
    assert usage.completion_tokens == ok.completion_tokens == 2 and usage.cost == pytest.approx(0.002)


def test_fake_client_streams_lazily():
    pulled = []

    def requests():
        for i in range(5):
            pulled.append(i)
            yield Request(prompt=str(i))

    stream = FakeClient(["x"]).generate(requests())
    next(stream)
    assert pulled == [0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "exactly one"),
        ({"prompt": "a", "messages": ({"role": "user", "content": "b"},)}, "exactly one"),
        ({"messages": ({"content": "no role"},)}, "role"),
        ({"prompt": "a", "max_tokens": 0}, "max_tokens"),
        ({"prompt": "a", "temperature": -1}, "temperature"),
        ({"prompt": "a", "top_p": 0}, "top_p"),
        ({"prompt": "a", "n": 0}, "n must"),
        ({"prompt": "a", "stop": ("",)}, "stop"),
    ],
)
def test_request_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Request(**kwargs)


def test_request_normalises_and_from_text():
    r = Request(messages=[{"role": "user", "content": "x"}], stop="END")
    assert r.messages == ({"role": "user", "content": "x"},) and r.stop == ("END",) and r.is_chat
    assert Request.from_text("t", api="completions").prompt == "t"
    chat = Request.from_text("t", system="be brief")
    assert [m["role"] for m in chat.messages] == ["system", "user"]


def test_truncate_at_stop_uses_the_earliest():
    assert truncate_at_stop("a b c d", ["c", "b"]) == ("a ", True)
    assert truncate_at_stop("abc", ["x"]) == ("abc", False)


def test_llm_auth_error_is_a_user_error():
    assert issubclass(LLMAuthError, UserError) and issubclass(LLMAuthError, LLMError)


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"provider": "gpt"}, "llm.provider"),
        ({"base_url": "localhost:8000"}, "llm.base_url"),
        ({"api": "responses"}, "llm.api"),
        ({"concurrency": 0}, "llm.concurrency"),
        ({"max_retries": -1}, "llm.max_retries"),
        ({"timeout": 0}, "llm.timeout"),
        ({"template": "vicuna"}, "llm.template"),
        ({"batch_size": 0}, "llm.batch_size"),
        ({"device": "tpu"}, "llm.device"),
        ({"price_per_1k_prompt": -1.0}, "llm.price_per_1k_prompt"),
        ({"api_key_env": "not a var"}, "llm.api_key_env"),
        ({"provider": "transformers"}, "llm.model"),
        ({"provider": "openai", "adapter": "x"}, "llm.adapter"),
        ({"base_url": "http://localhost:8000/v1", "adapter": "x"}, "llm.adapter"),
    ],
)
def test_llm_config_validation_names_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        LLMConfig(**kwargs)


def test_llm_config_errors_through_load_config_name_the_source(tmp_path):
    from dataclasses import dataclass, field

    @dataclass
    class Stage:
        llm: LLMConfig = field(default_factory=LLMConfig)

    path = tmp_path / "cfg.yaml"
    path.write_text("llm:\n  concurrency: 0\n")
    with pytest.raises(ConfigError, match="cfg.yaml.*llm.concurrency"):
        load_config(Stage, path)
    cfg = load_config(Stage, None, ["llm.base_url=http://localhost:9/v1", "llm.concurrency=64"])
    assert cfg.llm.concurrency == 64 and cfg.llm.resolved_provider() == "openai"


def test_auto_provider_resolution(tmp_path):
    assert LLMConfig().resolved_provider() == "embedded"
    assert LLMConfig(base_url="http://127.0.0.1:1/v1").resolved_provider() == "openai"
    assert LLMConfig(model="gpt-4o-mini").resolved_provider() == "openai"
    assert LLMConfig(model=str(tmp_path)).resolved_provider() == "transformers"
    assert LLMConfig(provider="fake").resolved_provider() == "fake"


def test_production_code_knows_no_fake_provider():
    """`fake` exists only where the tests (or `python -m wizardcoder.testing`) register it: a plain process
    refuses it, and importing the LLM package does not import the test doubles."""
    code = ("import sys\nfrom wizardcoder.llm import LLMConfig\n"
            "assert not [m for m in sys.modules if m.startswith('wizardcoder.testing')]\n"
            "LLMConfig(provider='fake')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "llm.provider must be one of auto, openai, embedded, transformers, got " \
        "'fake'" in proc.stderr, proc.stderr[-2000:]


def test_create_client_openai_and_fake(make_server):
    server = make_server(reply=lambda body: "served")
    with create_client(LLMConfig(base_url=server.url, model="m", concurrency=3, max_retries=2)) as client:
        assert isinstance(client, OpenAIClient)
        assert (client.concurrency, client.max_retries) == (3, 2)
        assert client.complete(Request.from_text("hi")).text == "served"
    with create_client(LLMConfig(provider="fake")) as fake:
        assert fake.complete(Request.from_text("echo me")).text == "echo me"
        # a command run's fake client keeps no request log: its memory must not grow with the tasks
        assert fake.requests == [] and fake.usage.requests == 1
