"""scripts/gpu_check.sh: what can be checked without a GPU and in seconds (the whole --cpu-dry-run takes minutes:
run it by hand, see the script)."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

from wizardcoder.config import load_config
from wizardcoder.train import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shell_script_parses_and_refuses_an_unknown_part():
    script = str(ROOT / "scripts" / "gpu_check.sh")
    assert subprocess.run(["bash", "-n", script], check=False).returncode == 0
    bad = subprocess.run(["bash", script, "part3"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "usage: bash scripts/gpu_check.sh part1|part2" in bad.stderr


@pytest.mark.parametrize("dry_run", [True, False])
def test_every_training_run_of_the_check_is_a_valid_config(check, tmp_path, dry_run):
    """A misspelt key would fail on the GPU machine, minutes into a lent call."""
    sizes = check.Sizes(dry_run)
    variants = check.part1_variants(sizes) + check.part2_variants(sizes)
    extras = [extra for _, extra, _ in variants] + [["model.attn_implementation=sdpa", "run.save_steps=2"]]
    for extra in extras:
        cfg = load_config(TrainConfig, None, check.train_overrides(tmp_path, sizes, "x", sizes.steps, extra))
        assert cfg.run.device == ("cpu" if dry_run else "cuda") and cfg.train.batch_size == sizes.batch


def test_a_missing_package_skips_its_step_with_the_reason(check, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("flash_attn", "bitsandbytes") else find_spec(name, *a))
    gpu = check.Sizes(False)
    assert dict(check.attention_kernels(gpu)) == {"sdpa": None, "flex_attention": None,
                                                  "flash_attention_2": "flash-attn is not installed"}
    assert {n: s for n, _, s in check.part2_variants(gpu)}["qlora sdpa packed"] == "bitsandbytes is not installed"
