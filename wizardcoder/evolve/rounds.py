"""The Code Evol-Instruct loop: seeds -> rounds of (evolve, eliminate, solve, execute) -> dataset.

pool = seeds. In round r every task of the pool is evolved once, by ONE method drawn by weight from
an RNG seeded with (seed, r, task id). The evolved instruction goes through the heuristic rules (and
optionally the LLM judge); the model then writes a solution and tests in the target language, which
run in the sandbox. A task whose code passes replaces its parent in the pool; any other outcome keeps
the parent. After the last round, the passing tasks (and optionally the seeds) are decontaminated,
deduplicated and written as the dataset.

Each round runs as steps over files, so memory stays flat however many tasks there are, and a run
killed at any instant resumes where it stopped:

    pool/round_{r-1}.jsonl -> raw/round_r/evolve.jsonl -> [judge.jsonl] -> solve.jsonl
                           -> verdicts.jsonl -> records.jsonl (+ pool/round_r.jsonl, rounds/round_r.done.json)

Every LLM call has a key (round, task id, step); a step's pass skips the keys its file already holds,
so a completed call is read back, never asked again. Each step records its own decision on its row
(`drop`: the reason it filtered the task out, with what it parsed), so finalizing a round only merges
those decisions into one record per task; it never re-judges. An infrastructure failure (Completion.error,
a sandbox ERROR) is never a drop: the step is retried, and the run stops (rerun to retry) or, with
`evolve.on_infra_error: keep_parent`, carries the parent on and counts an `infra_error`. A request
the endpoint refuses for good (Completion.rejected: HTTP 400 "context length exceeded", ...) is a
completed call and the step's decision: `drop: request_rejected`, with the refusal kept on the row.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wizardcoder.config import save_config
from wizardcoder.data.store import (
    AtomicJsonlWriter,
    iter_jsonl_offsets,
    read_at,
    read_json,
    read_jsonl,
    truncate,
    write_json_atomic,
)
from wizardcoder.errors import UserError
from wizardcoder.evolve.config import EvolveConfig, run_fingerprint, seeds_sha256
from wizardcoder.evolve.dataset import build_dataset
from wizardcoder.evolve.methods import BY_NAME, choose_method, request_seed
from wizardcoder.evolve.parsing import ParsedSolution, parse_evolved, parse_solution
from wizardcoder.evolve.prompts import PromptSet, load_prompts
from wizardcoder.evolve.report import RoundStats, run_stats, write_report
from wizardcoder.evolve.rundir import RunDir
from wizardcoder.evolve.seeds import describe_source, load_seeds
from wizardcoder.llm.base import REQUEST_REJECTED
from wizardcoder.progress import Progress, no_progress
from wizardcoder.records import DROPPED, INFRA_ERROR, PASSED, TaskRecord

log = logging.getLogger(__name__)

EVOLVE, JUDGE, SOLVE, EXECUTE = "evolve", "judge", "solve", "exec"


class InfraErrorStop(RuntimeError):
    """Some calls or programs hit infrastructure errors: the run stops; rerunning retries them."""


def _survived(row: dict[str, Any]) -> bool:
    """A step's row that carries its task on: answered, and not filtered out by the step."""
    return not row.get("error") and not row.get("drop")


@dataclass
class EvolveResult:
    run_dir: Path
    stats: dict[str, Any]
    dataset: dict[str, Any] = field(default_factory=dict)


def default_run_dir(cfg: EvolveConfig) -> Path:
    if cfg.output.dir:
        return Path(cfg.output.dir)
    return Path(cfg.output.root) / run_fingerprint(cfg)


def run_evolve(cfg: EvolveConfig, *, client=None, sandbox=None, progress: Progress | None = None
               ) -> EvolveResult:
    """Run (or resume) the evolve stage for `cfg`; returns the run directory and its stats.

    `client` / `sandbox` are used when given (tests); otherwise they are created from `cfg.llm` /
    `cfg.sandbox`, only if some work is left, and closed at the end.
    """
    from wizardcoder.runlock import run_lock

    run = _Run(cfg, client=client, sandbox=sandbox, progress=progress or no_progress)
    try:
        with run_lock(run.dir.root, "evolve"):  # a second process on this directory fails at once
            return run.execute()
    finally:
        run.close()


