"""One round, streamed: each task goes evolve -> [judge] -> n x solve -> execute -> select on its own.

A task's solve requests are sent as soon as its evolution returns, and its programs run in the sandbox
(evolve/sandbox_stage.py, a thread of its own) while the LLM answers other tasks, so neither the
endpoint nor the sandbox waits for a whole step to finish. One `client.generate` stream sends the
requests: first the follow-ups (judge, solves) of answered tasks, then evolutions from the pool. Against an
endpoint, when only answers are due the stream waits for one (`WAIT`); a local model, which runs one batch
at a time, drains the stream instead and a new one sends what the last answers queued.

Every call and program has a key, (round, task, step[, sample[, test set]]); each answer is appended to
its step's file under raw/round_NNN/ (evolve, judge, solve, exec, select) with the step's decision on
it. A rerun reads those files once and sends only what is missing, so a run killed at any instant
resumes exactly. An infrastructure failure (Completion.error, a sandbox ERROR) parks the task: it gets
no decision this pass; the caller retries the round's pass, then stops or carries the parent on.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

from wizardcoder.data.store import RowReader, iter_jsonl_offsets
from wizardcoder.evolve.methods import BY_NAME, choose_method, request_seed
from wizardcoder.evolve.parsing import (
    ParsedSolution,
    parse_evolved,
    parse_solution,
    reaches_the_end,
    solution_with_tests,
)
from wizardcoder.evolve.sandbox_stage import SandboxStage
from wizardcoder.evolve.steps import (
    EVOLVE,
    EXECUTE,
    JUDGE,
    SELECT,
    SOLVE,
    Task,
    iter_lines,
    task_key,
)
from wizardcoder.languages import misses_the_task_function, salvage_tests
from wizardcoder.reasons import Reason

log = logging.getLogger(__name__)

_LABELS = {EVOLVE: "evolve", JUDGE: "judge", SOLVE: "solve", SELECT: "execute"}


class _Resume:
    """What the round's files already hold: one read of each at the start of a pass."""

    def __init__(self, run, r: int):
        self.offsets: dict[str, dict[str, int]] = {}
        self.decided: set[str] = set()
        self.solved: dict[str, dict[int, int]] = {}
        self.executed: dict[str, dict[tuple[int, int], int]] = {}
        for step in (EVOLVE, JUDGE):
            done = self.offsets[step] = {}
            for offset, row in iter_jsonl_offsets(run.raw_path(r, step)):
                if not row.get("error"):
                    done[row["task_id"]] = offset
                    if row.get("drop"):
                        self.decided.add(row["task_id"])
        for offset, row in iter_jsonl_offsets(run.raw_path(r, SOLVE)):
            if not row.get("error"):
                self.solved.setdefault(row["task_id"], {})[row["sample"]] = offset
        for offset, row in iter_jsonl_offsets(run.raw_path(r, EXECUTE)):
            if row.get("reason") != Reason.INFRA_ERROR:
                self.executed.setdefault(row["task_id"], {})[tuple(row["pair"])] = offset
        for _, row in iter_jsonl_offsets(run.raw_path(r, SELECT)):
            self.decided.add(row["task_id"])


