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
so a completed call is read back, never asked again. An infrastructure failure (Completion.error,
a sandbox ERROR) is never a drop: the step is retried, and the run stops (rerun to retry) or, with
`evolve.on_infra_error: keep_parent`, carries the parent on and counts an `infra_error`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from wizardcoder.config import save_config
from wizardcoder.errors import UserError
from wizardcoder.evolve.config import EvolveConfig, run_fingerprint
from wizardcoder.evolve.methods import BY_NAME, choose_method, request_seed
from wizardcoder.evolve.parsing import ParsedSolution, parse_evolved, parse_solution
from wizardcoder.evolve.prompts import PromptSet, load_prompts
from wizardcoder.evolve.rundir import (
    AtomicJsonlWriter,
    RunDir,
    iter_jsonl_offsets,
    read_at,
    read_json,
    read_jsonl,
    truncate,
    write_json_atomic,
)
from wizardcoder.evolve.seeds import describe_source, load_seeds
from wizardcoder.records import DROPPED, INFRA_ERROR, PASSED, TaskRecord

log = logging.getLogger(__name__)

EVOLVE, JUDGE, SOLVE, EXECUTE = "evolve", "judge", "solve", "exec"


class InfraErrorStop(RuntimeError):
    """Some calls or programs hit infrastructure errors: the run stops; rerunning retries them."""


class Bar(Protocol):
    def advance(self, n: int = 1) -> None: ...
    def close(self) -> None: ...


ProgressFactory = Callable[[str, "int | None"], Bar]


