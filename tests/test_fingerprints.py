"""Run fingerprints cover what changes results, and one time limit (`sandbox.timeout`) rules every stage.

eval: retrained weights at the same path, an edited model config, other sandbox limits -> a new run
directory; `suite.limit` -> the same one (a limited run extends to a full one). evolve: an edited seed
file -> a new run, or with an explicit --output, a refusal that says why; an old config's
`eliminate.timeout` -> an error naming `sandbox.timeout`; evolve's checks get `sandbox.timeout`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from wizardcoder.config import load_config
from wizardcoder.data.store import read_jsonl
from wizardcoder.errors import ConfigError, UserError
from wizardcoder.eval.config import EvalConfig
from wizardcoder.eval.runner import run_dir_for
from wizardcoder.evolve import EvolveConfig, run_evolve
from wizardcoder.evolve.config import run_fingerprint
from wizardcoder.evolve.rounds import default_run_dir
from wizardcoder.testing.fake_llm import FakeClient


def _eval_cfg(tmp_path: Path, *overrides: str) -> EvalConfig:
    return load_config(EvalConfig, None, [f"output_dir={tmp_path / 'runs'}", *overrides])


def _write_model(root: Path, weights: bytes, config: dict) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(config))
    (root / "model.safetensors").write_bytes(weights)


def test_eval_reruns_when_weights_at_the_same_path_change(tmp_path):
    model, adapter = tmp_path / "base", tmp_path / "adapter"
    _write_model(model, b"\0" * 64, {"hidden_size": 8})
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"r": 8}')
    (adapter / "adapter_model.safetensors").write_bytes(b"\1" * 64)
    args = (f"llm.model={model}", f"llm.adapter={adapter}")
    first = run_dir_for(_eval_cfg(tmp_path, *args))
    assert run_dir_for(_eval_cfg(tmp_path, *args)) == first  # nothing changed: the same run
    assert run_dir_for(_eval_cfg(tmp_path, *args, "suite.limit=3")) == first  # a limited run extends to a full one

    # retrained adapter: same size, same path, new bytes (mtime kept: the content hash decides)
    stat = (adapter / "adapter_model.safetensors").stat()
    (adapter / "adapter_model.safetensors").write_bytes(b"\2" * 64)
    os.utime(adapter / "adapter_model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    retrained = run_dir_for(_eval_cfg(tmp_path, *args))
    assert retrained != first

    # new base weights at the same path (size + mtime), then an edited model config
    time.sleep(0.01)
    (model / "model.safetensors").write_bytes(b"\3" * 64)
    new_base = run_dir_for(_eval_cfg(tmp_path, *args))
    (model / "config.json").write_text(json.dumps({"hidden_size": 16}))
    new_config = run_dir_for(_eval_cfg(tmp_path, *args))
    assert len({first, retrained, new_base, new_config}) == 4


def test_eval_fingerprint_covers_the_sandbox(tmp_path):
    base = run_dir_for(_eval_cfg(tmp_path))
    changed = {run_dir_for(_eval_cfg(tmp_path, override)) for override in (
        "sandbox.timeout=3", "sandbox.memory_mb=1024", "sandbox.backend=local", "sandbox.image=other:tag")}
    assert base not in changed and len(changed) == 4
    assert run_dir_for(_eval_cfg(tmp_path, "sandbox.workers=3")) == base  # parallelism changes no result


def _seeds(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"id": f"s{i}", "instruction": t, "output": "x"}) + "\n"
                            for i, t in enumerate(texts)))
    return path


def _evolve_cfg(*overrides: str) -> EvolveConfig:
    return load_config(EvolveConfig, None, ["seeds.limit=null", "evolve.rounds=0", "dataset.decontaminate=false",
                                            "output.report=false", *overrides])


def test_an_edited_seed_file_is_a_new_run_or_a_clear_refusal(tmp_path):
    seeds = _seeds(tmp_path / "seeds.jsonl", ["Write a function that adds two integers and returns the sum."])
    cfg = _evolve_cfg(f"seeds.path={seeds}", f"output.root={tmp_path / 'runs'}")
    before = run_fingerprint(cfg)
    run_evolve(cfg, client=FakeClient(["unused"]))
    _seeds(seeds, ["Write a function that multiplies two integers and returns the product."])
    assert run_fingerprint(cfg) != before and default_run_dir(cfg) != Path(tmp_path / "runs" / before)
    fresh = run_evolve(cfg, client=FakeClient(["unused"]))  # a new run: the new seed, not the old snapshot
    assert [r["instruction"] for r in read_jsonl(fresh.run_dir / "pool" / "round_000.jsonl")] == [
        "Write a function that multiplies two integers and returns the product."]

    pinned = _evolve_cfg(f"seeds.path={seeds}", f"output.dir={tmp_path / 'pinned'}")
    run_evolve(pinned, client=FakeClient(["unused"]))
    _seeds(seeds, ["Write a function that subtracts two integers and returns the difference."])
    with pytest.raises(UserError, match=r"other seeds: .*seeds\.jsonl changed since"):
        run_evolve(pinned, client=FakeClient(["unused"]))


def test_an_old_config_with_eliminate_timeout_gets_the_new_key(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("eliminate:\n  timeout: 20.0\n")
    with pytest.raises(ConfigError, match=r"old\.yaml: eliminate\.timeout is now sandbox\.timeout.*sandbox:\n  timeout: 20\.0"):
        load_config(EvolveConfig, old)


def test_evolve_gives_its_programs_the_sandbox_timeout(tmp_path):
    from sandbox import create_sandbox

    seeds = _seeds(tmp_path / "seeds.jsonl", ["Write a function that waits a little and then returns one."])
    slow = ("### Solution\n```python\nimport time\n\ndef wait_one():\n    time.sleep(3)\n    return 1\n```\n\n"
            "### Tests\n```python\nassert wait_one() == 1\n```\n")

    def reply(request):
        text = request.messages[-1]["content"] if request.messages else request.prompt
        if "### Tests" in text:
            return slow
        return ("Write a function that waits a little, then returns one, and also validates that no argument "
                "is passed to it at all.")

    cfg = _evolve_cfg(f"seeds.path={seeds}", f"output.dir={tmp_path / 'run'}", "evolve.rounds=1",
                      "sandbox.timeout=1", "eliminate.mutation_check=[]")
    with create_sandbox("local") as sandbox:
        run_evolve(cfg, client=FakeClient(reply), sandbox=sandbox)
    verdicts = list(read_jsonl(tmp_path / "run" / "raw" / "round_001" / "select.jsonl"))  # each task's decision
    assert [v["reason"] for v in verdicts] == ["timeout"]


def test_one_input_spelled_several_ways_keys_one_run(tmp_path, monkeypatch):
    """`x`, `./x`, an absolute path and a symlink name the same seed file, training data or model folder; the
    compile allowance (like llm.timeout) keys nothing."""
    from wizardcoder.eval.config import EvalConfig
    from wizardcoder.eval.runner import run_dir_for as eval_run_dir
    from wizardcoder.evolve.config import EvolveConfig, run_fingerprint
    from wizardcoder.train.config import TrainConfig
    from wizardcoder.train.rundir import run_dir_for as train_run_dir

    monkeypatch.chdir(tmp_path)
    (tmp_path / "seeds.jsonl").write_text('{"instruction": "Write a function that adds two numbers."}\n')
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "seeds.jsonl")
    (tmp_path / "link_model").symlink_to(tmp_path / "model")
    spellings = ["seeds.jsonl", "./seeds.jsonl", str(tmp_path / "seeds.jsonl"), "link.jsonl", "sub/../seeds.jsonl"]
    (tmp_path / "sub").mkdir()
    (tmp_path / "moved").mkdir()  # the same content elsewhere (a moved checkout, another machine) resumes too
    (tmp_path / "moved" / "seeds.jsonl").write_bytes((tmp_path / "seeds.jsonl").read_bytes())
    evolve = {run_fingerprint(load_config(EvolveConfig, None, [f"seeds.path={s}"]))
              for s in [*spellings, str(tmp_path / "moved" / "seeds.jsonl")]}
    train = {train_run_dir(load_config(TrainConfig, None, [f"data.path={s}", f"model.path={m}"]))
             for s, m in zip(spellings, ["model", "./model", str(tmp_path / "model"), "link_model", "sub/../model"])}
    evals = {eval_run_dir(load_config(EvalConfig, None, [f"llm.model={m}", "llm.provider=transformers"]))
             for m in ["model", "./model", str(tmp_path / "model"), "link_model"]}
    assert len(evolve) == len(train) == len(evals) == 1
    assert run_fingerprint(load_config(EvolveConfig, None, ["sandbox.compile_timeout=5"])) == \
        run_fingerprint(load_config(EvolveConfig, None, []))
