"""The `eliminate:` and `dataset:` config sections: defaults, strict loading, validation, moved keys."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from wizardcoder.config import load_config
from wizardcoder.data.config import DatasetConfig
from wizardcoder.eliminate import EliminateConfig
from wizardcoder.errors import ConfigError


@dataclass
class _Stage:
    eliminate: EliminateConfig = field(default_factory=EliminateConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)


def test_defaults():
    assert EliminateConfig().mutation_check == ["python", "cpp", "java"]  # tests must be able to fail, everywhere
    dataset = DatasetConfig()
    assert dataset.decontaminate_ngram == 13 and dataset.near_duplicate_threshold == 0.8
    assert dataset.decontaminate_suites == ["humaneval", "mbpp"]


def test_loads_as_sections_with_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("eliminate:\n  chunk_size: 3\n  mutation_check: [python, cpp]\ndataset:\n  shingle_size: 4\n")
    cfg = load_config(_Stage, path, ["dataset.decontaminate_ngram=10"])
    assert cfg.eliminate.chunk_size == 3 and cfg.eliminate.mutation_check == ["python", "cpp"]
    assert (cfg.dataset.decontaminate_ngram, cfg.dataset.shingle_size) == (10, 4)


@pytest.mark.parametrize("override, message", [
    ("eliminate.timeout=5", "eliminate.timeout is now sandbox.timeout"),  # moved: the hint names the new key
    ("eliminate.memory_mb=64", "eliminate.memory_mb is now sandbox.memory_mb"),
    ("eliminate.decontaminate=false", "eliminate.decontaminate is now dataset.decontaminate"),
    ("eliminate.near_duplicate_threshold=0.7", "eliminate.near_duplicate_threshold is now dataset.near_duplicate"),
    ("eliminate.copy_similarity=1.5", "eliminate.copy_similarity must be a number > 0 and <= 1, got 1.5"),
    ("eliminate.mutation_check=[rust]", "eliminate.mutation_check must be one of python, cpp, java, got 'rust'"),
    ("eliminate.mutation_check=[jav]", "did you mean java?"),
    ("dataset.near_duplicate_threshold=0", "dataset.near_duplicate_threshold must be a number > 0 and <= 1"),
    ("dataset.decontaminate_suites=[humaneval-plus]", "dataset.decontaminate_suites must be one of humaneval, mbpp"),
    ("eliminate.leak_patterns=['(unclosed']", "leak_patterns"),
    ("eliminate.chunk_size=0", "eliminate.chunk_size must be an integer >= 1, got 0"),
    ("eliminate.min_wrods=3", "did you mean eliminate.min_words"),
])
def test_bad_values_are_config_errors(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[").replace("?", r"\?")):
        load_config(_Stage, None, [override])


def test_a_moved_key_in_a_file_says_what_to_write(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("eliminate:\n  min_words: 3\n  decontaminate_ngram: 10\n")
    with pytest.raises(ConfigError, match=r"old\.yaml: eliminate\.decontaminate_ngram is now dataset\.decontaminate_"
                                          r"ngram .*dataset:\n  decontaminate_ngram: 10"):
        load_config(_Stage, old)
