"""Test tiers: `docker`, `gpu`, `slow`, `multipl_e` markers; the `fake` LLM provider registered for every test.

A Docker test skips with its reason where no engine or image is reachable, except where
WIZARDCODER_REQUIRE_DOCKER=1 (CI): there a missing engine is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from wizardcoder.testing.scripted_evolve import register_fake_provider

register_fake_provider()  # `llm.provider: fake` in every test (production code knows no fake provider)

SANDBOX_IMAGE = os.environ.get("WIZARDCODER_SANDBOX_IMAGE", "wizardcoder-sandbox:latest")


def _docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    try:
        info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                              capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "docker info timed out"
    if info.returncode != 0:
        return f"no Docker engine reachable: {info.stderr.strip()[:200]}"
    image = subprocess.run(["docker", "image", "inspect", SANDBOX_IMAGE], capture_output=True, text=True)
    if image.returncode != 0:
        return f"sandbox image {SANDBOX_IMAGE} is missing (build it: bash sandbox/build_image.sh)"
    return None


def _gpu_problem() -> str | None:
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    return None if torch.cuda.is_available() else "no CUDA GPU"


def _multipl_e_problem() -> str | None:
    """Where `wizardcoder eval` finds no MultiPL-E file (a checkout that does not sit beside shared/)."""
    from wizardcoder.eval.problems import SUITES, data_search_path

    places = data_search_path()
    missing = [name for name, _ in SUITES.values() if name and not any((d / name).is_file() for d in places)]
    if not missing:
        return None
    return (f"{', '.join(missing)} not found in {', '.join(map(str, places))}: set WIZARDCODER_DATA to a folder "
            "of MultiPL-E files")


def pytest_collection_modifyitems(config, items):
    docker_items = [i for i in items if "docker" in i.keywords]
    if docker_items:
        problem = _docker_problem()
        if problem:
            if os.environ.get("WIZARDCODER_REQUIRE_DOCKER") == "1":
                raise pytest.UsageError(f"Docker tests are required here (WIZARDCODER_REQUIRE_DOCKER=1) but {problem}")
            for item in docker_items:
                item.add_marker(pytest.mark.skip(reason=f"docker: {problem}"))
    gpu_items = [i for i in items if "gpu" in i.keywords]
    if gpu_items:
        problem = _gpu_problem()
        if problem:
            for item in gpu_items:
                item.add_marker(pytest.mark.skip(reason=f"gpu: {problem}"))
    data_items = [i for i in items if "multipl_e" in i.keywords]
    if data_items:
        problem = _multipl_e_problem()
        if problem:
            for item in data_items:
                item.add_marker(pytest.mark.skip(reason=f"multipl_e: {problem}"))


@pytest.fixture
def hub_offline(monkeypatch):
    """The hub unreachable, whatever the network: the flags are read at import time, so patch them where they live."""
    import datasets
    import huggingface_hub

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True, raising=False)
