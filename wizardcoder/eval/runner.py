"""`run_eval(cfg)`: a plain function from config to files in a run directory.

    runs/eval/<suite>-<fingerprint>/
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

from wizardcoder.config import fingerprint, save_config, to_dict
from wizardcoder.data.store import JsonlLog, read_json, write_json_atomic
from wizardcoder.errors import ConfigError, UserError
from wizardcoder.eval.config import EvalConfig, resolve_mode
from wizardcoder.eval.execute import execute_samples, results_under
from wizardcoder.eval.generate import generate_samples, import_samples
from wizardcoder.eval.metrics import compute_metrics
from wizardcoder.eval.problems import SUITES, Problem, load_suite
from wizardcoder.eval.repro import build_record
from wizardcoder.eval.timelimits import TimeLimitConfig, TimeLimits, resolve_limits
from wizardcoder.execution import SandboxConfig
from wizardcoder.progress import Progress, no_progress

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- the stage


def run_dir_for(cfg: EvalConfig, problems_source: str | None = None) -> Path:
    """<output_dir>/<suite>-<fingerprint of what changes results>: the generation settings, the model and
    adapter (what their files hold, not just their paths: retrained weights at the same path are a new
    run) and the sandbox's backend, image and limits. Not `suite.limit`: a limited run extends to a full one."""
    from wizardcoder.content_id import local_path, path_identity

    gen = to_dict(cfg.generation)
    samples = gen.pop("samples_file")
    key: dict[str, Any] = {"suite": cfg.suite.name, "split": cfg.suite.split, "generation": gen}
    if samples:
        key = {"suite": cfg.suite.name, "samples": _file_digest(Path(samples))}
    else:
        key["llm"] = {k: getattr(cfg.llm, k) for k in ("provider", "base_url", "model", "api", "adapter", "template")}
        if not cfg.llm.base_url:  # a local model or adapter folder, however it is spelled
            key["llm"].update(model=local_path(cfg.llm.model), adapter=local_path(cfg.llm.adapter))
        key["model_files"] = path_identity(cfg.llm.model) if not cfg.llm.base_url else None
        key["adapter_files"] = path_identity(cfg.llm.adapter, hash_all=True)
    key["sandbox"] = {k: getattr(cfg.sandbox, k) for k in ("backend", "image", "timeout", "memory_mb")}
    name = Path(cfg.suite.name).stem if cfg.suite.name not in SUITES else cfg.suite.name
    name = name.replace("/", "_").replace(":", "_")
    return Path(cfg.output_dir) / f"{name}-{fingerprint(key)}"


def _time_limits(cfg: EvalConfig, problems: list[Problem]) -> TimeLimits:
    from wizardcoder.eval.repro import suite_digest
    from wizardcoder.execution import open_sandbox

    tl = cfg.time_limit
    if tl.timeout is None and cfg.sandbox.timeout != SandboxConfig.timeout:
        log.warning("sandbox.timeout=%g is used as a fixed time limit for every problem; eval's own key is "
                    "time_limit.timeout (--timeout), or time_limit.profile=reference|calibrated",
                    cfg.sandbox.timeout)
        tl = TimeLimitConfig(**{**to_dict(tl), "timeout": cfg.sandbox.timeout})
    return resolve_limits(tl, cfg.suite.name, problems, suite_digest(problems),
                          open_sandbox=lambda: open_sandbox(cfg.sandbox),
                          backend_id=f"{cfg.sandbox.backend}:{cfg.sandbox.image}:{cfg.sandbox.memory_mb}")


def _previous_sandbox(run_dir: Path) -> dict | None:
    """A resumed run that ran nothing now keeps the sandbox record of the run that made its results."""
    try:
        return read_json(run_dir / "metrics.json")["reproducibility"]["sandbox"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _file_digest(path: Path) -> str:
    from wizardcoder.content_id import file_sha256

    if not path.is_file():
        raise UserError(f"--samples {path}: no such file")
    return file_sha256(path)[:16]  # streamed, and read once per run however often it is asked


def run_eval(cfg: EvalConfig, progress: Progress | None = None, client=None) -> dict[str, Any]:
    """Generate (or import) samples, execute them in the sandbox, compute pass@k. Returns the metrics."""
    from wizardcoder.runlock import run_lock

    run_dir = run_dir_for(cfg)
    with run_lock(run_dir, "eval"):  # a second process on this directory fails at once
        return _run_eval(cfg, run_dir, progress or no_progress, client)


def _run_eval(cfg: EvalConfig, run_dir: Path, progress: Progress, client) -> dict[str, Any]:
    t0 = time.monotonic()
    problems = load_suite(cfg.suite.name, cfg.suite.data_dir, cfg.suite.split)
    if cfg.suite.limit is not None:
        if cfg.suite.limit < 1:
            raise ConfigError("suite.limit must be >= 1")
        problems = problems[: cfg.suite.limit]
    by_id = {p.task_id: p for p in problems}
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml")
    log.info("eval %s: %d problems, run directory %s", cfg.suite.name, len(problems), run_dir)

    stats: dict[str, Any] = {"suite": cfg.suite.name, "problems": len(problems), "run_dir": str(run_dir)}
    limits = _time_limits(cfg, problems)
    samples = JsonlLog(run_dir / "samples.jsonl")
    try:
        t_gen = time.monotonic()
        if cfg.generation.samples_file:
            n_target = import_samples(cfg, by_id, samples, stats)
        else:
            n_target = {p.task_id: cfg.generation.n for p in problems}
            generate_samples(cfg, problems, samples, progress, stats, client)
        stats["generation_seconds"] = round(time.monotonic() - t_gen, 3)
    finally:
        samples.close()

    results = JsonlLog(run_dir / "results.jsonl")
    try:
        t_exec = time.monotonic()
        execute_samples(cfg, by_id, samples.records, results, progress, stats, limits)
        stats["execution_seconds"] = round(time.monotonic() - t_exec, 3)
    finally:
        results.close()

    metrics = compute_metrics(cfg, problems, results_under(limits, results.records, by_id), n_target)
    metrics["time_limits"] = limits.record
    metrics["reproducibility"] = build_record(
        cfg, problems, stats.get("mode") or (None if cfg.generation.samples_file else resolve_mode(cfg)),
        limits.record, stats.get("sandbox") or _previous_sandbox(run_dir),
        _file_digest(Path(cfg.generation.samples_file)) if cfg.generation.samples_file else None)
    stats["wall_seconds"] = round(time.monotonic() - t0, 3)
    stats["complete"] = metrics["complete"]
    write_json_atomic(run_dir / "metrics.json", metrics)
    write_json_atomic(run_dir / "stats.json", stats)
    metrics["stats"] = stats
    return metrics
