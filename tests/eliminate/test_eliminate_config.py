"""The `eliminate:` config section: defaults, strict loading, validation."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from wizardcoder.config import load_config
from wizardcoder.eliminate import EliminateConfig
from wizardcoder.errors import ConfigError


@dataclass
class _Stage:
    eliminate: EliminateConfig = field(default_factory=EliminateConfig)


def test_defaults():
    cfg = EliminateConfig()
    assert cfg.mutation_check == ["python", "cpp", "java"]  # tests must be able to fail, in every language
    assert cfg.decontaminate_ngram == 13 and cfg.near_duplicate_threshold == 0.8


def test_loads_as_a_section_with_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("eliminate:\n  chunk_size: 3\n  mutation_check: [python, cpp]\n")
    cfg = load_config(_Stage, path, ["eliminate.decontaminate_ngram=10"])
    assert cfg.eliminate.chunk_size == 3 and cfg.eliminate.mutation_check == ["python", "cpp"]
    assert cfg.eliminate.decontaminate_ngram == 10


@pytest.mark.parametrize("override, message", [
    ("eliminate.timeout=5", "eliminate.timeout is now sandbox.timeout"),  # moved: the hint names the new key
    ("eliminate.memory_mb=64", "eliminate.memory_mb is now sandbox.memory_mb"),
    ("eliminate.copy_similarity=1.5", "copy_similarity"),
    ("eliminate.mutation_check=[rust]", "mutation_check"),
    ("eliminate.near_duplicate_threshold=0", "near_duplicate_threshold"),
    ("eliminate.leak_patterns=['(unclosed']", "leak_patterns"),
    ("eliminate.chunk_size=0", "chunk_size"),
    ("eliminate.min_wrods=3", "did you mean eliminate.min_words"),
])
def test_bad_values_are_config_errors(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(_Stage, None, [override])
