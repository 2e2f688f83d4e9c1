"""Generation: samples.jsonl, one line per (task_id, sample_idx), made by the model or imported from a file.

Appended and fsync'ed per record; a re-run skips every (task_id, sample_idx) already there. An LLM
infrastructure failure leaves its sample out (retried by the next run); a refusal is kept as an empty answer.
Runs alone (`generate(cfg, problems, run_dir)`, or `wizardcoder eval ... --generate-only`): scoring reads the file.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wizardcoder import languages
from wizardcoder.content_id import file_sha256
from wizardcoder.data.jsonl import iter_jsonl
from wizardcoder.data.store import JsonlLog
from wizardcoder.data.template import render_prompt
from wizardcoder.errors import UserError
from wizardcoder.eval.config import EvalConfig, resolve_mode
from wizardcoder.eval.postprocess import postprocess, python_reply
from wizardcoder.eval.problems import Problem
from wizardcoder.eval.sanitize import is_plain_code
from wizardcoder.llm import Request, create_client
from wizardcoder.progress import Progress, no_progress

log = logging.getLogger(__name__)

@dataclass
class GenerationStats:
    """What the generation step did; unset counters are left out of stats.json."""

    expected: dict[str, int] = field(default_factory=dict)  # samples each problem should have (for pass@k)
    samples_imported: int | None = None
    samples_resumed: int | None = None
    samples_requested: int | None = None
    mode: str | None = None
    finish_reasons: dict[str, int] | None = None
    llm_usage: dict[str, Any] | None = None
    llm_failures: int | None = None
    llm_rejected: int | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name not in ("expected", "seconds") and getattr(self, f.name) is not None}
        return {**out, "generation_seconds": round(self.seconds, 3)}


def generate(cfg: EvalConfig, problems: list[Problem], run_dir: Path, progress: Progress = no_progress,
             client=None) -> GenerationStats:
    """Append the samples still missing to `run_dir/samples.jsonl`: asked of the model, or read from
    `generation.samples_file`."""
    started = time.monotonic()
    stats = GenerationStats()
    samples = JsonlLog(run_dir / "samples.jsonl")
    try:
        if cfg.generation.samples_file:
            stats.expected = _import_samples(cfg, {p.task_id: p for p in problems}, samples, stats)
        else:
            stats.expected = expected_samples(cfg, problems)
            _ask_the_model(cfg, problems, samples, progress, stats, client)
    finally:
        samples.close()
    stats.seconds = time.monotonic() - started
    return stats


def expected_samples(cfg: EvalConfig, problems: list[Problem]) -> dict[str, int]:
    """How many samples each problem should have: generation.n, or as many as the imported file gives it."""
    if not cfg.generation.samples_file:
        return {p.task_id: cfg.generation.n for p in problems}
    counts = Counter(rec.get("task_id") for _, rec in iter_jsonl(Path(cfg.generation.samples_file)))
    return {p.task_id: counts[p.task_id] for p in problems}


def samples_digest(path: str | Path) -> str:
    """What an imported samples file holds (it keys the run directory and the reproducibility record)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--samples {path}: no such file")
    return file_sha256(path)[:16]  # streamed, and read once per run however often it is asked


def _import_samples(cfg: EvalConfig, by_id: dict[str, Problem], samples: JsonlLog,
                   stats: GenerationStats) -> dict[str, int]:
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
        solution, raw, no_code = rec.get("solution"), None, False
        problem = by_id[task_id]
        # a raw chat reply: its code, found with ast
        if solution is not None and problem.language == "python" and not is_plain_code(solution):
            aligned = python_reply(problem, solution)
            raw, no_code = solution, aligned.no_code
            solution = aligned.solution if aligned.solution is not None else problem.prompt + (aligned.completion or "")
        samples.append({"task_id": task_id, "sample_idx": idx, "source": str(path),
                        "completion": None if solution is not None else rec["completion"],
                        "solution": solution, "raw": raw, **({"no_code": True} if no_code else {})})
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
    stats.samples_imported = imported
    return {t: counts[t] for t in by_id}


def _ask_the_model(cfg: EvalConfig, problems: list[Problem], samples: JsonlLog, progress: Progress,
                     stats: GenerationStats, client=None) -> None:
    done = {(r["task_id"], r["sample_idx"]) for r in samples.records}
    todo = [(p, i) for p in problems for i in range(cfg.generation.n) if (p.task_id, i) not in done]
    stats.samples_resumed = len(done)
    stats.samples_requested = len(todo)
    if not todo:
        return
    if cfg.generation.n > 1 and cfg.generation.temperature == 0:
        log.warning("n=%d samples at temperature 0 are (nearly) identical: sample with temperature > 0",
                    cfg.generation.n)
    mode = resolve_mode(cfg)
    stats.mode = mode
    own_client = client is None
    if own_client:
        client = create_client(cfg.llm)
    failures = rejected = 0
    try:
        if own_client:
            client.preflight()  # an unreachable endpoint or unknown model fails now, naming it
        build = request_builder(cfg, mode, client)
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
                            **({"no_code": True} if aligned.no_code else {}),
                            "completion": aligned.completion, "solution": aligned.solution,
                            "raw": raw, "finish_reason": reason,
                            **({"rejected": completion.rejected} if completion.rejected is not None else {})})
        bar.close()
        stats.finish_reasons = dict(finish)
        usage = getattr(client, "usage", None)
        if usage is not None:
            stats.llm_usage = usage.as_dict() if hasattr(usage, "as_dict") else dict(vars(usage))
    finally:
        if own_client:
            client.close()
    stats.llm_failures = failures
    stats.llm_rejected = rejected
    if failures:
        log.error("%d samples could not be generated (LLM infrastructure failures); run again to retry them",
                  failures)


def request_builder(cfg: EvalConfig, mode: str, client):
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
        instruction = gen.instruction.format(language=languages.get(p.language).DISPLAY_NAME,
                                             prompt=p.prompt.strip())
        if template == "alpaca" or (template == "chat" and tokenizer is not None):
            return Request(prompt=render_prompt(instruction, template, tokenizer), seed=seed(i), **common)
        return Request(messages=({"role": "user", "content": instruction},), seed=seed(i), **common)
    return build
