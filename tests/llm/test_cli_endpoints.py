"""`wizardcoder evolve` / `eval` with --base-url: the preflight's exit codes and messages, flags over aliases."""

from __future__ import annotations

import json
import socket
import time

import pytest

from wizardcoder.cli import build_parser, main
from wizardcoder.testing.fake_server import FakeOpenAIServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(stage: str, url: str, model: str, out, *extra: str) -> list[str]:
    common = ["--base-url", url, "--model", model, "--sandbox", "local", "--no-progress", "--output", str(out)]
    if stage == "eval":
        return ["eval", "humaneval", "--limit", "2", *common, *extra]
    return ["evolve", "--limit", "2", "--rounds", "1", *common, "dataset.decontaminate=false", *extra]


@pytest.mark.parametrize("stage", ["evolve", "eval"])
def test_connection_refused_exits_1_within_seconds_naming_the_url(stage, tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.monotonic()
    assert main(command(stage, url, "m", tmp_path / "out")) == 1
    assert time.monotonic() - started < 30  # (was 45-100 s of retries) mostly importing openai on a busy machine
    err = capsys.readouterr().err
    assert url in err and "connection refused" in err.lower()


@pytest.mark.parametrize("stage", ["evolve", "eval"])
def test_a_model_the_endpoint_does_not_list_exits_2_listing_the_served_names(stage, tmp_path, capsys):
    with FakeOpenAIServer(model="served-model") as server:
        assert main(command(stage, server.url, "typo-model", tmp_path / "out")) == 2
        assert server.requests == 0
    err = capsys.readouterr().err
    assert "'typo-model'" in err and "served-model" in err


def test_an_explicit_base_url_wins_over_the_embedded_model_alias(tmp_path, capsys):
    with FakeOpenAIServer(reply=lambda body: "    return None\n", model="smollm2") as server:
        code = main(command("eval", server.url, "smollm2", tmp_path / "out"))
        assert code == 0, capsys.readouterr().err[-2000:]
        assert server.requests == 2  # the endpoint answered, not the embedded model
    metrics = json.loads(next((tmp_path / "out").rglob("stats.json")).read_text())
    usage = metrics["llm_usage"]
    assert usage["requests"] == 2 and usage["endpoints"][server.url]["requests"] == 2


def test_eval_scores_a_refused_prompt_as_empty_and_never_asks_again(tmp_path, capsys):
    reply = "    return None\n"
    with FakeOpenAIServer(reply=lambda body: reply, model="m", reject_marker="has_close_elements") as server:
        assert main(command("eval", server.url, "m", tmp_path / "out")) == 0, capsys.readouterr().err[-2000:]
        stats = json.loads(next((tmp_path / "out").rglob("stats.json")).read_text())
        assert stats["llm_rejected"] == 1 and stats["llm_failures"] == 0
        assert main(command("eval", server.url, "m", tmp_path / "out")) == 0  # the rerun resumes: nothing to ask
        assert server.requests == 2 and server.statuses[400] == 1
    samples = [json.loads(line) for line in next((tmp_path / "out").rglob("samples.jsonl")).read_text().splitlines()]
    refused = [s for s in samples if s.get("rejected")]
    assert len(samples) == 2 and len(refused) == 1 and "maximum context length" in refused[0]["rejected"]
    assert refused[0]["task_id"] == "HumanEval/0"
    assert "requests refused" in capsys.readouterr().out


@pytest.mark.parametrize("stage", ["evolve", "eval"])
def test_base_url_may_be_repeated(stage):
    from wizardcoder.eval.command import config_from_args as eval_config
    from wizardcoder.evolve.command import config_from_args as evolve_config

    argv = command(stage, "http://a:1/v1", "smollm2", "out", "--base-url", "http://b:2/v1")
    args = build_parser().parse_args(argv)
    cfg = (eval_config if stage == "eval" else evolve_config)(args)
    assert cfg.llm.base_url == ["http://a:1/v1", "http://b:2/v1"]
    assert cfg.llm.resolved_provider() == "openai" and cfg.llm.model == "smollm2"


def test_an_endpoint_in_the_config_also_wins_over_the_alias(tmp_path):
    from wizardcoder.eval.command import config_from_args

    config = tmp_path / "eval.yaml"
    config.write_text("llm:\n  base_url: http://a:1/v1\n")
    for extra, url in (([], "http://a:1/v1"), (["llm.base_url=http://b:2/v1"], "http://b:2/v1")):
        args = build_parser().parse_args(["eval", "humaneval", *extra, "--model", "smollm2", "--config", str(config)])
        cfg = config_from_args(args)
        assert (cfg.llm.resolved_provider(), cfg.llm.model, cfg.llm.base_url) == ("openai", "smollm2", url)
    args = build_parser().parse_args(["eval", "humaneval", "--model", "smollm2"])
    assert config_from_args(args).llm.resolved_provider() == "embedded"  # no endpoint anywhere: the alias holds


def test_an_endpoint_failing_most_attempts_is_reported_degraded_not_healthy(tmp_path, capsys):
    from wizardcoder.testing.fake_server import Fault

    def faults(body, attempt):  # two of three attempts get a 500; each request gets through on a retry
        return Fault.server_error() if attempt % 3 else None

    with FakeOpenAIServer(reply=lambda body: "    return None\n", model="m", faults=faults) as server:
        code = main(command("eval", server.url, "m", tmp_path / "out", "llm.max_retries=3"))
        assert code == 0, capsys.readouterr().err[-2000:]
    stats = json.loads(next((tmp_path / "out").rglob("stats.json")).read_text())
    ends = stats["llm_usage"]["endpoints"][server.url]
    assert ends["state"] == "degraded" and "HTTP 500" in ends["reason"]
    out = capsys.readouterr().out
    assert f"endpoint {server.url}" in out and "degraded" in out
