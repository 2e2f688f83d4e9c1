"""The Code Evol-Instruct loop: seeds -> rounds of (evolve, eliminate, n x solve, execute, select) -> dataset.

pool = seeds. In round r every task of the pool is evolved once, by ONE method drawn by weight from
an RNG seeded with (seed, r, task id). The evolved instruction goes through the heuristic rules (and
optionally the LLM judge); the model then writes `evolve.solve_samples` solutions with tests in the
target language, every solution runs against every test set in the sandbox, and the pair most others
agree with is chosen (evolve/selection.py); its tests must also be able to fail. A task that passes
replaces its parent in the pool; any other outcome keeps the parent. After the last round, the passing
tasks (and optionally the seeds) are decontaminated, deduplicated and written as the dataset.

A round streams each task through its steps (evolve/engine.py) and appends every answer to its step's
file; memory holds the tasks in flight, not the pool, and a run killed at any instant resumes where it
stopped:

    pool/round_{r-1}.jsonl -> raw/round_r/{evolve,judge,solve,repair,exec,select}.jsonl
                           -> records.jsonl (+ pool/round_r.jsonl, rounds/round_r.done.json)

Every LLM call and program has a key (round, task id, step[, sample or turn[, test set]]); a pass skips the
keys the step files hold, so a completed call is read back, never asked again. Each step records its own
decision on its row (`drop` on evolve/judge/solve/repair rows; the verdict on the select row), so finalizing a
round only merges them, in pool order. An infrastructure failure (Completion.error, a sandbox ERROR) is never
a drop: the pass is retried, and the run stops (rerun to retry) or, with `evolve.on_infra_error: keep_parent`,
carries the parent on and counts an `infra_error`. A request the endpoint refuses for good
(Completion.rejected: HTTP 400 "context length exceeded", ...) is a completed call and the step's decision:
`drop: request_rejected`, with the refusal kept on the row.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wizardcoder.config import save_config
from wizardcoder.data.store import (
    AtomicJsonlWriter,
    RowReader,
    iter_jsonl_offsets,
    read_json,
    read_jsonl,
    truncate,
    write_json_atomic,
)
from wizardcoder.errors import UserError
from wizardcoder.evolve.config import EvolveConfig, run_fingerprint, seeds_sha256
from wizardcoder.evolve.dataset_builder import build_dataset
from wizardcoder.evolve.prompts import PromptSet, load_prompts
from wizardcoder.evolve.report import RoundStats, run_stats, write_report
from wizardcoder.evolve.resources import RunResources
from wizardcoder.evolve.rundir import RunDir
from wizardcoder.evolve.seed_loader import describe_source, load_seeds
from wizardcoder.evolve.sessions import SessionLedger
from wizardcoder.evolve.steps import (
    EVOLVE,
    EXECUTE,
    JUDGE,
    REPAIR,
    SELECT,
    SOLVE,
    ResumeState,
    RoundContext,
    iter_lines,
)
from wizardcoder.progress import Progress, no_progress
from wizardcoder.reasons import Reason, TaskVerdict
from wizardcoder.records import TaskRecord

log = logging.getLogger(__name__)

_BAR_LABELS = {EVOLVE: "evolve", JUDGE: "judge", SOLVE: "solve", REPAIR: "repair", SELECT: "execute"}


class InfraErrorStop(RuntimeError):
    """Some calls or programs hit infrastructure errors: the run stops; rerunning retries them."""


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
    from wizardcoder.runlock import run_lock  # off the CLI's start-up path

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
        self.resources = RunResources(cfg, client, sandbox)

    def close(self) -> None:
        self.resources.close()

    # -- the stage ----------------------------------------------------------------------------------
    def execute(self) -> EvolveResult:
        self._prepare_dir()
        self.ledger = SessionLedger(self.dir.sessions_path)  # this session's figures apart from the whole run's
        self._snapshot_seeds()
        if not all(self.dir.round_marker(r).exists() for r in range(1, self.cfg.evolve.rounds + 1)):
            _import_in_background("datasets")  # the dataset writer's import (seconds) overlaps the rounds
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
        if meta is not None and meta.get("fingerprint") != fp and not self.dir.holds_work():
            # another config's run that stopped before any work (its preflight failed): it gives way
            log.info("%s held no work of its config (%s): it now holds this one's", self.dir.root,
                     meta.get("fingerprint"))
            self.dir.pool_path(0).unlink(missing_ok=True)  # its seeds: this config's are loaded again
            self.dir.sessions_path.unlink(missing_ok=True)
            meta = None
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
        self._retrying(lambda: self._pass(r))
        self._finalize(r, time.monotonic() - started)
        self.ledger.save(self.resources.usage(), finished_round=r)

    def _pass(self, r: int) -> int:
        """One pass over round r (evolve/engine.py): the LLM side in this thread, the sandbox side in its own;
        returns the infrastructure errors hit (the tasks parked). The client and the sandbox are opened only
        when some task of the pool has no decision yet."""
        # imported here, not at the top: the eliminator's parsers (a fifth of a second) load only for a round
        # with work left, not with `wizardcoder.evolve` at every CLI start
        from wizardcoder.evolve.engine import RoundEngine
        from wizardcoder.evolve.sandbox_stage import SandboxStage

        resume = ResumeState.read(self.dir, r)
        pool = sum(1 for _ in iter_lines(self.dir.pool_path(r - 1)))
        if len(resume.decided) >= pool:
            return 0
        client, sandbox = self.resources.open()
        due = pool - len(resume.evolved)
        steps = (EVOLVE, JUDGE, SOLVE, SELECT) if self.cfg.evolve.judge else (EVOLVE, SOLVE, SELECT)
        if self.cfg.evolve.repair_turns:
            steps += (REPAIR,)
        bars = {step: self.progress(f"round {r}: {_BAR_LABELS[step]}", due if step == EVOLVE else None)
                for step in steps}
        ctx = RoundContext(r, self.cfg, self.dir, self.prompts, resume, bars)
        stage = SandboxStage(ctx, sandbox)
        try:
            stage.start()
            errors = RoundEngine(ctx, client, stage).run()
        finally:
            stage.stop()
            for bar in bars.values():
                bar.close()
        if stage.failure is not None:
            raise stage.failure
        return errors + stage.errors

    def _retrying(self, step: Callable[[], int]) -> None:
        for attempt in range(self.cfg.evolve.infra_retries + 1):
            errors = step()
            if errors == 0:
                return
            log.warning("%d infrastructure error(s)%s", errors,
                        "; retrying them" if attempt < self.cfg.evolve.infra_retries else "")

    # -- the round's outcome ---------------------------------------------------------------------------
    def _finalize(self, r: int, seconds: float) -> None:
        """One record per task of the pool, in pool order, from the decision its steps recorded (a drop
        on an evolve/judge row, else its select row); survivors replace their parents in pool/round_r.jsonl."""
        marker = self.dir.finalize_marker(r)
        state = read_json(marker)
        records_path = self.dir.records_path
        if state is not None:  # a previous finalize was cut short: undo its appends
            truncate(records_path, state["records_offset"])
        else:
            offset = records_path.stat().st_size if records_path.exists() else 0
            write_json_atomic(marker, {"records_offset": offset})

        stats = RoundStats(r, self.cfg)
        steps = [EVOLVE, JUDGE, SOLVE, REPAIR, EXECUTE, SELECT]
        paths = [self.dir.raw_path(r, step) for step in steps]
        decision: dict[str, tuple[int, int]] = {}  # task id -> (offset, file) of the row that decided it
        for index, step in enumerate(steps):
            for offset, row in iter_jsonl_offsets(paths[index]):
                stats.row(step, row)
                if step in (EVOLVE, JUDGE) and row.get("drop") and not row.get("error") or step == SELECT:
                    decision[row["task_id"]] = (offset, index)

        pool = AtomicJsonlWriter(self.dir.pool_path(r))
        records = self.dir.store(records_path).open()
        missing = 0
        try:
            with RowReader(*paths) as rows:
                for parent in read_jsonl(self.dir.pool_path(r - 1)):
                    stats.pool_in += 1
                    place = decision.get(parent["id"])
                    if place is None:
                        missing += 1
                        if self.cfg.evolve.on_infra_error == "stop":
                            continue
                        row = {"verdict": TaskVerdict.INFRA_ERROR, "reason": Reason.INFRA_ERROR, "method": None}
                    else:
                        row = rows.at(*place)
                    record = self._record(r, parent, row)
                    as_dict = record.to_dict()
                    records.append(as_dict)
                    pool.write(as_dict if record.verdict == TaskVerdict.PASSED else parent)
                    stats.add(record, parent)
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

    def _record(self, r: int, parent: dict[str, Any], row: dict[str, Any]) -> TaskRecord:
        verdict = row.get("verdict") or TaskVerdict.DROPPED  # an evolve/judge drop has no verdict field
        return TaskRecord(
            id=f"{parent['seed_id']}.r{r}", seed_id=parent["seed_id"], seed_index=parent["seed_index"],
            round=r, method=row.get("method"), parent_id=parent["id"],
            instruction=row.get("instruction") or parent["instruction"],
            solution=row.get("solution") or "", tests=row.get("tests") or "", entry_point=row.get("entry_point"),
            language=self.lang, verdict=verdict, reason=row.get("reason") or row.get("drop") or verdict,
            meta=parent.get("meta") or {}, pass_rate=row.get("pass_rate"), n_candidates=row.get("n_candidates"),
            repaired=bool(row.get("repaired")), repair_turns=row.get("repair_turns", 0),
            reason_before_repair=row.get("reason_before_repair"),
        )

    def _write_stats(self, dataset: dict[str, Any]) -> dict[str, Any]:
        stats = run_stats(self.dir, self.cfg, dataset)
        stats["llm"]["usage"] = self.resources.usage()  # this session's, as "this_session.llm" (evolve/sessions.py)
        stats.update(self.ledger.figures(stats["llm"]["usage"], stats["totals"]))
        write_json_atomic(self.dir.stats_path, stats)
        return stats


def _import_in_background(module: str) -> None:
    def load() -> None:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - the real import, later, reports it
            log.debug("background import of %s failed: %s", module, exc)

    threading.Thread(target=load, name=f"wizardcoder-import-{module}", daemon=True).start()
