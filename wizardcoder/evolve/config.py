"""`EvolveConfig`: the sections of an evolve run (`evolve`, `seeds`, `llm`, `sandbox`, `eliminate`, `dataset`,
`output`).

The defaults are the README's first command: `wizardcoder evolve --lang python` on the embedded
SmolLM2-135M (CPU), 8 built-in seeds, 2 rounds, short answers, so that it finishes in minutes.
Scale up with `--limit`, `--rounds`, `--base-url/--model` (a real model) and `llm.concurrency`.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wizardcoder import languages
from wizardcoder.config import SettingError, Settings, fingerprint, fingerprint_fields, setting
from wizardcoder.data.config import DatasetConfig
from wizardcoder.eliminate.config import EliminateConfig
from wizardcoder.evolve.methods import default_weights, validate_weights
from wizardcoder.evolve.prompts import LANGUAGES, load_prompts
from wizardcoder.evolve.seeds import builtin_seed_file
from wizardcoder.execution.config import SandboxConfig
from wizardcoder.llm import LLMConfig

INFRA_POLICIES = ("stop", "keep_parent")


@dataclass
class EvolutionConfig(Settings):
    SECTION = "evolve"

    lang: str = setting("python", choices=LANGUAGES, help="the language of the tasks and their solutions")
    rounds: int = setting(2, ge=0, fingerprinted=False,
                          help="evolution rounds; each round evolves every task in the pool once")
    methods: dict[str, float] = setting(default_factory=default_weights,
                                        help="evolution method -> relative weight of being chosen")
    seed: int = setting(0, help="RNG seed: method choices and LLM sampling seeds derive from (seed, round, task id)")
    include_seeds_in_dataset: bool | None = setting(
        None, help="put the seed tasks (with their given output) in the dataset too; null: yes, unless they are "
                   "the built-in (Python) seeds in a C++ / Java run")
    judge: bool = setting(False, help="also ask the LLM whether an evolved task adds information (one more call "
                                      "per task)")
    evolve_max_tokens: int | None = setting(
        None, ge=1,
        help="tokens for an evolved instruction; null: by model (short for a local model, room for a whole task "
             "behind an endpoint). A reply cut by the limit is dropped (truncated), so it must fit a task")
    solve_max_tokens: int | None = setting(
        None, ge=1,
        help="tokens for a solution and its tests; null: by model. Cut tests keep their complete statements "
             "(salvaged)")
    temperature: float = setting(0.7, ge=0, le=2, help="sampling temperature of evolve and solve requests")
    solve_samples: int = setting(
        4, ge=1,
        help="solve replies per evolved task, each with its own sampling seed; every solution runs against every "
             "test set and the pair most others agree with is kept (1: one solution and its own tests)")
    repair_turns: int | None = setting(
        None, ge=0,
        help="follow-ups asking for a fixed solution when none of a task's candidates passes (failed, timeout, "
             "compile_error): the same conversation, with the failing assertion and the tail of the program's "
             "output; null: 1 behind an endpoint, 0 on a local model. 0: none")
    repair_tests: bool = setting(
        False,
        help="a repair may change the tests too; the repaired pair must then pass every check again (tests that "
             "can fail, agreement with the other candidates, the task's function). false: the repaired solution "
             "runs against the original tests, so a repair cannot pass by weakening them")
    min_pass_rate: float = setting(0.0, ge=0, le=1, help="drop tasks fewer of whose solutions pass the chosen "
                                                         "tests (too hard)")
    max_pass_rate: float = setting(1.0, ge=0, le=1, help="drop tasks more of whose solutions pass them (too easy)")
    prompts: str | None = setting(None, help="a YAML prompt file replacing the shipped prompts/<lang>.yaml")
    on_infra_error: str = setting(
        "stop", choices=INFRA_POLICIES, fingerprinted=False,
        help="when the endpoint or the sandbox keeps failing: stop (end the run; rerun to retry) or keep_parent "
             "(carry the parent task on)")
    infra_retries: int = setting(1, ge=0, fingerprinted=False,
                                 help="extra passes over the calls / programs that hit an infrastructure error")

    def __post_init__(self) -> None:
        super().__post_init__()
        validate_weights(self.methods)
        if self.min_pass_rate > self.max_pass_rate:
            raise SettingError("evolve.min_pass_rate must be <= evolve.max_pass_rate, got "
                               f"{self.min_pass_rate} and {self.max_pass_rate}")


def _default_fields() -> dict[str, str]:
    # Code Alpaca's columns; id / tests / entry_point are used where present.
    return {"id": "id", "instruction": "instruction", "input": "input", "output": "output",
            "tests": "tests", "entry_point": "entry_point"}


@dataclass
class SeedsConfig(Settings):
    SECTION = "seeds"

    path: str | None = setting(
        None, help="null: the built-in seed set. Else a .jsonl / .json / .csv / .parquet file, a directory written "
                   "by datasets' save_to_disk, or a hub dataset name (needs network), e.g. sahil2801/CodeAlpaca-20k")
    split: str = setting("train", help="the split of a dataset directory or hub dataset")
    fields: dict[str, str] = setting(
        default_factory=_default_fields,
        help="our field -> the source's column (id, instruction, input, output, tests, entry_point)")
    limit: int | None = setting(8, ge=1, help="the first N seeds; null: all")

    def __post_init__(self) -> None:
        super().__post_init__()
        allowed = set(_default_fields())
        for key in self.fields:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]}?)" if close else f" (valid: {', '.join(sorted(allowed))})"
                raise SettingError(f"seeds.fields: unknown field {key!r}{hint}")

    def column(self, name: str) -> str:
        return self.fields.get(name, _default_fields()[name])


@dataclass
class OutputConfig(Settings):
    SECTION = "output"

    dir: str | None = setting(None, fingerprinted=False,
                              help="the run directory; null: <root>/<fingerprint of what changes results>")
    root: str = setting("runs/evolve", fingerprinted=False, help="where run directories go when dir is null")
    report: bool = setting(True, fingerprinted=False, help="write report.md and its plots")
    fsync: bool = setting(
        True, fingerprinted=False,
        help="flush every record (a kill -9 loses nothing) and fsync the files at most once a second and on close "
             "(a power loss costs at most the last second of answers, asked again on rerun)")


@dataclass
class EvolveConfig:
    evolve: EvolutionConfig = field(default_factory=EvolutionConfig)
    seeds: SeedsConfig = field(default_factory=SeedsConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    eliminate: EliminateConfig = field(default_factory=EliminateConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def __post_init__(self) -> None:
        # token limits where unset: the language's (`TOKEN_BUDGET`), for a local model or an endpoint
        budget = languages.get(self.evolve.lang).TOKEN_BUDGET
        local = self.llm.local_template() is not None
        evolve_tokens, solve_tokens = budget.local if local else budget.endpoint
        updates = {}
        if self.evolve.evolve_max_tokens is None:
            updates["evolve_max_tokens"] = evolve_tokens
        if self.evolve.solve_max_tokens is None:
            updates["solve_max_tokens"] = solve_tokens
        if self.evolve.repair_turns is None:  # on a local model a follow-up costs a CPU generation (README)
            updates["repair_turns"] = 0 if local else 1
        if updates:  # resolved here, so the fingerprint holds the limits (and repair turns) a run used
            self.evolve = dataclasses.replace(self.evolve, **updates)


# Settings this stage leaves out of its fingerprint beyond those declared `fingerprinted=False`:
# more (or other) endpoints serving the same model, and another sandbox backend or image, resume the run.
_RESUMABLE_ACROSS = {"llm": {"base_url"}, "sandbox": {"backend", "image"}}


def result_fields(cfg: EvolveConfig) -> dict[str, Any]:
    """The parts of `cfg` that change results (what the run directory's fingerprint covers)."""
    data = fingerprint_fields(cfg, leave_out=_RESUMABLE_ACROSS)
    # the dataset settings were keys of `eliminate` when the first runs were fingerprinted: hashed there still,
    # so that those runs keep their directories
    data["eliminate"].update(data.pop("dataset"))
    seeds = data.get("seeds", {})
    if seeds.get("path") and Path(seeds["path"]).expanduser().exists():
        seeds["path"] = None  # a local file or folder: its content is keyed (seeds_sha256), not where it lies
    return data


def run_fingerprint(cfg: EvolveConfig) -> str:
    """Keys the run directory: the result-changing settings, the prompt texts themselves and what the seed
    source holds (so an edited prompt or seed file, or prompts or built-in seeds changed by an upgrade,
    start a new run instead of mixing)."""
    prompts = load_prompts(cfg.evolve.lang, cfg.evolve.prompts)
    return fingerprint({**result_fields(cfg), "prompts": dataclasses.asdict(prompts) | {"source": None},
                        "seeds_sha256": seeds_sha256(cfg)})


def seeds_sha256(cfg: EvolveConfig) -> str | None:
    """A SHA-256 of the seed file or folder (the built-in set included); None for a hub dataset name."""
    from wizardcoder.content_id import content_sha256  # off the CLI's start-up path

    path = Path(cfg.seeds.path).expanduser() if cfg.seeds.path else builtin_seed_file(cfg.evolve.lang)
    return content_sha256(path) if path.exists() else None
