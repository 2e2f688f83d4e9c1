"""The eval config: `suite`, `generation`, `llm`, `sandbox`, `time_limit`, `k`, `output_dir`."""

from __future__ import annotations

from dataclasses import dataclass, field

from wizardcoder.eval.timelimits import TimeLimitConfig
from wizardcoder.execution.config import SandboxConfig
from wizardcoder.llm import LLMConfig

MODES = ("auto", "completion", "instruct")


@dataclass
class SuiteConfig:
    name: str = "humaneval"  # humaneval | mbpp | humaneval-cpp | humaneval-java | a JSON/JSONL file | hub dataset
    data_dir: str | None = None  # folder of MultiPL-E files (default: $WIZARDCODER_DATA, ../shared/data/multipl-e)
    split: str = "test"  # of a hub dataset or a save_to_disk DatasetDict
    limit: int | None = None  # first N problems only (not part of the run fingerprint: a full run reuses them)


@dataclass
class GenerationConfig:
    n: int = 1  # samples per problem
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 0.95
    max_tokens: int = 512
    # completion: the model continues the raw prompt (base models, completions APIs);
    # instruct: an instruction built from the prompt, code taken from the reply (chat / instruction-tuned);
    # auto: instruct for chat APIs, the embedded model and adapters; completion otherwise.
    mode: str = "auto"
    instruction: str = "Create a {language} script for this problem:\n{prompt}"  # WizardCoder's eval prompt
    seed: int = 1234  # sample i of every problem is requested with seed + i
    samples_file: str | None = None  # score these completions instead of generating (human-eval/evalplus JSONL)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"generation.mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.n < 1:
            raise ValueError("generation.n must be >= 1")
        if not 0 <= self.temperature <= 2:
            raise ValueError("generation.temperature must be in [0, 2]")


@dataclass
class EvalConfig:
    suite: SuiteConfig = field(default_factory=SuiteConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)  # sandbox.timeout: see time_limit
    time_limit: TimeLimitConfig = field(default_factory=TimeLimitConfig)  # reference | calibrated | --timeout
    k: list[int] = field(default_factory=lambda: [1, 10, 100])  # pass@k reported for k <= n only
    output_dir: str = "runs/eval"  # the run directory is <output_dir>/<suite>-<fingerprint>


def resolve_mode(cfg: EvalConfig) -> str:
    if cfg.generation.mode != "auto":
        return cfg.generation.mode
    return "instruct" if cfg.llm.prefers_instructions() else "completion"
