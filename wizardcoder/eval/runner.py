"""`run_eval(cfg)`: a plain function from config to files in a run directory, in three steps that each run
alone on the directory's files (as evalplus's codegen and evaluate do):

    generate.generate   the model (or an imported file) -> samples.jsonl
    execute.execute     samples.jsonl -> results.jsonl, through the sandbox
    metrics.score       results.jsonl -> metrics.json

    runs/eval/<suite>-<fingerprint>/  (or --output DIR: the run directory, as for evolve and train)
        run.json        the fingerprint of the config (another config's run is refused once it holds work)
        config.yaml     the resolved config
        samples.jsonl   one line per (task_id, sample_idx): raw model output + completion or solution
        results.jsonl   one line per executed sample: status, passed, reason, output tails, duration
        metrics.json    pass@k (only k every problem has samples for), per-problem pass rates
        stats.json      counters and timings

Both JSONL files are appended and fsync'ed per record, so a killed run resumes: a re-run with the same
config skips every (task_id, sample_idx) already there. An LLM or sandbox infrastructure failure is never
counted as a failed sample: it is left out, reported, and retried by the next run.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from wizardcoder.config import fingerprint, fingerprint_fields, save_config, to_dict
from wizardcoder.content_id import local_path, path_identity
from wizardcoder.data.store import read_json, write_json_atomic
from wizardcoder.errors import UserError
from wizardcoder.eval.config import EvalConfig
from wizardcoder.eval.execute import execute
from wizardcoder.eval.generate import generate, samples_digest
from wizardcoder.eval.metrics import score
from wizardcoder.eval.plus.stage import is_plus, plus_limits, problems_for, suite_for
from wizardcoder.eval.problems import SUITES, Problem, load_suite
from wizardcoder.eval.repro import suite_digest
from wizardcoder.eval.timelimits import TimeLimitConfig, TimeLimits, resolve_limits
from wizardcoder.execution import open_sandbox
from wizardcoder.execution.config import SandboxConfig
from wizardcoder.progress import Progress, no_progress
from wizardcoder.runlock import run_lock, stage_of

log = logging.getLogger(__name__)


def run_dir_for(cfg: EvalConfig, key: str | None = None) -> Path:
    """`run_dir` (--output), else <output_dir>/<suite>-<run_key>."""
    if cfg.run_dir:
        return Path(cfg.run_dir)
    name = Path(cfg.suite.name).stem if cfg.suite.name not in SUITES and not is_plus(cfg.suite.name) \
        else cfg.suite.name
    name = name.replace("/", "_").replace(":", "_")
    return Path(cfg.output_dir) / f"{name}-{key or run_key(cfg)}"


def run_key(cfg: EvalConfig) -> str:
    """The fingerprint of what changes results: the generation settings, the model and adapter (what their
    files hold, not just their paths: retrained weights at the same path are a new run) and the sandbox's
    backend, image and limits. Not `suite.limit`: a limited run extends to a full one."""
    fields = fingerprint_fields(cfg)
    samples = fields["generation"].pop("samples_file")
    key: dict[str, Any] = {"suite": cfg.suite.name, "split": cfg.suite.split, "generation": fields["generation"]}
    if samples:
        key = {"suite": cfg.suite.name, "samples": samples_digest(samples)}
    else:
        key["llm"] = fields["llm"]
        if not cfg.llm.base_url:  # a local model or adapter folder, however it is spelled
            key["llm"].update(model=local_path(cfg.llm.model), adapter=local_path(cfg.llm.adapter))
        key["model_files"] = path_identity(cfg.llm.model) if not cfg.llm.base_url else None
        key["adapter_files"] = path_identity(cfg.llm.adapter, hash_all=True)
    key["sandbox"] = fields["sandbox"]  # time_limit.*: results run under other limits are told apart per row
    if is_plus(cfg.suite.name):  # what the data file holds, whatever its path
        key["suite_data"] = suite_for(cfg).sha256
    return fingerprint(key)


def time_limits(cfg: EvalConfig, problems: list[Problem], progress: Progress | None = None) -> TimeLimits:
    if is_plus(cfg.suite.name):  # per-input limits, from the expected outputs (computed now or cached)
        return plus_limits(cfg, problems, progress)

    tl = cfg.time_limit
    if tl.timeout is None and cfg.sandbox.timeout != SandboxConfig.timeout:
        log.warning("sandbox.timeout=%g is used as a fixed time limit for every problem; eval's own key is "
                    "time_limit.timeout (--timeout), or time_limit.profile=reference|calibrated",
                    cfg.sandbox.timeout)
        tl = TimeLimitConfig(**{**to_dict(tl), "timeout": cfg.sandbox.timeout})
    return resolve_limits(tl, cfg.suite.name, problems, suite_digest(problems),
                          open_sandbox=lambda: open_sandbox(cfg.sandbox),
                          backend_id=f"{cfg.sandbox.backend}:{cfg.sandbox.image}:{cfg.sandbox.memory_mb}")


def run_eval(cfg: EvalConfig, progress: Progress | None = None, client=None,
             generate_only: bool = False) -> dict[str, Any]:
    """Generate (or import) samples, execute them in the sandbox, compute pass@k. Returns the metrics (with
    the run's counters under "stats"); `generate_only`: stop after samples.jsonl and return the counters."""
    key = run_key(cfg)
    run_dir = run_dir_for(cfg, key)
    if cfg.run_dir:
        _refuse_a_parent_of_runs(run_dir)
    with run_lock(run_dir, "eval"):  # a second process on this directory fails at once
        _claim(run_dir, key)
        return _run_eval(cfg, run_dir, progress or no_progress, client, generate_only)


def _refuse_a_parent_of_runs(run_dir: Path) -> None:
    """`--output` once named the parent of eval run directories: a folder holding them is refused, saying how to
    get that back (output_dir=) or how to resume one of them."""
    if not run_dir.is_dir() or stage_of(run_dir) is not None:
        return
    runs = sorted(child.name for child in run_dir.iterdir() if child.is_dir() and stage_of(child) == "eval")
    if runs:
        raise UserError(
            f"--output {run_dir} holds eval run directories ({', '.join(runs[:3])}{', ...' if len(runs) > 3 else ''}"
            "): --output is the run directory itself, as for evolve and train (it was their parent before). To put "
            f"this run beside them, as before, pass output_dir={run_dir} instead; to resume one, pass its folder "
            f"(--output {run_dir / runs[0]}).")


def _claim(run_dir: Path, key: str) -> None:
    """run.json records the config's fingerprint; another config's run is refused, unless it holds no work (no
    sample yet: stopped by its preflight, e.g. a wrong --model), which then gives way."""
    meta_path = run_dir / "run.json"
    meta = read_json(meta_path)
    if meta is not None and meta.get("fingerprint") != key:
        if _holds_work(run_dir):
            raise UserError(
                f"{run_dir} holds an eval run with a different config (fingerprint {meta.get('fingerprint')} != "
                f"{key}: the suite, model, generation or sandbox settings differ). Use another --output, or delete "
                "that directory to start over.")
        log.info("%s held no work of its config (%s): it now holds this one's", run_dir, meta.get("fingerprint"))
    if meta is None or meta.get("fingerprint") != key:
        write_json_atomic(meta_path, {"stage": "eval", "fingerprint": key})


def _holds_work(run_dir: Path) -> bool:
    return any((run_dir / name).is_file() and (run_dir / name).stat().st_size > 0
               for name in ("samples.jsonl", "results.jsonl"))


def select_problems(cfg: EvalConfig) -> list[Problem]:
    """The suite's problems this run evaluates (the first `suite.limit`)."""
    if is_plus(cfg.suite.name):
        problems = problems_for(cfg)
    else:
        problems = load_suite(cfg.suite.name, cfg.suite.data_dir, cfg.suite.split)
    return problems if cfg.suite.limit is None else problems[: cfg.suite.limit]


def _run_eval(cfg: EvalConfig, run_dir: Path, progress: Progress, client, generate_only: bool) -> dict[str, Any]:
    started = time.monotonic()
    problems = select_problems(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml")
    log.info("eval %s: %d problems, run directory %s", cfg.suite.name, len(problems), run_dir)
    stats: dict[str, Any] = {"suite": cfg.suite.name, "problems": len(problems), "run_dir": str(run_dir)}

    limits = None if generate_only else time_limits(cfg, problems, progress)  # may take a while: fail early
    generated = generate(cfg, problems, run_dir, progress, client)
    stats.update(generated.as_dict())
    if limits is None:
        stats["wall_seconds"] = round(time.monotonic() - started, 3)
        write_json_atomic(run_dir / "stats.json", stats)
        return {"stats": stats}
    executed = execute(cfg, problems, run_dir, limits, progress)
    stats.update(executed.as_dict())
    metrics = score(cfg, problems, run_dir, limits, generated.expected, executed.sandbox)
    stats["wall_seconds"] = round(time.monotonic() - started, 3)
    stats["complete"] = metrics["complete"]
    write_json_atomic(run_dir / "stats.json", stats)
    return {**metrics, "stats": stats}
