"""One pass over a round, streamed: each task goes evolve -> [judge] -> n x solve on the LLM side, then to
the sandbox stage (evolve/sandbox_stage.py, a thread of its own), which runs its programs and selects.

A task's solve requests are sent as soon as its evolution returns, and its programs run in the sandbox
while the LLM answers other tasks, so neither the endpoint nor the sandbox waits for a whole step to
finish. One `client.generate` stream sends the requests: first the follow-ups (judge, solves) of answered
tasks, then evolutions from the pool. Against an endpoint, when only answers are due the stream waits for
one (`WAIT`); a local model, which runs one batch at a time, drains the stream instead and a new one sends
what the last answers queued.

A task none of whose candidates passed may come back from the sandbox stage for a repair turn (evolve/repair.py):
one more request in the conversation of one of its samples, sent before new evolutions like any follow-up; its
answer goes back to the sandbox as one more candidate. While tasks may still come back, the stream waits for
them instead of ending.

Every call and program has a key, (round, task, step[, sample or turn[, test set]]); each answer is appended
to its step's file under raw/round_NNN/ (evolve, judge, solve, repair, exec, select) with the step's decision
on it. A rerun reads those files once (`ResumeState`) and sends only what is missing, so a run killed at any
instant resumes exactly. An infrastructure failure (Completion.error, a sandbox ERROR) parks the task: it
gets no decision this pass; the caller retries the round's pass, then stops or carries the parent on.
"""

from __future__ import annotations

import logging
import queue
from collections import deque
from collections.abc import Iterator
from typing import Any

from wizardcoder.data.store import JsonlStore, RowReader, iter_jsonl_offsets
from wizardcoder.eliminate.judge import equivalence_request, parse_equivalence
from wizardcoder.eliminate.rules import heuristic_reason
from wizardcoder.evolve import repair
from wizardcoder.evolve.methods import BY_NAME, choose_method, request_seed
from wizardcoder.evolve.parsing import ParsedSolution, reaches_the_end, solution_with_tests
from wizardcoder.evolve.sandbox_stage import SandboxStage
from wizardcoder.evolve.steps import (
    EVOLVE,
    JUDGE,
    REPAIR,
    SOLVE,
    Call,
    EvolveCall,
    JudgeCall,
    RepairCall,
    RoundContext,
    SolveBatch,
    SolveCall,
    Task,
    task_key,
)
from wizardcoder.evolve.structured import (
    EVOLVE_SCHEMA,
    SOLVE_SCHEMA,
    lone_solution,
    parse_evolved_answer,
    parse_solution_answer,
)
from wizardcoder.languages import misses_the_task_function, salvage_tests
from wizardcoder.llm.base import WAIT, Completion, LLMClient, Request
from wizardcoder.reasons import Reason

log = logging.getLogger(__name__)


