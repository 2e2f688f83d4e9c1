"""`EvolveConfig`: the sections of an evolve run (`evolve`, `seeds`, `llm`, `sandbox`, `eliminate`, `output`).

The defaults are the README's first command: `wizardcoder evolve --lang python` on the embedded
SmolLM2-135M (CPU), 8 built-in seeds, 2 rounds, short answers, so that it finishes in minutes.
Scale up with `--limit`, `--rounds`, `--base-url/--model` (a real model) and `llm.concurrency`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wizardcoder.config import fingerprint, to_dict
from wizardcoder.eliminate import EliminateConfig
from wizardcoder.evolve.methods import default_weights, validate_weights
from wizardcoder.evolve.prompts import LANGUAGES
from wizardcoder.execution.config import SandboxConfig
from wizardcoder.llm import LLMConfig

INFRA_POLICIES = ("stop", "keep_parent")


@dataclass
class EvolveSection:
    lang: str = "python"  # target language of the tasks and solutions: python | cpp | java
    rounds: int = 2  # evolution rounds; each round evolves every task in the pool once
    methods: dict[str, float] = field(default_factory=default_weights)  # method -> relative weight
    seed: int = 0  # RNG seed: method choices and LLM sampling seeds derive from (seed, round, task id)
    # put the seed tasks (with their given output) in the dataset too; None: yes, unless they are the
    # built-in seeds (Python) in a C++ / Java run
    include_seeds_in_dataset: bool | None = None
    judge: bool = False  # also ask the LLM whether the evolved task adds information (one more call per task)
    # tokens for an evolved instruction / a solution + tests; None: by model (see `_LOCAL_TOKENS`). A reply cut
    # by the limit is dropped (`truncated`) or salvaged (complete test statements), so the limit must fit a task
    evolve_max_tokens: int | None = None
    solve_max_tokens: int | None = None
    temperature: float = 0.7  # sampling temperature for evolve and solve requests
    # solve replies per evolved task, each with its own sampling seed; every solution runs against every
    # test set and the pair that most others agree with is kept (1: one solution and its own tests)
    solve_samples: int = 4
    min_pass_rate: float = 0.0  # drop tasks fewer of whose n solutions pass the chosen tests (too hard)
    max_pass_rate: float = 1.0  # drop tasks more of whose n solutions pass them (too easy)
    prompts: str | None = None  # a YAML prompt file replacing the shipped prompts/<lang>.yaml
    on_infra_error: str = "stop"  # stop: end the run (rerun to retry); keep_parent: carry the parent on
    infra_retries: int = 1  # extra passes over the calls / programs that hit an infrastructure error

    def __post_init__(self) -> None:
        if self.lang not in LANGUAGES:
            raise ValueError(f"evolve.lang must be one of {', '.join(LANGUAGES)}, got {self.lang!r}")
        if self.rounds < 0:
            raise ValueError(f"evolve.rounds must be >= 0, got {self.rounds}")
        validate_weights(self.methods)
        if self.on_infra_error not in INFRA_POLICIES:
            raise ValueError(f"evolve.on_infra_error must be one of {', '.join(INFRA_POLICIES)}, "
                             f"got {self.on_infra_error!r}")
        if self.infra_retries < 0:
            raise ValueError("evolve.infra_retries must be >= 0")
        for key in ("evolve_max_tokens", "solve_max_tokens"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"evolve.{key} must be an integer >= 1 or null (by model), got {value!r}")
        if self.solve_samples < 1:
            raise ValueError(f"evolve.solve_samples must be >= 1, got {self.solve_samples}")
        if not 0.0 <= self.min_pass_rate <= self.max_pass_rate <= 1.0:
            raise ValueError("evolve.min_pass_rate and evolve.max_pass_rate must satisfy "
                             f"0 <= min <= max <= 1, got {self.min_pass_rate} and {self.max_pass_rate}")
        if not 0 <= self.temperature <= 2:
            raise ValueError(f"evolve.temperature must be in [0, 2], got {self.temperature}")


def _default_fields() -> dict[str, str]:
    # Code Alpaca's columns; id / tests / entry_point are used where present.
    return {"id": "id", "instruction": "instruction", "input": "input", "output": "output",
            "tests": "tests", "entry_point": "entry_point"}


@dataclass
class SeedsConfig:
    # None: the built-in seed set. Else a .jsonl / .json / .csv / .parquet file, a directory written by
    # datasets' save_to_disk, or a hub dataset name (needs network), e.g. sahil2801/CodeAlpaca-20k.
    path: str | None = None
    split: str = "train"  # the split of a dataset directory / hub dataset
    fields: dict[str, str] = field(default_factory=_default_fields)  # our field -> the source's column
    limit: int | None = 8  # the first N seeds (None = all)

    def __post_init__(self) -> None:
        allowed = set(_default_fields())
        for key in self.fields:
            if key not in allowed:
                import difflib

                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]}?)" if close else f" (valid: {', '.join(sorted(allowed))})"
                raise ValueError(f"seeds.fields: unknown field {key!r}{hint}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"seeds.limit must be >= 1 or null (all), got {self.limit}")

    def column(self, name: str) -> str:
        return self.fields.get(name, _default_fields()[name])


@dataclass
class OutputConfig:
    dir: str | None = None  # the run directory; None = <root>/<fingerprint of what changes results>
    root: str = "runs/evolve"
    report: bool = True  # write report.md and its plots
    # flush every record (a kill -9 loses nothing) and fsync the files at most once a second and on close
    # (a power loss costs at most the last second of answers, asked again on rerun)
    fsync: bool = True


# Token limits where unset: short for a local model on a CPU (the embedded SmolLM2 writes ~10 tokens/s there),
# room for a whole task and a whole answer from a real teacher behind an endpoint. (evolve, solve) by language.
_LOCAL_TOKENS = {"python": (128, 320), "cpp": (128, 448), "java": (128, 448)}
_ENDPOINT_TOKENS = {"python": (512, 1024), "cpp": (512, 1536), "java": (512, 1536)}


@dataclass
class EvolveConfig:
    evolve: EvolveSection = field(default_factory=EvolveSection)
    seeds: SeedsConfig = field(default_factory=SeedsConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    eliminate: EliminateConfig = field(default_factory=EliminateConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def __post_init__(self) -> None:
        local = self.llm.local_template() is not None
        evolve_tokens, solve_tokens = (_LOCAL_TOKENS if local else _ENDPOINT_TOKENS)[self.evolve.lang]
        updates = {}
        if self.evolve.evolve_max_tokens is None:
            updates["evolve_max_tokens"] = evolve_tokens
        if self.evolve.solve_max_tokens is None:
            updates["solve_max_tokens"] = solve_tokens
        if updates:  # resolved here, so the fingerprint holds the limits a run used
            self.evolve = dataclasses.replace(self.evolve, **updates)


# Keys that do not change what a run produces: they are left out of the run directory's fingerprint,
# so a rerun with more concurrency, another sandbox backend or more rounds resumes the same run.
_NON_RESULT_KEYS = {
    "evolve": {"rounds", "on_infra_error", "infra_retries"},
    # base_url: more (or other) endpoints serving the same model resume the run; max_context_tokens refuses
    # before sending what the server would refuse anyway
    "llm": {"api_key_env", "concurrency", "max_retries", "timeout", "batch_size", "device",
            "price_per_1k_prompt", "price_per_1k_completion", "base_url", "max_context_tokens"},
    # compile_timeout: a compiler's allowance on a busy machine, like llm.timeout (verdicts must not depend on it)
    "sandbox": {"backend", "workers", "image", "ray_address", "compile_timeout"},
    "eliminate": {"chunk_size", "tail_chars"},
    "output": {"dir", "root", "report", "fsync"},
}


def result_fields(cfg: EvolveConfig) -> dict[str, Any]:
    """The parts of `cfg` that change results (what the run directory's fingerprint covers)."""
    data = to_dict(cfg)
    for section, keys in _NON_RESULT_KEYS.items():
        for key in keys:
            data.get(section, {}).pop(key, None)
    seeds = data.get("seeds", {})
    if seeds.get("path") and Path(seeds["path"]).expanduser().exists():
        seeds["path"] = None  # a local file or folder: its content is keyed (seeds_sha256), not where it lies
    return data


def run_fingerprint(cfg: EvolveConfig) -> str:
    """Keys the run directory: the result-changing settings, the prompt texts themselves and what the seed
    source holds (so an edited prompt or seed file, or prompts or built-in seeds changed by an upgrade,
    start a new run instead of mixing)."""
    from wizardcoder.evolve.prompts import load_prompts

    prompts = load_prompts(cfg.evolve.lang, cfg.evolve.prompts)
    return fingerprint({**result_fields(cfg), "prompts": dataclasses.asdict(prompts) | {"source": None},
                        "seeds_sha256": seeds_sha256(cfg)})


def seeds_sha256(cfg: EvolveConfig) -> str | None:
    """A SHA-256 of the seed file or folder (the built-in set included); None for a hub dataset name."""
    from wizardcoder.content_id import content_sha256
    from wizardcoder.evolve.seeds import builtin_seed_file

    path = Path(cfg.seeds.path).expanduser() if cfg.seeds.path else builtin_seed_file(cfg.evolve.lang)
    return content_sha256(path) if path.exists() else None
