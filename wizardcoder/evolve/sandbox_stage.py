"""The sandbox side of a round: each task's n x n programs run in a thread of their own (while the LLM
answers other tasks), then its (solution, tests) pair is selected and its decision written.

Every program's verdict goes to raw/round_NNN/exec.jsonl keyed (round, task, exec, solution, tests);
identical programs run once (their twins get the same verdict, 0 s). When a task's verdicts are all in,
select.jsonl gets its decision (evolve/selection.py); a sandbox ERROR parks the task for the retry pass.

With repair turns on (`evolve.repair_turns`), a task none of whose candidates passed is handed back to the
LLM side instead (`returns`, with `Task.repair_due` set: evolve/repair.py decides) and its job waits here;
the repaired answer comes back as one more candidate, whose programs run (its solution against every original
test set; with `evolve.repair_tests` also its tests against every solution) before the task is selected again.
Every task handed in is handed back on `returns` once it is decided, parked or due a repair, so the LLM side
knows when no follow-up can come any more.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sandbox import Sandbox, Status
from wizardcoder.data.store import RowReader
from wizardcoder.eliminate.checks import Verdict
from wizardcoder.eliminate.verify import FLUSH, ExecutionCheck, verify
from wizardcoder.evolve.repair import next_repair
from wizardcoder.evolve.selection import choose, failure_reason
from wizardcoder.evolve.steps import EXECUTE, SELECT, RoundContext, Task, task_key
from wizardcoder.languages import find_entry_point
from wizardcoder.reasons import Reason, TaskVerdict

log = logging.getLogger(__name__)

_STREAM_CHUNK = 32  # checks per sandbox batch while streaming: the sandbox starts before a big batch fills
_EXEC_BACKLOG = 256  # tasks waiting for the sandbox before the LLM side waits for it (bounded memory)
# repair turns on: checks handed over wait this long for more before they run as a short batch, since the LLM
# side may be waiting for their task to come back
_FLUSH_AFTER = 0.2


@dataclass
class _Job:
    """A task whose n answers are in: its (solution, tests) programs, run and then selected."""

    task: Task
    verdicts: dict[tuple[int, int], dict[str, Any]]  # (solution, tests) -> verdict fields (resumed ones too)
    waiting: set[str] = field(default_factory=set)  # keys of checks in the sandbox
    results: dict[str, Any] = field(default_factory=dict)  # key -> its verdict, for twins enumerated later
    enumerated: bool = False  # all its checks were handed to the sandbox (verdicts may come back before)
    duplicates: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    infra: bool = False


class SandboxStage:
    """The sandbox side of one pass over round `ctx.r`: runs the programs of each `submit`ted task in
    `sandbox` (opened by the caller), in a thread of its own, and writes the task's selection. `start()`
    before the first task, `stop()` after the last; a failure of its thread is raised by the next `submit`,
    and kept in `failure` for the caller to raise after `stop()`."""

    def __init__(self, ctx: RoundContext, sandbox: Sandbox):
        self.ctx, self.sandbox = ctx, sandbox
        self.r, self.cfg, self.lang, self.dir = ctx.r, ctx.cfg, ctx.cfg.evolve.lang, ctx.run_dir
        self.n = ctx.cfg.evolve.solve_samples
        self.errors = 0  # tasks parked by a sandbox ERROR
        self.failure: BaseException | None = None
        self._exec_queue: queue.Queue = queue.Queue(maxsize=_EXEC_BACKLOG)
        self._exec_thread: threading.Thread | None = None
        # tasks handed back to the LLM side (repair turns on; unbounded: the LLM side may be waiting on a full
        # _exec_queue), and the jobs of those due a repair, kept for their answer (this stage's thread only)
        self.returns: queue.SimpleQueue | None = queue.SimpleQueue() if ctx.cfg.evolve.repair_turns else None
        self._awaiting: dict[str, _Job] = {}

    def submit(self, task: Task) -> None:
        while True:
            if self.failure is not None:
                raise self.failure
            try:
                self._exec_queue.put(task, timeout=1.0)
                return
            except queue.Full:
                continue

    def start(self) -> None:
        self.exec_store = self.dir.store(self.dir.raw_path(self.r, EXECUTE)).open()
        self.select_store = self.dir.store(self.dir.raw_path(self.r, SELECT)).open()
        self._exec_thread = threading.Thread(target=self._exec_main, name="wizardcoder-evolve-sandbox",
                                             daemon=True)
        self._exec_thread.start()

    def stop(self) -> None:
        if self._exec_thread is None:
            return
        while self._exec_thread.is_alive():
            try:
                self._exec_queue.put(None, timeout=1.0)
                break
            except queue.Full:
                continue
        self._exec_thread.join()
        self.exec_store.close()
        self.select_store.close()

    def _exec_main(self) -> None:
        try:
            cfg = dataclasses.replace(self.cfg.eliminate,
                                      chunk_size=min(self.cfg.eliminate.chunk_size, _STREAM_CHUNK))
            by_key: dict[str, _Job] = {}
            for verdict in verify(self.sandbox, self._checks(by_key), cfg, limits=self.cfg.sandbox):
                job = by_key.pop(verdict.key)
                self._record_verdict(job, verdict)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            self.failure = exc
            while True:  # unblock a producer waiting on a full queue
                try:
                    self._exec_queue.get_nowait()
                except queue.Empty:
                    break

    def _checks(self, by_key: dict[str, _Job]) -> Iterator[Any]:
        """The programs of each submitted task: every parsed solution with every parsed test set,
        identical programs once; a task with nothing left to run is selected at once."""
        unflushed = False  # checks handed over whose verdicts may wait for a batch to fill
        while True:
            if unflushed and self.returns is not None:
                try:
                    task = self._exec_queue.get(timeout=_FLUSH_AFTER)
                except queue.Empty:
                    unflushed = False
                    yield FLUSH
                    continue
            else:
                task = self._exec_queue.get()
            if task is None:
                return
            job = self._awaiting.pop(task.id, None)  # back with a repaired answer: its verdicts so far
            if job is None:
                job = _Job(task, self._resumed_verdicts(task.id))
            job.enumerated = False
            solutions, test_sets = task.solutions(self.n), task.test_sets(self.n)
            programs: dict[tuple[str, str], str] = {}
            for (i, j), row in job.verdicts.items():  # a verdict on hand also stands for its twins not yet on file
                if i in solutions and j in test_sets:
                    key = programs.setdefault((solutions[i], test_sets[j]), row["key"])
                    if key not in job.results:
                        job.results[key] = _resumed_verdict(row)
            for i in sorted(solutions):
                for j in sorted(test_sets):
                    if (i, j) in job.verdicts:
                        continue
                    sol, tests = solutions[i], test_sets[j]
                    key = programs.get((sol, tests))
                    if key is not None:  # a twin of a program already handed over: its verdict, not a run
                        if key in job.results:
                            self._record_pairs(job, job.results[key], [(i, j)], ran=False)
                        else:
                            job.duplicates[key].append((i, j))
                        continue
                    key = programs[(sol, tests)] = task_key(self.r, task.id, EXECUTE, i, j)
                    job.duplicates[key] = [(i, j)]
                    job.waiting.add(key)
                    by_key[key] = job
                    unflushed = True
                    yield ExecutionCheck(key=key, language=self.lang, solution=sol, tests=tests,
                                         entry_point=find_entry_point(sol, tests, self.lang))
            job.enumerated = True
            self._maybe_done(job)

    def _maybe_done(self, job: _Job) -> None:
        """Select a task once all its checks were handed over and all their verdicts are in (a task's
        checks can span sandbox batches, whose verdicts come back before its last checks are made)."""
        if not job.enumerated or job.waiting:
            return
        if job.infra:
            self.errors += 1  # parked: the retry pass runs its programs again
        elif self._select(job):
            return  # due a repair: handed back already
        if self.returns is not None:
            self.returns.put(job.task)

    def _resumed_verdicts(self, task_id: str) -> dict[tuple[int, int], dict[str, Any]]:
        done = self.ctx.resume.executed.get(task_id)
        if not done:
            return {}
        with RowReader(self.dir.raw_path(self.r, EXECUTE)) as rows:
            return {pair: rows.at(offset) for pair, offset in done.items()}

    def _record_verdict(self, job: _Job, verdict) -> None:
        job.results[verdict.key] = verdict
        self._record_pairs(job, verdict, job.duplicates.pop(verdict.key), ran=True)
        if verdict.reason == Reason.INFRA_ERROR:
            job.infra = True
            log.warning("round %d: %s: sandbox infrastructure error: %s", self.r, verdict.key,
                        (verdict.stderr_tail or "")[-300:])
        job.waiting.discard(verdict.key)
        self._maybe_done(job)

    def _record_pairs(self, job: _Job, verdict, pairs: list[tuple[int, int]], ran: bool) -> None:
        status = getattr(verdict.status, "value", verdict.status)
        base = {"round": self.r, "task_id": job.task.id, "ok": bool(verdict.ok), "reason": verdict.reason,
                "status": None if status is None else str(status), "stdout_tail": verdict.stdout_tail,
                "stderr_tail": verdict.stderr_tail}
        for n, (i, j) in enumerate(pairs):
            row = {"key": task_key(self.r, job.task.id, EXECUTE, i, j), **base, "pair": [i, j],
                   "duration": verdict.duration if ran and n == 0 else 0.0}  # a twin did not run again
            self.exec_store.append(row)
            job.verdicts[(i, j)] = row

    def _select(self, job: _Job) -> bool:
        """The task's decision: the dual-agreement choice over its candidates (samples and repaired answers), the
        "tests can fail" verdict of that pair, and the pass-rate window. True when, none passing, it is handed
        back for a repair instead."""
        task, ev = job.task, self.cfg.evolve
        parsed = sorted(i for i, s in task.solves.items() if not s.get("drop"))
        row: dict[str, Any] = {"key": task_key(self.r, task.id, SELECT), "round": self.r, "task_id": task.id,
                               "method": task.method, "instruction": task.instruction,
                               "n_candidates": len(parsed), "salvaged": sum(bool(s.get("salvaged"))
                                                                             for s in task.solves.values()),
                               "sandbox_seconds": round(sum(v.get("duration") or 0.0
                                                            for v in job.verdicts.values()), 4)}
        if not parsed:
            reasons = [task.solves[i]["drop"] for i in sorted(task.solves)]
            row.update(verdict=TaskVerdict.DROPPED, reason=failure_reason(reasons), pass_rate=0.0)
            self._write_selection(row)
            return False
        solutions, tests = task.solutions(self.n), task.test_sets(self.n)
        passes = {pair: v.get("status") == Status.PASSED for pair, v in job.verdicts.items()}
        choice = choose(self.n + len(task.repairs), sorted(solutions), tests, passes)
        failure = None
        if choice is None or task.repairs:  # what the samples themselves did
            failure = failure_reason([job.verdicts[(i, i)]["reason"] for i in parsed])
        if choice is None and self.returns is not None:
            due = next_repair(task, self.n, job.verdicts, failure, ev.repair_turns, ev.repair_tests)
            if due is not None:
                task.repair_due = due
                self._awaiting[task.id] = job
                self.returns.put(task)
                return True
        if choice is None:
            row.update(verdict=TaskVerdict.DROPPED, pass_rate=0.0, reason=failure)
            pair = (parsed[0], parsed[0])
        else:
            pair = (choice.solution, choice.tests)
            reason = job.verdicts[pair]["reason"]  # "passed" only if the tests also fail on a broken solution
            if reason == Reason.PASSED and choice.pass_rate < ev.min_pass_rate:
                reason = Reason.TOO_HARD
            elif reason == Reason.PASSED and choice.pass_rate > ev.max_pass_rate:
                reason = Reason.TOO_EASY
            passed = reason == Reason.PASSED
            row.update(verdict=TaskVerdict.PASSED if passed else TaskVerdict.DROPPED, reason=reason,
                       pass_rate=round(choice.pass_rate, 4), chosen=list(pair), agreeing=len(choice.group),
                       tests_passed=len(choice.passed_tests))
        sol, tst = solutions[pair[0]], tests[pair[1]]
        verdict = job.verdicts[pair]
        row.update(solution=sol, tests=tst, entry_point=find_entry_point(sol, tst, self.lang),
                   stdout_tail=verdict.get("stdout_tail"), stderr_tail=verdict.get("stderr_tail"))
        if task.repairs:  # the lineage: follow-ups asked, whether the kept pair came from one, what failed before
            row.update(repair_turns=len(task.repairs), reason_before_repair=failure,
                       repaired=row["verdict"] == TaskVerdict.PASSED and max(pair) >= self.n)
        self._write_selection(row)
        return False

    def _write_selection(self, row: dict[str, Any]) -> None:
        self.select_store.append(row)
        self.ctx.bars[SELECT].advance()


def _resumed_verdict(row: dict[str, Any]):
    """An exec row read back as the verdict its twins share (they did not run: no duration)."""
    return Verdict(row["key"], bool(row["ok"]), row["reason"], row.get("status"), 0.0, row.get("stdout_tail") or "",
                   row.get("stderr_tail") or "")