class RoundEngine:
    """The LLM side of one pass over round `ctx.r`: every call goes through `client`; each answer is recorded
    with its step's decision; a task whose samples are all answered goes to `sandbox` (started by the
    caller). `run()` returns the infrastructure errors it hit (the tasks it parked)."""

    def __init__(self, ctx: RoundContext, client: LLMClient, sandbox: SandboxStage):
        self.ctx, self.client, self.sandbox = ctx, client, sandbox
        self.r, self.cfg, self.lang = ctx.r, ctx.cfg, ctx.cfg.evolve.lang
        self.n = ctx.cfg.evolve.solve_samples
        # A local model runs one batch at a time: a task's samples are one request (the rows of one batch).
        self.batch_samples = ctx.cfg.llm.batches_requests()
        # An endpoint gets a sampling seed per call (it may honour it: a re-asked call then repeats). A local
        # model batches requests of equal sampling settings, so they share the run's seed (the rows of one
        # batch are different draws).
        self.seed_per_request = ctx.cfg.llm.seeds_each_request()
        self.errors = 0
        self._ready: deque[tuple[Request, Call]] = deque()  # follow-ups, sent before any new evolution
        self._stores: dict[str, JsonlStore] = {}
        # repair turns on: the sandbox hands every task back (decided, parked or due a repair); the tasks it holds
        # may still need a call, so the stream does not end while there are any
        self._returns = sandbox.returns
        self._in_sandbox = 0

    def run(self) -> int:
        run_dir = self.ctx.run_dir
        steps = (EVOLVE, JUDGE, SOLVE) if self.cfg.evolve.judge else (EVOLVE, SOLVE)
        if self._returns is not None:
            steps += (REPAIR,)
        self._stores = {step: run_dir.store(run_dir.raw_path(self.r, step)).open() for step in steps}
        try:
            self._stream()
        finally:
            for store in self._stores.values():
                store.close()
        return self.errors

    # -- the stream -----------------------------------------------------------------------------------
    def _stream(self) -> None:
        """One `generate` stream sends every step's requests, in this thread: a task's next request (judge,
        solves) before any new evolution. When only answers are due, the source yields WAIT to an endpoint's
        client (it sends again once an answer is in); a local model, which runs one batch at a time, drains
        the stream instead, and a new one sends what the last answers queued. (Steps in threads of their own
        cost a thread hand-off per answer.)"""
        pool = self._pool()
        exhausted = False
        while True:
            pending: dict[int, Call] = {}

            def source(pending: dict[int, Call] = pending) -> Iterator[Request | object]:
                nonlocal exhausted
                index = 0
                while True:
                    if self._in_sandbox:
                        self._take_returns(block=False)
                    if self._ready:
                        request, call = self._ready.popleft()
                    elif not exhausted:
                        item = next(pool, StopIteration)
                        exhausted = item is StopIteration
                        if item is None or exhausted:
                            continue
                        request, call = item
                    elif pending and not self.batch_samples:
                        yield WAIT
                        continue
                    elif self._in_sandbox and not self.batch_samples:
                        self._take_returns(block=True)  # nothing in flight: a repair may still come
                        continue
                    else:
                        return
                    pending[index] = call
                    index += 1
                    yield request

            for index, completion in self.client.generate(source()):
                self._answered(pending.pop(index), completion)
            if exhausted and not self._ready:
                if not self._in_sandbox:
                    return
                self._take_returns(block=True)  # a local model: the next stream sends the repairs that come

    def _take_returns(self, block: bool) -> None:
        """Take the tasks the sandbox stage handed back, queueing the repairs of those due one; `block`: wait
        for one first (raising the stage's failure if it has one)."""
        assert self._returns is not None
        while block:
            try:
                task = self._returns.get(timeout=1.0)
            except queue.Empty:
                if self.sandbox.failure is not None:
                    raise self.sandbox.failure from None
                continue
            self._returned(task)
            break
        while True:
            try:
                task = self._returns.get_nowait()
            except queue.Empty:
                return
            self._returned(task)

    def _returned(self, task: Task) -> None:
        self._in_sandbox -= 1
        if task.repair_due is not None:
            self._queue_repair(task)

    def _submit(self, task: Task) -> None:
        if self._returns is not None:
            self._in_sandbox += 1
        self.sandbox.submit(task)

    def _pool(self) -> Iterator[tuple[Request, EvolveCall] | None]:
        """The evolve call of each undecided task of the pool, in pool order; a task resumed past its
        evolution queues its next calls instead, and yields None (the stream sends them before reading on)."""
        r, resume = self.r, self.ctx.resume
        evolved_rows = None
        try:
            for _, parent in iter_jsonl_offsets(self.ctx.run_dir.pool_path(r - 1)):
                tid = parent["id"]
                if tid in resume.decided:
                    continue
                method = choose_method(self.cfg.evolve.methods, self.cfg.evolve.seed, r, tid)
                task = Task(tid, method, parent["instruction"])
                offset = resume.evolved.get(tid)
                if offset is None:
                    yield self._evolve_call(task)
                    continue
                evolved_rows = evolved_rows or RowReader(self.ctx.run_dir.raw_path(r, EVOLVE))
                task.instruction = evolved_rows.at(offset)["instruction"]
                if self.cfg.evolve.judge and tid not in resume.judged:
                    self._queue_judge(task)
                else:
                    self._queue_solves(task)
                yield None
        finally:
            if evolved_rows is not None:
                evolved_rows.close()

    def _request(self, prompt: str | tuple[dict[str, str], ...], key: str, max_tokens: int | None, n: int = 1,
                 schema: dict[str, Any] | None = None) -> Request:
        """A request for a prompt, or for a conversation (a repair turn: chat messages, or for the completions
        API one prompt holding the turns)."""
        seed = request_seed(self.cfg.evolve.seed, key) if self.seed_per_request else self.cfg.evolve.seed
        options = {"max_tokens": max_tokens, "temperature": self.cfg.evolve.temperature, "seed": seed, "n": n,
                   "response_format": schema if self.cfg.llm.wants_schema() else None}
        if isinstance(prompt, str):
            return Request.from_text(prompt, api=self.cfg.llm.api, **options)
        if self.cfg.llm.api == "completions":
            return Request(prompt=repair.as_prompt(prompt), **options)
        return Request(messages=prompt, **options)

    # -- every answer ---------------------------------------------------------------------------------
    def _answered(self, call: Call, completion: Completion) -> None:
        """Record an answer on its step's file with the step's decision, then queue the task's next calls."""
        if isinstance(call, SolveBatch):  # several samples in one request: one answer each
            task = call.task
            for sample, part in zip(call.samples, _split(completion, len(call.samples))):
                self._answered(SolveCall(task, sample, task_key(self.r, task.id, SOLVE, sample)), part)
            return
        task = call.task
        row: dict[str, Any] = {"key": call.key, "round": self.r, "task_id": task.id, "method": task.method}
        if isinstance(call, SolveCall):
            row["sample"] = call.sample
        elif isinstance(call, RepairCall):
            row.update(turn=call.turn, candidate=call.candidate, follow_up=call.asked)
        elif isinstance(call, JudgeCall):
            row["instruction"] = task.instruction  # a judge drop's record holds what was judged
        row.update(text=completion.text if completion.ok else None,
                   finish_reason=completion.finish_reasons[0] if completion.finish_reasons else None,
                   prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                   error=completion.error)
        _audit(row, completion)
        if completion.error:
            self._failed(call, row)
            return
        refused = completion.rejected is not None
        if refused:  # refused for good: the step's decision, never asked again
            row.update(rejected=completion.rejected, drop=Reason.REQUEST_REJECTED)
            log.warning("round %d: %s: request refused: %s", self.r, call.key, completion.rejected)
        elif completion.missing():  # the thinking was cut, or nothing came after it: nothing to parse
            row["drop"] = Reason.TRUNCATED if row["finish_reason"] == "length" else Reason.NO_ANSWER
            refused = True  # decided: no parsing (a judge without an answer lets the task go on)
        if isinstance(call, EvolveCall):
            self._evolved(task, row, refused)
        elif isinstance(call, JudgeCall):
            self._judged(task, row, refused)
        elif isinstance(call, RepairCall):
            self._repaired(task, call.turn, row, refused)
        else:
            self._solved(task, call.sample, row, refused)

    def _failed(self, call: Call, row: dict[str, Any]) -> None:
        """An infrastructure error: on file without a decision (the retry pass asks again), counted; a failed
        sample or repair parks its task."""
        self.errors += 1
        log.warning("round %d: %s: infrastructure error: %s", self.r, call.key, row["error"])
        self._stores[call.step].append(row)
        if isinstance(call, SolveCall):
            call.task.failed_calls += 1
            self._maybe_submit(call.task)

    def _record(self, step: str, row: dict[str, Any]) -> None:
        self._stores[step].append(row)
        self.ctx.bars[step].advance()

    # -- 1. evolve ------------------------------------------------------------------------------------
    def _evolve_call(self, task: Task) -> tuple[Request, EvolveCall]:
        method = task.method
        prompt = self.ctx.prompts.evolve_prompt(method, BY_NAME[method].kind, task.parent_instruction)
        key = task_key(self.r, task.id, EVOLVE)
        request = self._request(prompt, key, self.cfg.evolve.evolve_max_tokens, schema=EVOLVE_SCHEMA)
        return request, EvolveCall(task, key)

    def _evolved(self, task: Task, row: dict[str, Any], refused: bool) -> None:
        if refused:
            row["instruction"] = task.parent_instruction
        else:
            evolved, from_json = parse_evolved_answer(row["text"])
            row["instruction"] = evolved
            if row["finish_reason"] == "length" and (from_json or reaches_the_end(row["text"], evolved)):
                row["drop"] = Reason.TRUNCATED  # cut by the token limit inside the task: its end is missing
            else:
                row["drop"] = heuristic_reason(task.parent_instruction, evolved, self.cfg.eliminate,
                                                 self.ctx.prompts)
        self._record(EVOLVE, row)
        if row["drop"]:
            return
        task.instruction = row["instruction"]
        if self.cfg.evolve.judge:
            self._queue_judge(task)
        else:
            self._queue_solves(task)

    # -- 2. judge (optional) --------------------------------------------------------------------------
    def _queue_judge(self, task: Task) -> None:
        request = equivalence_request(task.parent_instruction, task.instruction)
        self._ready.append((request, JudgeCall(task, task_key(self.r, task.id, JUDGE))))

    def _judged(self, task: Task, row: dict[str, Any], refused: bool) -> None:
        if row.get("drop") in (Reason.TRUNCATED, Reason.NO_ANSWER):
            row["drop"] = None  # no verdict from the judge: the task goes on, as when it finds a gain
        elif not refused:
            row["drop"] = Reason.NO_INFORMATION_GAIN if parse_equivalence(row["text"]) else None
        self._record(JUDGE, row)
        if not row["drop"]:
            self._queue_solves(task)

    # -- 3. n x solve ---------------------------------------------------------------------------------
    def _queue_solves(self, task: Task) -> None:
        """Ask for the task's samples not on file yet (all of them on a fresh task)."""
        done = self.ctx.resume.solved.get(task.id)
        if done:
            with RowReader(self.ctx.run_dir.raw_path(self.r, SOLVE)) as rows:
                for sample, offset in done.items():
                    task.solves[sample] = _solve_fields(rows.at(offset), self._returns is not None)
        if len(task.solves) == self.n:
            self._submit(task)
            return
        prompt = self.ctx.prompts.solve_prompt(task.instruction)
        max_tokens = self.cfg.evolve.solve_max_tokens
        missing = [sample for sample in range(self.n) if sample not in task.solves]
        if self.batch_samples:
            key = task_key(self.r, task.id, SOLVE, missing[0])
            request = self._request(prompt, key, max_tokens, n=len(missing), schema=SOLVE_SCHEMA)
            self._ready.append((request, SolveBatch(task, tuple(missing))))
            return
        for sample in missing:
            key = task_key(self.r, task.id, SOLVE, sample)
            request = self._request(prompt, key, max_tokens, schema=SOLVE_SCHEMA)
            self._ready.append((request, SolveCall(task, sample, key)))

    def _solved(self, task: Task, sample: int, row: dict[str, Any], refused: bool) -> None:
        if not refused:
            self._decide_solved(row, task.instruction)
        task.solves[sample] = _solve_fields(row, self._returns is not None)
        self._record(SOLVE, row)
        self._maybe_submit(task)  # a sample without a solution still counts as answered

    def _decide_solved(self, row: dict[str, Any], instruction: str, held_to: str | None = None) -> None:
        """Parse one answer; a test block cut by the token limit keeps its complete statements. `held_to`: the
        tests the solution is held to instead of its own (a repair that may not change them)."""
        parsed, _ = parse_solution_answer(row["text"], self.lang)
        if isinstance(parsed, ParsedSolution) and row["finish_reason"] == "length":
            kept = salvage_tests(parsed.tests, self.lang)
            if kept is not None:
                row["salvaged"] = True
                parsed = solution_with_tests(parsed.solution, kept, self.lang)
        if held_to is not None:  # its own tests do not matter: a solution alone will do
            solution = parsed.solution if isinstance(parsed, ParsedSolution) else (
                lone_solution(row["text"]) if parsed == Reason.NO_TESTS else None)
            if solution is not None:
                parsed = solution_with_tests(solution, held_to, self.lang)
        if isinstance(parsed, ParsedSolution) and misses_the_task_function(
                instruction, parsed.solution, parsed.tests, self.lang):
            parsed = Reason.TESTS_MISS_THE_TASK
        if isinstance(parsed, ParsedSolution):
            row.update(solution=parsed.solution, tests=parsed.tests, entry_point=parsed.entry_point,
                       drop=None)
        else:
            row["drop"] = parsed

    # -- 4. to the sandbox (its programs, then the selection: evolve/sandbox_stage.py) ----------------
    def _maybe_submit(self, task: Task) -> None:
        """Hand the task over once every sample is answered; one whose call failed stays parked (the retry
        pass asks for its missing samples)."""
        if len(task.solves) + task.failed_calls < self.n or task.failed_calls:
            return
        self._submit(task)

    # -- 5. a repair turn (evolve/repair.py), when none of the task's candidates passed ----------------
    def _queue_repair(self, task: Task) -> None:
        """Ask the follow-up the sandbox stage found due; one already on file is read back instead (a resumed
        run never asks a repair twice) and its candidate goes straight back to the sandbox."""
        due, task.repair_due = task.repair_due, None
        assert due is not None
        offset = self.ctx.resume.repaired.get(task.id, {}).get(due.turn)
        if offset is not None:
            with RowReader(self.ctx.run_dir.raw_path(self.r, REPAIR)) as rows:
                task.repairs[due.turn] = _repair_fields(rows.at(offset))
            self._submit(task)
            return
        asked = repair.follow_up(due.verdict, self.cfg.evolve.repair_tests)
        earlier = [(task.repairs[t]["follow_up"], task.repairs[t]["text"]) for t in range(due.turn)]
        messages = repair.conversation(self.ctx.prompts.solve_prompt(task.instruction),
                                       task.solves[due.candidate]["text"], earlier, asked)
        key = task_key(self.r, task.id, REPAIR, due.turn)
        request = self._request(messages, key, self.cfg.evolve.solve_max_tokens, schema=SOLVE_SCHEMA)
        self._ready.append((request, RepairCall(task, due.turn, key, due.candidate, asked)))

    def _repaired(self, task: Task, turn: int, row: dict[str, Any], refused: bool) -> None:
        """The repaired answer, parsed as a solve answer (its solution held to the sample's own tests unless
        `evolve.repair_tests`), goes back to the sandbox as candidate n + turn."""
        if not refused:
            fix_tests = self.cfg.evolve.repair_tests
            self._decide_solved(row, task.instruction,
                                held_to=None if fix_tests else task.solves[row["candidate"]]["tests"])
            if not fix_tests and not row.get("drop"):
                row["tests"] = None  # not its own: the sample's, as written
        task.repairs[turn] = _repair_fields(row)
        self._record(REPAIR, row)
        self._submit(task)


