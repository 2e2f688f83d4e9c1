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
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wizardcoder.config import fingerprint, save_config, to_dict
from wizardcoder.data.jsonl import iter_jsonl
from wizardcoder.data.store import JsonlLog, read_json, write_json_atomic
from wizardcoder.errors import ConfigError, UserError
from wizardcoder.eval.config import EvalConfig, resolve_mode
from wizardcoder.eval.passk import mean_pass_at_k
from wizardcoder.eval.postprocess import postprocess
from wizardcoder.eval.problems import KNOWN_BROKEN, SUITES, Problem, load_suite
from wizardcoder.eval.programs import Program, build_program, result_record, run_programs
from wizardcoder.eval.repro import build_record
from wizardcoder.eval.timelimits import TimeLimitConfig, TimeLimits, resolve_limits
from wizardcoder.execution import SandboxConfig, new_marker
from wizardcoder.progress import Progress, no_progress

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {"python": "Python", "cpp": "C++", "java": "Java"}


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
            n_target = _import_samples(cfg, by_id, samples, stats)
        else:
            n_target = {p.task_id: cfg.generation.n for p in problems}
            _generate(cfg, problems, samples, progress, stats, client)
        stats["generation_seconds"] = round(time.monotonic() - t_gen, 3)
    finally:
        samples.close()

    results = JsonlLog(run_dir / "results.jsonl")
    try:
        t_exec = time.monotonic()
        _execute(cfg, by_id, samples.records, results, progress, stats, limits)
        stats["execution_seconds"] = round(time.monotonic() - t_exec, 3)
    finally:
        results.close()

    metrics = compute_metrics(cfg, problems, _under(limits, results.records, by_id), n_target)
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


def _import_samples(cfg: EvalConfig, by_id: dict[str, Problem], samples: JsonlLog, stats: dict) -> dict[str, int]:
    path = Path(cfg.generation.samples_file)  # type: ignore[arg-type]
    done = {(r["task_id"], r["sample_idx"]) for r in samples.records}
    counts: Counter[str] = Counter()
    unknown: set[str] = set()
    imported = 0
    for lineno, rec in iter_jsonl(path):
        task_id = rec.get("task_id")
        if task_id is None or ("completion" not in rec and "solution" not in rec):
            raise UserError(f"{path}:{lineno}: a sample needs task_id and completion (appended to the prompt) "
                            "or solution (a full program)")
        if task_id not in by_id:
            unknown.add(task_id)
            continue
        idx = counts[task_id]
        counts[task_id] += 1
        if (task_id, idx) in done:
            continue
        solution = rec.get("solution")
        samples.append({"task_id": task_id, "sample_idx": idx, "source": str(path),
                        "completion": None if solution is not None else rec["completion"],
                        "solution": solution, "raw": None})
        imported += 1
    if unknown:
        if not counts:
            raise UserError(f"{path}: none of its task ids belong to suite {cfg.suite.name!r} "
                            f"(e.g. {min(unknown)!r}); pass the suite the samples were made for")
        log.info("%s: %d task ids outside the selected problems were skipped", path, len(unknown))
    missing = [t for t in by_id if counts[t] == 0]
    if missing:
        log.warning("%s: %d problems have no sample (e.g. %s); pass@k is reported only where every problem "
                    "has k samples", path, len(missing), missing[0])
    stats["samples_imported"] = imported
    return {t: counts[t] for t in by_id}


