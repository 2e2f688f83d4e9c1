"""Settings declared once: every shipped config loads, `config show` explains every key (and its output is a
config the stage takes back), bad values name the key and what is allowed, with exit 2 through the CLI."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from wizardcoder.cli import main
from wizardcoder.config import iter_settings, load_config, to_dict
from wizardcoder.config_command import CONFIGS, config_class

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    stage = path.name.split("_")[0]
    cfg = load_config(config_class(stage), path)
    assert dataclasses.is_dataclass(cfg)
    assert path.read_text().startswith(f"# wizardcoder {stage}")  # the header is the command that runs it


def test_shipped_configs_cover_every_stage():
    assert {p.name.split("_")[0] for p in SHIPPED} == set(CONFIGS)


@pytest.mark.parametrize("stage", sorted(CONFIGS))
def test_config_show_explains_every_key_and_reloads(stage, tmp_path, capsys):
    assert main(["config", "show", stage]) == 0
    shown = capsys.readouterr().out
    lines = shown.splitlines()
    cfg = load_config(config_class(stage))
    settings = list(iter_settings(cfg))
    assert len(settings) > 10
    for info, _ in settings:
        assert info.help, f"{info.key} has no help"
        leaf = info.key.split(".")[-1]
        indent = "  " * info.key.count(".")
        where = [i for i, line in enumerate(lines) if line.startswith(f"{indent}{leaf}: ")]
        assert where, f"{info.key} is not shown"
        above = lines[where[0] - 1]
        assert above.startswith(f"{indent}# "), f"{info.key} has no help above it: {above!r}"
    # what it prints is a config file the stage takes back, resolving to the same settings
    saved = tmp_path / "shown.yaml"
    saved.write_text(shown)
    assert to_dict(load_config(config_class(stage), saved)) == to_dict(cfg)


def test_config_show_resolves_the_file_and_the_overrides(capsys):
    assert main(["config", "show", "eval", "--config", str(REPO / "configs" / "eval_mbpp.yaml"),
                 "generation.n=7", "sandbox.backend=local"]) == 0
    out = capsys.readouterr().out
    assert "eval_mbpp.yaml < overrides" in out and "\n  name: mbpp\n" in out
    assert "\n  n: 7\n" in out and "\n  backend: local\n" in out
    assert "# samples per problem [>= 1]\n" in out


@pytest.mark.parametrize("argv, message", [
    (["config", "show", "evolve", "evolve.lang=rust"], "evolve.lang must be one of python, cpp, java, got 'rust'"),
    (["config", "show", "evolve", "sandbox.backend=dokcer"],
     "sandbox.backend must be one of auto, docker, local, ray, got 'dokcer' (did you mean docker?)"),
    (["config", "show", "eval", "generation.temperature=3"], "generation.temperature must be a number >= 0 and <= 2"),
    (["config", "show", "eval", "k=[1,0]"], "k must be integers >= 1, got 0 in [1, 0]"),
    (["config", "show", "evolve", "llm.concurrency=0"], "llm.concurrency must be an integer >= 1, got 0"),
    (["config", "show", "evolve", "evolve.solve_max_tokens=0"],
     "evolve.solve_max_tokens must be an integer >= 1 or null, got 0"),
    (["config", "show", "evolve", "evolve.ruonds=3"], "unknown key evolve.ruonds (did you mean evolve.rounds?)"),
    (["evolve", "--output", "unused", "sandbox.memory_mb=8"], "sandbox.memory_mb must be an integer >= 16, got 8"),
    (["eval", "humaneval", "--n", "0"], "generation.n must be an integer >= 1, got 0"),
    (["eval", "humaneval", "time_limit.profile=fast"], "time_limit.profile must be one of reference, calibrated"),
    (["train", "--data", "unused.jsonl", "lora.dropout=1"], "lora.dropout must be a number >= 0 and < 1, got 1"),
    (["config", "show", "train", "model.dtype=flaot16"],
     "model.dtype must be one of auto, bfloat16, float16, float32, got 'flaot16' (did you mean float16?)"),
])
def test_a_bad_value_names_the_key_and_what_is_allowed(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_stage_help_shows_defaults_from_the_declarations(capsys):
    with pytest.raises(SystemExit):
        main(["evolve", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default 2; the setting evolve.rounds)" in out and "{python,cpp,java}" in out