def _split(completion: Completion, n: int) -> list[Completion]:
    """One completion per sample of an n-sample completion (its tokens shared out; an error for each)."""
    if completion.error or completion.rejected is not None:
        return [completion] * n
    texts = list(completion.texts) + [""] * (n - len(completion.texts))
    reasons = list(completion.finish_reasons) + ["stop"] * (n - len(completion.finish_reasons))
    share, extra = divmod(completion.completion_tokens, n)
    thought, thought_extra = divmod(completion.reasoning_tokens, n)
    return [Completion((texts[i],), (reasons[i],), completion.prompt_tokens if i == 0 else 0,
                       share + (extra if i == 0 else 0), reasonings=(completion.reasoning(i),),
                       raw_texts=(completion.raw_text(i),), answer_missing=(completion.missing(i),),
                       reasoning_tokens=thought + (thought_extra if i == 0 else 0), structured=completion.structured)
            for i in range(n)]


def _audit(row: dict[str, Any], completion: Completion) -> None:
    """What a raw row keeps of an answer beyond the text that was parsed: a reasoning model's thinking and its
    token count, the reply as the server sent it, whether it went with a JSON schema. Never parsed."""
    if completion.reasoning_tokens:
        row["reasoning_tokens"] = completion.reasoning_tokens
    if completion.reasoning():
        row["reasoning"] = completion.reasoning()
    if completion.raw_text() != completion.text:
        row["raw"] = completion.raw_text()
    if completion.structured:
        row["structured"] = True


def _solve_fields(row: dict[str, Any], with_text: bool = False) -> dict[str, Any]:
    if row.get("drop"):
        return {"drop": row["drop"], "salvaged": row.get("salvaged", False)}
    fields = {"solution": row["solution"], "tests": row["tests"], "salvaged": row.get("salvaged", False)}
    if with_text:  # a repair turn quotes the answer back
        fields["text"] = row["text"]
    return fields


def _repair_fields(row: dict[str, Any]) -> dict[str, Any]:
    fields = {"candidate": row["candidate"], "follow_up": row["follow_up"], "text": row.get("text") or ""}
    if row.get("drop"):
        return {**fields, "drop": row["drop"]}
    return {**fields, "solution": row["solution"], "tests": row.get("tests")}


__all__ = ["RoundEngine"]