class _Run:
    def __init__(self, cfg: EvolveConfig, client, sandbox, progress: Progress):
        self.cfg = cfg
        self.lang = cfg.evolve.lang
        self.dir = RunDir(default_run_dir(cfg), fsync=cfg.output.fsync)
        self.prompts: PromptSet = load_prompts(self.lang, cfg.evolve.prompts)
        self.progress = progress
        self._client, self._own_client = client, client is None
        self._sandbox, self._own_sandbox = sandbox, sandbox is None

    # -- resources, opened on first use -----------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            from wizardcoder.llm import create_client

            self._client = create_client(self.cfg.llm)
            self._client.preflight()  # an unreachable endpoint or unknown model fails now, naming it
        return self._client

    @property
    def sandbox(self):
        if self._sandbox is None:
            from wizardcoder.execution import open_sandbox

            self._sandbox = open_sandbox(self.cfg.sandbox)
        return self._sandbox

    def close(self) -> None:
        if self._own_client and self._client is not None:
            self._client.close()
        if self._own_sandbox and self._sandbox is not None:
            self._sandbox.close()

    # -- the stage ----------------------------------------------------------------------------------
    def execute(self) -> EvolveResult:
        self._prepare_dir()
        self._snapshot_seeds()
        for r in range(1, self.cfg.evolve.rounds + 1):
            if self.dir.round_marker(r).exists():
                log.info("round %d: already done", r)
                continue
            self._round(r)
        dataset = build_dataset(self.dir, self.cfg, self.progress)
        stats = self._write_stats(dataset)
        if self.cfg.output.report:
            write_report(self.dir, stats, self.cfg)
        return EvolveResult(self.dir.root, stats, dataset)

    def _prepare_dir(self) -> None:
        fp = run_fingerprint(self.cfg)
        meta_path = self.dir.root / "run.json"
        meta = read_json(meta_path)
        seeds_now = seeds_sha256(self.cfg)
        if meta is not None and meta.get("fingerprint") != fp and meta.get("seeds_sha256", seeds_now) != seeds_now:
            raise UserError(
                f"{self.dir.root} was started from other seeds: {describe_source(self.cfg.seeds)} changed since "
                f"(sha256 {meta['seeds_sha256'][:12]} then, {(seeds_now or '?')[:12]} now), and its pool still "
                "holds the old ones. Drop --output to start a new run for the new seeds (its own directory), or "
                "delete that directory to start over.")
        if meta is not None and meta.get("fingerprint") != fp:
            raise UserError(
                f"{self.dir.root} holds a run with a different config (fingerprint {meta.get('fingerprint')} "
                f"!= {fp}: seeds, prompts, model or elimination knobs differ). Use another --output, "
                "or delete that directory to start over.")
        self.dir.root.mkdir(parents=True, exist_ok=True)
        if meta is None:
            write_json_atomic(meta_path, {"fingerprint": fp, "lang": self.lang,
                                          "seeds": describe_source(self.cfg.seeds), "seeds_sha256": seeds_now})
        else:
            log.info("resuming the run in %s", self.dir.root)
        save_config(self.cfg, self.dir.config_path)

    def _snapshot_seeds(self) -> None:
        """Copy the seeds into pool/round_000.jsonl once: a resumed run uses exactly these."""
        path = self.dir.pool_path(0)
        if path.exists():
            return
        writer = AtomicJsonlWriter(path)
        bar = self.progress("loading seeds", self.cfg.seeds.limit)
        try:
            for seed in load_seeds(self.cfg.seeds, self.lang):
                writer.write(seed.to_record(self.lang).to_dict())
                bar.advance()
        except BaseException:
            writer.abort()
            raise
        finally:
            bar.close()
        writer.commit()
        log.info("seeds: %d tasks from %s", writer.count, describe_source(self.cfg.seeds))

    # -- one round ------------------------------------------------------------------------------------
    def _round(self, r: int) -> None:
        started = time.monotonic()
        log.info("round %d/%d", r, self.cfg.evolve.rounds)
        self._retrying(lambda: self._evolve_pass(r))
        if self.cfg.evolve.judge:
            self._retrying(lambda: self._judge_pass(r))
        self._retrying(lambda: self._solve_pass(r))
        self._retrying(lambda: self._execute_pass(r))
        self._finalize(r, time.monotonic() - started)

    def _retrying(self, step: Callable[[], int]) -> None:
        for attempt in range(self.cfg.evolve.infra_retries + 1):
            errors = step()
            if errors == 0:
                return
            log.warning("%d infrastructure error(s)%s", errors,
                        "; retrying them" if attempt < self.cfg.evolve.infra_retries else "")

    def _key(self, r: int, task_id: str, step: str) -> str:
        return f"r{r:03d}/{task_id}/{step}"

    def _request(self, prompt: str, key: str, max_tokens: int):
        from wizardcoder.llm import Request

        # An endpoint gets a sampling seed per call (it may honour it: a re-asked call then repeats).
        # A local model batches requests of equal sampling settings, so they share the run's seed.
        per_call = self.cfg.llm.seeds_each_request()
        seed = request_seed(self.cfg.evolve.seed, key) if per_call else self.cfg.evolve.seed
        return Request.from_text(prompt, api=self.cfg.llm.api, max_tokens=max_tokens,
                                 temperature=self.cfg.evolve.temperature, seed=seed)

    def _done(self, path: Path) -> set[str]:
        return {row["key"] for row in read_jsonl(path) if not row.get("error")}

    def _carry(self, r: int, step: str, row: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """A step's row: its key and the fields carried from the task's previous step."""
        return {"key": self._key(r, row["task_id"], step), "round": r, "task_id": row["task_id"],
                "method": row["method"], "parent": row["parent"], **fields}

    def _pending(self, source: Path, r: int, step: str, keep: Callable[[dict[str, Any]], bool] = _survived,
                 id_field: str = "task_id") -> tuple[int, Iterator[dict[str, Any]]]:
        """(how many, the rows) of `source` still due for `step`: those `keep` accepts whose key the
        step's file lacks. One read finds their offsets (the progress total); the rows are read back
        by offset as they are sent, so memory holds an integer per task, not the tasks."""
        done = self._done(self.dir.raw_path(r, step)) if step != EXECUTE else self._executed(r)
        offsets = [(0, offset) for offset, row in iter_jsonl_offsets(source)
                   if keep(row) and self._key(r, row[id_field], step) not in done]
        return len(offsets), read_at([source], offsets)

    def _evolve_pass(self, r: int) -> int:
        weights = self.cfg.evolve.methods
        total, parents = self._pending(self.dir.pool_path(r - 1), r, EVOLVE, keep=lambda _: True, id_field="id")

        def items() -> Iterator[tuple[Any, dict[str, Any]]]:
            for parent in parents:
                method = choose_method(weights, self.cfg.evolve.seed, r, parent["id"])
                prompt = self.prompts.evolve_prompt(method, BY_NAME[method].kind, parent["instruction"])
                row = self._carry(r, EVOLVE, {"task_id": parent["id"], "method": method, "parent": parent})
                yield self._request(prompt, row["key"], self.cfg.evolve.evolve_max_tokens), row

        return self._llm_pass(items(), EVOLVE, r, total, self._decide_evolved)

    def _decide_evolved(self, row: dict[str, Any]) -> None:
        from wizardcoder.eliminate.rules import heuristic_reason

        row["instruction"] = parse_evolved(row["text"])
        row["drop"] = heuristic_reason(row["parent"]["instruction"], row["instruction"], self.cfg.eliminate)

    def _judge_pass(self, r: int) -> int:
        from wizardcoder.eliminate.judge import equivalence_request

        total, evolved = self._pending(self.dir.raw_path(r, EVOLVE), r, JUDGE)

        def items():
            for row in evolved:
                out = self._carry(r, JUDGE, row, instruction=row["instruction"])
                yield equivalence_request(row["parent"]["instruction"], row["instruction"]), out

        return self._llm_pass(items(), JUDGE, r, total, self._decide_judged)

    @staticmethod
    def _decide_judged(row: dict[str, Any]) -> None:
        from wizardcoder.eliminate.judge import parse_equivalence

        row["drop"] = "no_information_gain" if parse_equivalence(row["text"]) else None

    def _solve_pass(self, r: int) -> int:
        source = self.dir.raw_path(r, JUDGE if self.cfg.evolve.judge else EVOLVE)
        total, to_solve = self._pending(source, r, SOLVE)

        def items():
            for row in to_solve:
                out = self._carry(r, SOLVE, row, instruction=row["instruction"])
                prompt = self.prompts.solve_prompt(row["instruction"])
                yield self._request(prompt, out["key"], self.cfg.evolve.solve_max_tokens), out

        return self._llm_pass(items(), SOLVE, r, total, self._decide_solved)

    def _decide_solved(self, row: dict[str, Any]) -> None:
        parsed = parse_solution(row["text"], self.lang)
        if isinstance(parsed, ParsedSolution):
            row.update(solution=parsed.solution, tests=parsed.tests, entry_point=parsed.entry_point,
                       drop=None)
        else:
            row["drop"] = parsed

    def _llm_pass(self, items: Iterable[tuple[Any, dict[str, Any]]], step: str, r: int, total: int | None,
                  decide: Callable[[dict[str, Any]], None]) -> int:
        """Send the requests, append each raw output (with its key, carried fields and the step's
        decision: `drop` holds the reason when the step filters the task out) as it arrives."""
        pending: dict[int, dict[str, Any]] = {}
        label = f"round {r}: {step}"

        def requests():
            for i, (request, row) in enumerate(items):
                pending[i] = row
                yield request

        errors = 0
        bar = self.progress(label, total)
        store = self.dir.store(self.dir.raw_path(r, step)).open()
        try:
            for index, completion in self.client.generate(requests()):
                row = pending.pop(index)
                row.update(
                    text=completion.text if completion.ok else None,
                    finish_reason=(completion.finish_reasons[0] if completion.finish_reasons else None),
                    prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                    error=completion.error,
                )
                if completion.error:
                    errors += 1
                    log.warning("%s: %s: infrastructure error: %s", label, row["key"], completion.error)
                elif completion.rejected is not None:  # refused for good: the step's verdict, never asked again
                    row.update(rejected=completion.rejected, drop=REQUEST_REJECTED)
                    row.setdefault("instruction", row["parent"]["instruction"])
                    log.warning("%s: %s: request refused: %s", label, row["key"], completion.rejected)
                else:
                    decide(row)
                store.append(row)
                bar.advance()
        finally:
            store.close()
            bar.close()
        return errors

    def _executed(self, r: int) -> set[str]:
        return {row["key"] for row in read_jsonl(self.dir.verdicts_path)
                if row.get("round") == r and row.get("reason") != INFRA_ERROR}

    def _execute_pass(self, r: int) -> int:
        from wizardcoder.eliminate.verify import ExecutionCheck, verify

        total, solved = self._pending(self.dir.raw_path(r, SOLVE), r, EXECUTE)
        rows: deque[dict[str, Any]] = deque()

        def checks():
            for row in solved:
                out = self._carry(r, EXECUTE, row, instruction=row["instruction"], solution=row["solution"],
                                  tests=row["tests"], entry_point=row["entry_point"])
                rows.append(out)
                yield ExecutionCheck(key=out["key"], language=self.lang, solution=row["solution"],
                                     tests=row["tests"], entry_point=row["entry_point"])

        errors = 0
        bar = self.progress(f"round {r}: execute", total)
        store = self.dir.store(self.dir.verdicts_path).open()
        try:
            for verdict in verify(self.sandbox, checks(), self.cfg.eliminate, limits=self.cfg.sandbox):
                row = rows.popleft()
                if verdict.key != row["key"]:
                    raise RuntimeError(f"verify() returned {verdict.key!r} where {row['key']!r} was due")
                status = getattr(verdict.status, "value", verdict.status)
                # one line per verdict, with the task it judged (finalize streams it; no second file to tear)
                store.append({"key": row["key"], "round": r, "task_id": row["task_id"], "ok": bool(verdict.ok),
                              "reason": verdict.reason, "status": None if status is None else str(status),
                              "duration": verdict.duration, "stdout_tail": verdict.stdout_tail,
                              "stderr_tail": verdict.stderr_tail, **{k: v for k, v in row.items() if k not in
                                                                     ("key", "round", "task_id")}})
                if verdict.reason == INFRA_ERROR:
                    errors += 1
                    log.warning("round %d: %s: sandbox infrastructure error: %s", r, row["key"],
                                (verdict.stderr_tail or "")[-300:])
                bar.advance()
        finally:
            store.close()
            bar.close()
        return errors

    # -- the round's outcome ---------------------------------------------------------------------------
    def _finalize(self, r: int, seconds: float) -> None:
        """One record per task of the pool, merged from the decisions the steps recorded; survivors
        replace their parents in pool/round_r.jsonl."""
        marker = self.dir.finalize_marker(r)
        state = read_json(marker)
        records_path = self.dir.records_path
        if state is not None:  # a previous finalize was cut short: undo its appends
            truncate(records_path, state["records_offset"])
        else:
            offset = records_path.stat().st_size if records_path.exists() else 0
            write_json_atomic(marker, {"records_offset": offset})

        stats = RoundStats(r, self.cfg)
        pool = AtomicJsonlWriter(self.dir.pool_path(r))
        records = self.dir.store(records_path).open()
        outcome: set[str] = set()

        def emit(row: dict[str, Any], verdict: str, reason: str, instruction: str,
                 solution: str = "", tests: str = "", entry_point: str | None = None) -> None:
            parent = row["parent"]
            if parent["id"] in outcome:
                return
            outcome.add(parent["id"])
            record = TaskRecord(
                id=f"{parent['seed_id']}.r{r}", seed_id=parent["seed_id"], seed_index=parent["seed_index"],
                round=r, method=row.get("method"), parent_id=parent["id"], instruction=instruction,
                solution=solution, tests=tests, entry_point=entry_point, language=self.lang,
                verdict=verdict, reason=reason, meta=parent.get("meta") or {},
            )
            records.append(record.to_dict())
            pool.write(record.to_dict() if verdict == PASSED else parent)
            stats.add(record, parent)

        try:
            for step in (EVOLVE, JUDGE, SOLVE) if self.cfg.evolve.judge else (EVOLVE, SOLVE):
                for row in read_jsonl(self.dir.raw_path(r, step)):  # each step recorded its decision
                    stats.call(row)
                    if row.get("error"):
                        continue
                    if step == EVOLVE and not row.get("rejected"):
                        stats.evolved(row)
                    if row.get("drop"):
                        emit(row, DROPPED, row["drop"], row["instruction"])
            for row in read_jsonl(self.dir.verdicts_path):
                if row.get("round") != r or row["reason"] == INFRA_ERROR:
                    continue
                emit(row, PASSED if row["ok"] else DROPPED, row["reason"], row["instruction"],
                     row["solution"], row["tests"], row["entry_point"])
            missing = 0
            for parent in read_jsonl(self.dir.pool_path(r - 1)):
                stats.pool_in += 1
                if parent["id"] in outcome:
                    continue
                missing += 1
                if self.cfg.evolve.on_infra_error == "stop":
                    continue
                emit({"parent": parent, "method": None}, INFRA_ERROR, INFRA_ERROR, parent["instruction"])
            if missing and self.cfg.evolve.on_infra_error == "stop":
                raise InfraErrorStop(
                    f"round {r}: {missing} task(s) hit infrastructure errors (LLM endpoint or sandbox; see the "
                    f"log and {self.dir.root}/raw/). Nothing is lost: run the same command again to retry them, "
                    "or set evolve.on_infra_error=keep_parent to carry their parents on.")
        except BaseException:
            pool.abort()
            records.close()
            raise
        records.close()
        pool.commit()
        stats.seconds = seconds
        write_json_atomic(self.dir.round_marker(r), stats.as_dict())
        marker.unlink(missing_ok=True)
        s = stats.as_dict()
        log.info("round %d: %d evolved, %d passed, dropped %s", r, s["evolved"], s["passed"], dict(s["dropped"]))

    def _client_usage(self) -> dict[str, Any] | None:
        """This invocation's client counters (requests, retries apart, refusals, per endpoint); None if no
        call was made. Not summed over resumed runs: the rounds' counters are."""
        usage = getattr(self._client, "usage", None) if self._client is not None else None
        return usage.as_dict() if hasattr(usage, "as_dict") else None

    def _write_stats(self, dataset: dict[str, Any]) -> dict[str, Any]:
        stats = run_stats(self.dir, self.cfg, dataset)
        stats["llm"]["usage"] = self._client_usage()
        write_json_atomic(self.dir.stats_path, stats)
        return stats