class RoundEngine:
    """Runs one pass over round `r` for `run` (a rounds._Run); returns the infrastructure errors hit."""

    def __init__(self, run, r: int):
        self.run, self.r, self.cfg = run, r, run.cfg
        self.lang = run.lang
        self.n = self.cfg.evolve.solve_samples
        self.dir = run.dir
        self.errors = 0
        self._ready: deque[tuple[Any, tuple]] = deque()
        self._sandbox_stage = SandboxStage(self)
        self._lock = threading.Lock()
        # A local model runs one batch at a time: a task's samples are one request (rows of one batch).
        self._local = self.cfg.llm.resolved_provider() in ("embedded", "transformers")

    # -- the pass ----------------------------------------------------------------------------------
    def __call__(self) -> int:
        self.resume = _Resume(self.dir, self.r)
        llm_steps = (EVOLVE, JUDGE, SOLVE) if self.cfg.evolve.judge else (EVOLVE, SOLVE)
        stores = {step: self.dir.store(self.dir.raw_path(self.r, step)).open() for step in llm_steps}
        self.stores = stores
        due = sum(1 for _ in iter_lines(self.dir.pool_path(self.r - 1))) - len(self.resume.offsets[EVOLVE])
        steps = (EVOLVE, JUDGE, SOLVE, SELECT) if self.cfg.evolve.judge else (EVOLVE, SOLVE, SELECT)
        self.bars = {step: self.run.progress(f"round {self.r}: {_LABELS[step]}", due if step == EVOLVE else None)
                     for step in steps}
        try:
            if due > 0:
                self._open_resources()
            self._llm_streams()
        finally:
            for store in stores.values():
                store.close()
            self._sandbox_stage.stop()
            for bar in self.bars.values():
                bar.close()
        if self._sandbox_stage.failure is not None:
            raise self._sandbox_stage.failure
        return self.errors + self._sandbox_stage.errors

    def _followup(self, step: str, request, meta: tuple) -> None:
        """Queue a task's next request (judge, solves): the stream sends it before any new evolution."""
        self._ready.append((request, meta))

    def _llm_streams(self) -> None:
        """One `generate` stream sends every step's requests, in this thread: a task's next request (judge,
        solves) before any new evolution. When only answers are due, the source yields WAIT to an endpoint's
        client (it sends again once an answer is in); a local model, which runs one batch at a time, drains the
        stream instead, and a new one sends what the last answers queued. (Steps in threads of their own cost
        a thread hand-off per answer.)"""
        from wizardcoder.llm import WAIT

        tasks = self._tasks()
        exhausted = False
        while True:
            pending: dict[int, tuple] = {}

            def source() -> Iterator[Any]:
                nonlocal exhausted
                index = 0
                while True:
                    if self._ready:
                        request, meta = self._ready.popleft()
                    elif not exhausted:
                        item = next(tasks, StopIteration)
                        exhausted = item is StopIteration
                        if item is None or exhausted:
                            continue
                        request, meta = item
                    elif pending and not self._local:
                        yield WAIT
                        continue
                    else:
                        return
                    pending[index] = meta
                    index += 1
                    yield request

            for index, completion in self.run.client.generate(source()):
                self._answered(pending.pop(index), completion)
            if exhausted and not self._ready:
                return

    def _tasks(self) -> Iterator[tuple[Any, tuple] | None]:
        """Evolve requests for the pool's tasks, in pool order; a task resumed past its evolution queues
        its next step instead."""
        r, resume = self.r, self.resume
        evolved_rows = None
        try:
            for parent_offset, parent in iter_jsonl_offsets(self.dir.pool_path(r - 1)):
                tid = parent["id"]
                if tid in resume.decided:
                    continue
                method = choose_method(self.cfg.evolve.methods, self.cfg.evolve.seed, r, tid)
                task = Task(tid, method, parent["instruction"])
                if tid not in resume.offsets[EVOLVE]:
                    prompt = self.run.prompts.evolve_prompt(method, BY_NAME[method].kind, parent["instruction"])
                    key = task_key(r, tid, EVOLVE)
                    yield self._request(prompt, key, self.cfg.evolve.evolve_max_tokens), (EVOLVE, task)
                    continue
                evolved_rows = evolved_rows or RowReader(self.dir.raw_path(r, EVOLVE))
                task.instruction = evolved_rows.at(resume.offsets[EVOLVE][tid])["instruction"]
                if self.cfg.evolve.judge and tid not in resume.offsets[JUDGE]:
                    self._queue_judge(task)
                else:
                    self._queue_solves(task)
                yield None  # send what was queued before reading further
        finally:
            if evolved_rows is not None:
                evolved_rows.close()

    def _request(self, prompt: str, key: str, max_tokens: int, n: int = 1):
        from wizardcoder.llm import Request

        # An endpoint gets a sampling seed per call (it may honour it: a re-asked call then repeats).
        # A local model batches requests of equal sampling settings, so they share the run's seed (the
        # rows of one batch are different draws).
        per_call = self.cfg.llm.seeds_each_request()
        seed = request_seed(self.cfg.evolve.seed, key) if per_call else self.cfg.evolve.seed
        return Request.from_text(prompt, api=self.cfg.llm.api, max_tokens=max_tokens,
                                 temperature=self.cfg.evolve.temperature, seed=seed, n=n)

    def _queue_judge(self, task: Task) -> None:
        from wizardcoder.eliminate.judge import equivalence_request

        self._followup(JUDGE, equivalence_request(task.parent_instruction, task.instruction), (JUDGE, task))

    def _queue_solves(self, task: Task) -> None:
        done = self.resume.solved.get(task.id, {})
        if done:
            with RowReader(self.dir.raw_path(self.r, SOLVE)) as rows:
                for sample, offset in done.items():
                    task.solves[sample] = _solve_fields(rows.at(offset))
        if len(task.solves) == self.n:
            self._submit(task)
            return
        prompt = self.run.prompts.solve_prompt(task.instruction)
        missing = [sample for sample in range(self.n) if sample not in task.solves]
        if self._local:  # one request for all samples, rows of one batch
            key = task_key(self.r, task.id, SOLVE, missing[0])
            request = self._request(prompt, key, self.cfg.evolve.solve_max_tokens, n=len(missing))
            self._followup(SOLVE, request, (SOLVE, task, tuple(missing)))
            return
        for sample in missing:
            key = task_key(self.r, task.id, SOLVE, sample)
            request = self._request(prompt, key, self.cfg.evolve.solve_max_tokens)
            self._followup(SOLVE, request, (SOLVE, task, sample))

    # -- answers -------------------------------------------------------------------------------------
    def _answered(self, meta: tuple, completion) -> None:
        if meta[0] == SOLVE and isinstance(meta[2], tuple):  # several samples in one request
            for sample, part in zip(meta[2], _split(completion, len(meta[2]))):
                self._answered((SOLVE, meta[1], sample), part)
            return
        step, task = meta[0], meta[1]
        sample = meta[2] if step == SOLVE else None
        key = task_key(self.r, task.id, step, *(() if sample is None else (sample,)))
        row: dict[str, Any] = {"key": key, "round": self.r, "task_id": task.id, "method": task.method}
        if sample is not None:
            row["sample"] = sample
        if step == JUDGE:
            row["instruction"] = task.instruction  # a judge drop's record holds what was judged
        row.update(text=completion.text if completion.ok else None,
                   finish_reason=completion.finish_reasons[0] if completion.finish_reasons else None,
                   prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                   error=completion.error)
        if completion.error:
            with self._lock:
                self.errors += 1
            log.warning("round %d: %s: infrastructure error: %s", self.r, key, completion.error)
            self.stores[step].append(row)
            if step == SOLVE:
                task.failed_calls += 1
                self._maybe_submit(task)
            return
        if completion.rejected is not None:  # refused for good: the step's verdict, never asked again
            row.update(rejected=completion.rejected, drop=Reason.REQUEST_REJECTED)
            if step == EVOLVE:
                row["instruction"] = task.parent_instruction
            log.warning("round %d: %s: request refused: %s", self.r, key, completion.rejected)
            if step == SOLVE:
                task.solves[sample] = _solve_fields(row)
        elif step == EVOLVE:
            self._decide_evolved(task, row)
        elif step == JUDGE:
            self._decide_judged(row)
        else:
            self._decide_solved(row, task.instruction)
            task.solves[sample] = _solve_fields(row)
        self.stores[step].append(row)
        self.bars[step].advance()
        if step == SOLVE:
            self._maybe_submit(task)  # a sample without a solution still counts as answered
        elif row.get("drop"):
            return
        elif step == EVOLVE:
            task.instruction = row["instruction"]
            self._queue_judge(task) if self.cfg.evolve.judge else self._queue_solves(task)
        else:
            self._queue_solves(task)

    def _decide_evolved(self, task: Task, row: dict[str, Any]) -> None:
        from wizardcoder.eliminate.rules import heuristic_reason

        row["instruction"] = parse_evolved(row["text"])
        if row["finish_reason"] == "length" and reaches_the_end(row["text"], row["instruction"]):
            row["drop"] = Reason.TRUNCATED  # cut by the token limit inside the task: its end is missing
            return
        row["drop"] = heuristic_reason(task.parent_instruction, row["instruction"], self.cfg.eliminate)

    @staticmethod
    def _decide_judged(row: dict[str, Any]) -> None:
        from wizardcoder.eliminate.judge import parse_equivalence

        row["drop"] = Reason.NO_INFORMATION_GAIN if parse_equivalence(row["text"]) else None

    def _decide_solved(self, row: dict[str, Any], instruction: str) -> None:
        """Parse one answer; a test block cut by the token limit keeps its complete statements."""
        parsed = parse_solution(row["text"], self.lang)
        if isinstance(parsed, ParsedSolution) and row["finish_reason"] == "length":
            kept = salvage_tests(parsed.tests, self.lang)
            if kept is not None:
                row["salvaged"] = True
                parsed = solution_with_tests(parsed.solution, kept, self.lang)
        if isinstance(parsed, ParsedSolution) and misses_the_task_function(
                instruction, parsed.solution, parsed.tests, self.lang):
            parsed = Reason.TESTS_MISS_THE_TASK
        if isinstance(parsed, ParsedSolution):
            row.update(solution=parsed.solution, tests=parsed.tests, entry_point=parsed.entry_point, drop=None)
        else:
            row["drop"] = parsed

    def _maybe_submit(self, task: Task) -> None:
        if len(task.solves) + task.failed_calls < self.n:
            return
        if task.failed_calls:
            return  # parked: the retry pass asks for the missing samples
        self._submit(task)

    # -- the sandbox side ------------------------------------------------------------------------------
    def _submit(self, task: Task) -> None:
        with self._lock:
            if not self._sandbox_stage.started:
                self._sandbox_stage.start()
        self._sandbox_stage.submit(task)

    def _open_resources(self) -> None:
        """Start the LLM client (imports, a local model's load) while the sandbox starts (containers):
        both take seconds, and neither needs the other."""
        failure: list[BaseException] = []

        def open_client() -> None:
            try:
                _ = self.run.client
            except BaseException as exc:  # noqa: BLE001 - raised below, in the main thread
                failure.append(exc)

        opener = threading.Thread(target=open_client, name="wizardcoder-evolve-llm-open", daemon=True)
        opener.start()
        try:
            self._sandbox_stage.start()
        finally:
            opener.join()
        if failure:
            raise failure[0]



def _split(completion, n: int) -> list:
    """One completion per sample of an n-sample completion (its tokens shared out; an error for each)."""
    from wizardcoder.llm.base import Completion

    if completion.error or completion.rejected is not None:
        return [completion] * n
    texts = list(completion.texts) + [""] * (n - len(completion.texts))
    reasons = list(completion.finish_reasons) + ["stop"] * (n - len(completion.finish_reasons))
    share, extra = divmod(completion.completion_tokens, n)
    return [Completion((texts[i],), (reasons[i],), completion.prompt_tokens if i == 0 else 0,
                       share + (extra if i == 0 else 0)) for i in range(n)]


def _solve_fields(row: dict[str, Any]) -> dict[str, Any]:
    if row.get("drop"):
        return {"drop": row["drop"], "salvaged": row.get("salvaged", False)}
    return {"solution": row["solution"], "tests": row["tests"], "salvaged": row.get("salvaged", False)}


__all__ = ["RoundEngine"]