def _generate(cfg: EvalConfig, problems: list[Problem], samples: JsonlLog, progress: Progress, stats: dict,
              client=None) -> None:
    done = {(r["task_id"], r["sample_idx"]) for r in samples.records}
    todo = [(p, i) for p in problems for i in range(cfg.generation.n) if (p.task_id, i) not in done]
    stats["samples_resumed"] = len(done)
    stats["samples_requested"] = len(todo)
    if not todo:
        return
    if cfg.generation.n > 1 and cfg.generation.temperature == 0:
        log.warning("n=%d samples at temperature 0 are (nearly) identical: sample with temperature > 0",
                    cfg.generation.n)
    mode = resolve_mode(cfg)
    stats["mode"] = mode
    own_client = client is None
    if own_client:
        from wizardcoder.llm import create_client

        client = create_client(cfg.llm)
    failures = rejected = 0
    try:
        if own_client:
            client.preflight()  # an unreachable endpoint or unknown model fails now, naming it
        build = _request_builder(cfg, mode, client)
        requests = (build(p, i) for p, i in todo)
        bar = progress("generating samples", len(todo))
        finish = Counter()
        for index, completion in client.generate(requests):
            problem, idx = todo[index]
            bar.advance()
            if completion.error is not None:
                failures += 1
                log.warning("%s sample %d: LLM failure, left for the next run: %s", problem.task_id, idx,
                            completion.error)
                continue
            if completion.rejected is not None:  # refused for good (e.g. too long): an empty answer, kept
                rejected += 1
                log.warning("%s sample %d: the request was refused, scored as an empty completion: %s",
                            problem.task_id, idx, completion.rejected)
            raw = completion.text
            aligned = postprocess(problem, raw, mode)
            reason = completion.finish_reasons[0] if completion.finish_reasons else None
            finish[str(reason)] += 1
            samples.append({"task_id": problem.task_id, "sample_idx": idx, "mode": mode,
                            "completion": aligned.completion, "solution": aligned.solution,
                            "raw": raw, "finish_reason": reason,
                            **({"rejected": completion.rejected} if completion.rejected is not None else {})})
        bar.close()
        stats["finish_reasons"] = dict(finish)
        usage = getattr(client, "usage", None)
        if usage is not None:
            stats["llm_usage"] = usage.as_dict() if hasattr(usage, "as_dict") else dict(vars(usage))
    finally:
        if own_client:
            client.close()
    stats["llm_failures"] = failures
    stats["llm_rejected"] = rejected
    if failures:
        log.error("%d samples could not be generated (LLM infrastructure failures); run again to retry them",
                  failures)


def _request_builder(cfg: EvalConfig, mode: str, client):
    from wizardcoder.data.template import render_prompt
    from wizardcoder.llm import Request

    gen = cfg.generation
    max_stop = cfg.llm.max_stop_sequences()
    common = {"max_tokens": gen.max_tokens, "temperature": gen.temperature, "top_p": gen.top_p}

    def seed(i: int) -> int:
        return gen.seed + i

    if mode == "completion":
        def build(p: Problem, i: int) -> Request:
            stop = p.stop[:max_stop] if max_stop is not None else p.stop  # the rest are applied after
            return Request(prompt=p.prompt, stop=tuple(stop), seed=seed(i), **common)
        return build

    # instruct: local models get the prompt rendered with the trainer's template; endpoints get messages.
    template = cfg.llm.local_template()
    tokenizer = getattr(client, "tokenizer", None)

    def build(p: Problem, i: int) -> Request:
        instruction = gen.instruction.format(language=LANGUAGE_NAMES.get(p.language, p.language),
                                             prompt=p.prompt.strip())
        if template == "alpaca" or (template == "chat" and tokenizer is not None):
            return Request(prompt=render_prompt(instruction, template, tokenizer), seed=seed(i), **common)
        return Request(messages=({"role": "user", "content": instruction},), seed=seed(i), **common)
    return build


def _under(limits: TimeLimits, records: list[dict], by_id: dict[str, Problem]) -> list[dict]:
    """The results run under the time limit this run gives their problem: results.jsonl also keeps those of
    runs with other limits (asked again if the limit comes back), which must not count here."""
    return [r for r in records if r["task_id"] in by_id and r.get("time_limit") == limits[r["task_id"]]]


