"""Eval after retraining into the same folder: the old results are never reused.

A real local model (the tiny llama of conftest.py) generates one HumanEval sample; the weights are then
replaced at the same path (as a retrain does), and eval must generate again in a new run directory,
while a rerun with nothing changed reuses its samples.
"""

from __future__ import annotations

import json

from wizardcoder.config import load_config
from wizardcoder.eval.config import EvalConfig
from wizardcoder.eval.runner import run_dir_for, run_eval


def _cfg(model, tmp_path) -> EvalConfig:
    return load_config(EvalConfig, None, [
        f"llm.model={model}", f"output_dir={tmp_path / 'runs'}", "suite.limit=1", "generation.max_tokens=8",
        "generation.mode=completion", "sandbox.backend=local", "sandbox.timeout=5", "k=[1]"])


def _samples(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def test_retrained_weights_at_the_same_path_are_evaluated_again(tiny_model_dir, tmp_path):
    import shutil

    import torch
    from transformers import LlamaForCausalLM

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    first = run_eval(_cfg(model, tmp_path))["stats"]
    assert first["samples_requested"] == 1
    before = run_dir_for(_cfg(model, tmp_path))
    old = _samples(before)

    again = run_eval(_cfg(model, tmp_path))["stats"]  # nothing changed: the same run, nothing generated
    assert again["run_dir"] == first["run_dir"] == str(before)
    assert (again["samples_requested"], again["samples_resumed"]) == (0, 1) and _samples(before) == old

    torch.manual_seed(1)  # "retrain": new weights written into the same folder
    retrained = LlamaForCausalLM.from_pretrained(model)
    with torch.no_grad():
        for p in retrained.parameters():
            p.add_(torch.randn_like(p))
    retrained.save_pretrained(model)
    after = run_dir_for(_cfg(model, tmp_path))
    assert after != before
    fresh = run_eval(_cfg(model, tmp_path))["stats"]
    assert fresh["run_dir"] == str(after) and (fresh["samples_requested"], fresh["samples_resumed"]) == (1, 0)
    assert len(_samples(after)) == 1 and _samples(before) == old  # generated anew; the old run untouched