class _NullBar:
    def advance(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _no_progress(description: str, total: int | None) -> Bar:
    return _NullBar()


@dataclass
class EvolveResult:
    run_dir: Path
    stats: dict[str, Any]
    dataset: dict[str, Any] = field(default_factory=dict)


def default_run_dir(cfg: EvolveConfig) -> Path:
    if cfg.output.dir:
        return Path(cfg.output.dir)
    return Path(cfg.output.root) / run_fingerprint(cfg)


def run_evolve(cfg: EvolveConfig, *, client=None, sandbox=None, progress: ProgressFactory | None = None
               ) -> EvolveResult:
    """Run (or resume) the evolve stage for `cfg`; returns the run directory and its stats.

    `client` / `sandbox` are used when given (tests); otherwise they are created from `cfg.llm` /
    `cfg.sandbox`, only if some work is left, and closed at the end.
    """
    run = _Run(cfg, client=client, sandbox=sandbox, progress=progress or _no_progress)
    try:
        return run.execute()
    finally:
        run.close()


class _Run:
    def __init__(self, cfg: EvolveConfig, client, sandbox, progress: ProgressFactory):
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
            if self.cfg.llm.provider == "fake":
                from wizardcoder.evolve.fake import fake_client

                log.warning("LLM: the scripted FAKE model of wizardcoder.evolve.fake (pipeline tests only)")
                self._client = fake_client()
            else:
                from wizardcoder.llm import create_client

                self._client = create_client(self.cfg.llm)
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
        dataset = self._build_dataset()
        stats = self._write_stats(dataset)
        if self.cfg.output.report:
            from wizardcoder.evolve.report import write_report

            write_report(self.dir, stats, self.cfg)
        return EvolveResult(self.dir.root, stats, dataset)

    def _prepare_dir(self) -> None:
        fp = run_fingerprint(self.cfg)
        meta_path = self.dir.root / "run.json"
        meta = read_json(meta_path)
        if meta is not None and meta.get("fingerprint") != fp:
            raise UserError(
                f"{self.dir.root} holds a run with a different config (fingerprint {meta.get('fingerprint')} "
                f"!= {fp}: seeds, prompts, model or elimination knobs differ). Use another --output, "
                "or delete that directory to start over.")
        self.dir.root.mkdir(parents=True, exist_ok=True)
        if meta is None:
            write_json_atomic(meta_path, {"fingerprint": fp, "lang": self.lang,
                                          "seeds": describe_source(self.cfg.seeds)})
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
        per_call = self.cfg.llm.resolved_provider() == "openai"
        seed = request_seed(self.cfg.evolve.seed, key) if per_call else self.cfg.evolve.seed
        return Request.from_text(prompt, api=self.cfg.llm.api, max_tokens=max_tokens,
                                 temperature=self.cfg.evolve.temperature, seed=seed)

    def _done(self, path: Path) -> set[str]:
        return {row["key"] for row in read_jsonl(path) if not row.get("error")}

    def _evolve_pass(self, r: int) -> int:
        path = self.dir.raw_path(r, EVOLVE)
        done = self._done(path)
        weights = self.cfg.evolve.methods

        def items() -> Iterator[tuple[Any, dict[str, Any]]]:
            for parent in read_jsonl(self.dir.pool_path(r - 1)):
                key = self._key(r, parent["id"], EVOLVE)
                if key in done:
                    continue
                method = choose_method(weights, self.cfg.evolve.seed, r, parent["id"])
                prompt = self.prompts.evolve_prompt(method, BY_NAME[method].kind, parent["instruction"])
                row = {"key": key, "round": r, "task_id": parent["id"], "method": method, "parent": parent}
                yield self._request(prompt, key, self.cfg.evolve.evolve_max_tokens), row

        total = _count(read_jsonl(self.dir.pool_path(r - 1))) - len(done)
        return self._llm_pass(items(), path, f"round {r}: evolve", total)

    def _evolved(self, r: int) -> Iterator[tuple[dict[str, Any], str]]:
        """Evolve rows whose instruction survives the heuristic rules, with that instruction."""
        from wizardcoder.eliminate.rules import heuristic_reason

        for row in read_jsonl(self.dir.raw_path(r, EVOLVE)):
            if row.get("error"):
                continue
            evolved = parse_evolved(row["text"])
            if heuristic_reason(row["parent"]["instruction"], evolved, self.cfg.eliminate) is None:
                yield row, evolved

    def _judge_pass(self, r: int) -> int:
        from wizardcoder.eliminate.judge import equivalence_request

        path = self.dir.raw_path(r, JUDGE)
        done = self._done(path)

        def items():
            for row, evolved in self._evolved(r):
                key = self._key(r, row["task_id"], JUDGE)
                if key in done:
                    continue
                out = {"key": key, "round": r, "task_id": row["task_id"], "method": row["method"],
                       "parent": row["parent"], "instruction": evolved}
                yield equivalence_request(row["parent"]["instruction"], evolved), out

        total = sum(1 for row, _ in self._evolved(r) if self._key(r, row["task_id"], JUDGE) not in done)
        return self._llm_pass(items(), path, f"round {r}: judge", total)

    def _to_solve(self, r: int) -> Iterator[dict[str, Any]]:
        if self.cfg.evolve.judge:
            from wizardcoder.eliminate.judge import parse_equivalence

            for row in read_jsonl(self.dir.raw_path(r, JUDGE)):
                if not row.get("error") and not parse_equivalence(row["text"]):
                    yield row
        else:
            for row, evolved in self._evolved(r):
                yield {"task_id": row["task_id"], "method": row["method"], "parent": row["parent"],
                       "instruction": evolved}

    def _solve_pass(self, r: int) -> int:
        path = self.dir.raw_path(r, SOLVE)
        done = self._done(path)

        def items():
            for row in self._to_solve(r):
                key = self._key(r, row["task_id"], SOLVE)
                if key in done:
                    continue
                out = {"key": key, "round": r, "task_id": row["task_id"], "method": row["method"],
                       "parent": row["parent"], "instruction": row["instruction"]}
                prompt = self.prompts.solve_prompt(row["instruction"])
                yield self._request(prompt, key, self.cfg.evolve.solve_max_tokens), out

        total = sum(1 for row in self._to_solve(r) if self._key(r, row["task_id"], SOLVE) not in done)
        return self._llm_pass(items(), path, f"round {r}: solve", total)

    def _llm_pass(self, items: Iterable[tuple[Any, dict[str, Any]]], path: Path, label: str,
                  total: int | None) -> int:
        """Send the requests, append each raw output (with its key and carried fields) as it arrives."""
        pending: dict[int, dict[str, Any]] = {}

        def requests():
            for i, (request, row) in enumerate(items):
                pending[i] = row
                yield request

        errors = 0
        bar = self.progress(label, total)
        store = self.dir.store(path).open()
        try:
            for index, completion in self.client.generate(requests()):
                row = pending.pop(index)
                row.update(
                    text=None if completion.error else completion.text,
                    finish_reason=(completion.finish_reasons[0] if completion.finish_reasons else None),
                    prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                    error=completion.error,
                )
                store.append(row)
                if completion.error:
                    errors += 1
                    log.warning("%s: %s: infrastructure error: %s", label, row["key"], completion.error)
                bar.advance()
        finally:
            store.close()
            bar.close()
        return errors

    def _execute_pass(self, r: int) -> int:
        from wizardcoder.eliminate.execution import ExecutionCheck, verify

        path = self.dir.verdicts_path
        done = {row["key"] for row in read_jsonl(path) if row.get("round") == r and row.get("reason") != INFRA_ERROR}
        rows: deque[dict[str, Any]] = deque()

        def checks():
            for row in read_jsonl(self.dir.raw_path(r, SOLVE)):
                if row.get("error"):
                    continue
                key = self._key(r, row["task_id"], EXECUTE)
                if key in done:
                    continue
                parsed = parse_solution(row["text"], self.lang)
                if not isinstance(parsed, ParsedSolution):
                    continue  # dropped when the round is finalized
                rows.append({"key": key, "round": r, "task_id": row["task_id"], "method": row["method"],
                             "instruction": row["instruction"], "solution": parsed.solution, "tests": parsed.tests,
                             "entry_point": parsed.entry_point, "parent": row["parent"]})
                yield ExecutionCheck(key=key, language=self.lang, solution=parsed.solution, tests=parsed.tests,
                                     entry_point=parsed.entry_point)

        errors = 0
        bar = self.progress(f"round {r}: execute", None)
        store = self.dir.store(path).open()
        try:
            for verdict in verify(self.sandbox, checks(), self.cfg.eliminate):
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
        """One record per task of the pool; survivors replace their parents in pool/round_r.jsonl."""
        from wizardcoder.eliminate.rules import heuristic_reason

        marker = self.dir.finalize_marker(r)
        state = read_json(marker)
        records_path = self.dir.records_path
        if state is not None:  # a previous finalize was cut short: undo its appends
            truncate(records_path, state["records_offset"])
        else:
            offset = records_path.stat().st_size if records_path.exists() else 0
            write_json_atomic(marker, {"records_offset": offset})

        stats = _RoundStats(r, self.cfg)
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
            for row in read_jsonl(self.dir.raw_path(r, EVOLVE)):
                stats.call(row)
                if row.get("error"):
                    continue
                stats.evolved(row)
                evolved = parse_evolved(row["text"])
                reason = heuristic_reason(row["parent"]["instruction"], evolved, self.cfg.eliminate)
                if reason is not None:
                    emit(row, DROPPED, reason, evolved)
            if self.cfg.evolve.judge:
                from wizardcoder.eliminate.judge import parse_equivalence

                for row in read_jsonl(self.dir.raw_path(r, JUDGE)):
                    stats.call(row)
                    if not row.get("error") and parse_equivalence(row["text"]):
                        emit(row, DROPPED, "no_information_gain", row["instruction"])
            for row in read_jsonl(self.dir.raw_path(r, SOLVE)):
                stats.call(row)
                if row.get("error"):
                    continue
                parsed = parse_solution(row["text"], self.lang)
                if not isinstance(parsed, ParsedSolution):
                    emit(row, DROPPED, parsed, row["instruction"])
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

    # -- after the last round --------------------------------------------------------------------------
    def _build_dataset(self) -> dict[str, Any]:
        rounds = self.cfg.evolve.rounds
        marker = read_json(self.dir.dataset_marker)
        if marker is not None and marker.get("rounds") == rounds and self.dir.dataset_jsonl.exists():
            return marker
        from wizardcoder.data.dataset import write_dataset
        from wizardcoder.data.dedupe import dedupe

        include = self.cfg.evolve.include_seeds_in_dataset
        if include is None:
            include = bool(self.cfg.seeds.path) or self.lang == "python"
        decon = None
        if self.cfg.eliminate.decontaminate:
            from wizardcoder.data.decontaminate import Decontaminator

            decon = Decontaminator(self.cfg.eliminate)
        # Pass 1 keeps only what ordering, decontamination and dedupe need (not solutions and tests);
        # pass 2 reads the kept rows back from their files by offset while the dataset is written.
        sources = [self.dir.pool_path(0), self.dir.records_path]
        drops: Counter[str] = Counter()
        light: list[dict[str, Any]] = []
        candidates = 0
        bar = self.progress("building the dataset", None)
        try:
            for source, path in enumerate(sources):
                for offset, row in iter_jsonl_offsets(path):
                    if source == 0 and not (include and str(row.get("solution") or "").strip()):
                        continue
                    if source == 1 and not (row.get("verdict") == PASSED and row.get("round", 0) <= rounds):
                        continue
                    candidates += 1
                    bar.advance()
                    text = row["instruction"] + "\n" + (row.get("solution") or "")
                    suite = decon.contaminated(text) if decon else None
                    if suite:
                        drops[f"contaminated:{suite}"] += 1
                        continue
                    light.append({"instruction": row["instruction"], "key": TaskRecord.from_dict(row).sort_key,
                                  "at": (source, offset), "round": row["round"]})
        finally:
            bar.close()
        light.sort(key=lambda entry: entry["key"])
        kept, dropped = dedupe(light, self.cfg.eliminate)
        for _, reason in dropped:
            drops[reason] += 1
        del light, dropped
        written = write_dataset((self._dataset_row(row) for row in read_at(sources, [e["at"] for e in kept])),
                                self.dir.root)
        info = {
            "rounds": rounds, "candidates": candidates, "rows": len(kept),
            "seeds": sum(1 for e in kept if e["round"] == 0),
            "evolved": sum(1 for e in kept if e["round"] > 0),
            "dropped": dict(sorted(drops.items())),
            "written": {k: (str(v) if isinstance(v, Path) else v) for k, v in dict(written or {}).items()},
        }
        write_json_atomic(self.dir.dataset_marker, info)
        return info

    def _dataset_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """The fields the dataset keeps (write_dataset fences the solution as the `output`)."""
        return {
            "id": row["id"], "instruction": row["instruction"], "solution": row.get("solution") or "",
            "language": row.get("language") or self.lang, "seed_id": row["seed_id"], "round": row["round"],
            "method": row.get("method"), "parent_id": row.get("parent_id"), "tests": row.get("tests") or "",
        }

    def _write_stats(self, dataset: dict[str, Any]) -> dict[str, Any]:
        rounds = [self.dir.round_stats(r) for r in range(1, self.cfg.evolve.rounds + 1)]
        rounds = [s for s in rounds if s is not None]
        seeds = _count(read_jsonl(self.dir.pool_path(0)))
        seed_words = _mean(len(row["instruction"].split()) for row in read_jsonl(self.dir.pool_path(0)))
        totals: dict[str, Any] = {"seeds": seeds, "seed_mean_instruction_words": seed_words}
        dropped: Counter[str] = Counter()
        for s in rounds:
            dropped.update(s["dropped"])
            for key in ("evolved", "passed", "infra_error", "prompt_tokens", "completion_tokens", "llm_calls"):
                totals[key] = totals.get(key, 0) + s[key]
            if s.get("cost") is not None:
                totals["cost"] = totals.get("cost", 0.0) + s["cost"]
        totals["dropped"] = dict(sorted(dropped.items()))
        totals["pass_rate"] = (totals.get("passed", 0) / totals["evolved"]) if totals.get("evolved") else 0.0
        stats = {
            "stage": "evolve", "run_dir": str(self.dir.root), "fingerprint": run_fingerprint(self.cfg),
            "lang": self.lang, "seeds_source": describe_source(self.cfg.seeds),
            "llm": {"provider": self.cfg.llm.resolved_provider(), "model": self.cfg.llm.model,
                    "base_url": self.cfg.llm.base_url},
            "rounds": rounds, "totals": totals, "dataset": dataset,
        }
        write_json_atomic(self.dir.stats_path, stats)
        return stats


class _RoundStats:
    """Counters of one round, accumulated while its files are streamed."""

    def __init__(self, r: int, cfg: EvolveConfig):
        self.round = r
        self.cfg = cfg
        self.pool_in = 0
        self.n_evolved = 0
        self.llm_calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.methods: Counter[str] = Counter()
        self.passed_methods: Counter[str] = Counter()
        self.verdicts: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.evolved_words = _Mean()
        self.passed_words = _Mean()
        self.pool_words_total = 0
        self.executed = 0
        self.seconds = 0.0

    def call(self, row: dict[str, Any]) -> None:
        self.llm_calls += 1
        self.prompt_tokens += int(row.get("prompt_tokens") or 0)
        self.completion_tokens += int(row.get("completion_tokens") or 0)

    def evolved(self, row: dict[str, Any]) -> None:
        self.n_evolved += 1
        self.methods[row["method"]] += 1

    def add(self, record: TaskRecord, parent: dict[str, Any]) -> None:
        self.verdicts[record.verdict] += 1
        words = len(record.instruction.split())
        if record.verdict == DROPPED:
            self.dropped[record.reason] += 1
        if record.verdict == PASSED:
            self.passed_words.add(words)
            self.passed_methods[record.method or "?"] += 1
            self.pool_words_total += words
        else:
            self.pool_words_total += len(parent["instruction"].split())
        if record.verdict != INFRA_ERROR:
            self.evolved_words.add(words)
        if record.solution and record.verdict in (PASSED, DROPPED) and record.reason in _EXEC_REASONS:
            self.executed += 1

    def as_dict(self) -> dict[str, Any]:
        llm = self.cfg.llm
        cost = None
        if llm.price_per_1k_prompt is not None or llm.price_per_1k_completion is not None:
            cost = (self.prompt_tokens * (llm.price_per_1k_prompt or 0.0)
                    + self.completion_tokens * (llm.price_per_1k_completion or 0.0)) / 1000.0
        passed = self.verdicts[PASSED]
        return {
            "round": self.round, "pool": self.pool_in, "evolved": self.n_evolved, "executed": self.executed,
            "passed": passed, "infra_error": self.verdicts[INFRA_ERROR],
            "dropped": dict(sorted(self.dropped.items())),
            "pass_rate": passed / self.n_evolved if self.n_evolved else 0.0,
            "methods": dict(sorted(self.methods.items())),
            "passed_by_method": dict(sorted(self.passed_methods.items())),
            "llm_calls": self.llm_calls, "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens, "cost": cost,
            "mean_instruction_words": self.evolved_words.value,
            "mean_passed_instruction_words": self.passed_words.value,
            "mean_pool_instruction_words": self.pool_words_total / self.pool_in if self.pool_in else 0.0,
            "seconds": round(self.seconds, 3),
        }


_EXEC_REASONS = {"passed", "no_asserts", "failed", "timeout", "compile_error"}


class _Mean:
    def __init__(self) -> None:
        self.total = 0.0
        self.n = 0

    def add(self, value: float) -> None:
        self.total += value
        self.n += 1

    @property
    def value(self) -> float:
        return self.total / self.n if self.n else 0.0


def _mean(values: Iterable[float]) -> float:
    total = n = 0
    for v in values:
        total += v
        n += 1
    return total / n if n else 0.0


def _count(rows: Iterable[Any]) -> int:
    return sum(1 for _ in rows)