def _execute(cfg: EvalConfig, by_id: dict[str, Problem], sample_records: list[dict], results: JsonlLog,
             progress: Progress, stats: dict, limits: TimeLimits) -> None:
    done = {(r["task_id"], r["sample_idx"]) for r in _under(limits, results.records, by_id)}
    todo = [s for s in sample_records if s["task_id"] in by_id and (s["task_id"], s["sample_idx"]) not in done]
    stats["results_resumed"] = len(done)
    stats["programs_run"] = 0
    if todo:
        from wizardcoder.execution import open_sandbox

        infra: list[tuple[Program, Any]] = []

        def on_result(program: Program, result) -> None:
            status = getattr(result.status, "value", str(result.status))
            if status == "error":  # the sandbox broke: never a bad sample
                infra.append((program, result))
                return
            results.append({**result_record(program, result), "time_limit": limits[program.task_id]})

        def programs_for(records: Iterable[dict]) -> list[Program]:
            out = []
            for s in records:
                p = by_id[s["task_id"]]
                marker = new_marker()
                text = build_program(p, s.get("completion"), s.get("solution"), marker)
                out.append(Program(p.task_id, s["sample_idx"], p.language, text, marker))
            return out

        bar = progress("executing in the sandbox", len(todo))
        with open_sandbox(cfg.sandbox) as sandbox:
            from wizardcoder.eval.repro import sandbox_record

            stats["sandbox_backend"] = type(sandbox).__name__
            stats["sandbox"] = sandbox_record(sandbox, cfg.sandbox)
            run_programs(sandbox, programs_for(todo), limits.per_task, cfg.sandbox.memory_mb, on_result,
                         progress=lambda _r: bar.advance())
            stats["programs_run"] = len(todo)
            if infra:  # one retry for the sandbox's own failures
                log.warning("%d programs hit sandbox errors; retrying them once", len(infra))
                retry = [p for p, _ in infra]
                infra.clear()
                run_programs(sandbox, [Program(p.task_id, p.sample_idx, p.language,
                                               p.text.replace(p.marker, m), m)
                                       for p in retry for m in [new_marker()]],
                             limits.per_task, cfg.sandbox.memory_mb, on_result)
        bar.close()
        if infra:
            log.error("%d programs could not be run (sandbox errors, e.g. %s); run again to retry them",
                      len(infra), infra[0][1].reason)
        stats["sandbox_errors"] = len(infra)
    latest = {(r["task_id"], r["sample_idx"]): r["status"] for r in _under(limits, results.records, by_id)}
    stats["status_counts"] = dict(Counter(latest.values()))


def compute_metrics(cfg: EvalConfig, problems: list[Problem], result_records: list[dict],
                    n_target: dict[str, int]) -> dict[str, Any]:
    per: dict[str, dict[int, bool]] = {p.task_id: {} for p in problems}
    for r in result_records:
        if r["task_id"] in per:
            per[r["task_id"]][int(r["sample_idx"])] = bool(r["passed"])
    counts = [(len(per[p.task_id]), sum(per[p.task_id].values())) for p in problems]
    missing = sum(max(0, n_target.get(p.task_id, 0) - len(per[p.task_id])) for p in problems)
    n_min = min(n for n, _ in counts) if counts else 0
    ks = sorted(set(cfg.k))
    metrics = mean_pass_at_k(counts, ks) if n_min >= 1 else {}
    broken = KNOWN_BROKEN.get(cfg.suite.name, {})
    return {
        "suite": cfg.suite.name,
        "problems": len(problems),
        "samples_per_problem": {"min": n_min, "max": max((n for n, _ in counts), default=0)},
        "pass_at_k": metrics,
        "k_not_reported": [k for k in ks if f"pass@{k}" not in metrics],
        "complete": missing == 0 and n_min >= 1,
        "missing_results": missing,
        "passed_samples": sum(c for _, c in counts),
        "total_samples": sum(n for n, _ in counts),
        "per_problem": {p.task_id: {"n": n, "c": c, "pass_rate": (c / n if n else None)}
                        for p, (n, c) in zip(problems, counts)},
        "known_broken": {t: r for t, r in broken.items() if t in per},
    }

