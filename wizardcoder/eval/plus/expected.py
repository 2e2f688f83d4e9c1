"""Expected outputs: the reference solution run on a deep copy of every input, in the sandbox, once per
data file, machine and sandbox backend (cached by the file's content hash), with each call's time.

Why in the sandbox and not in this process, as evalplus does: the reference code comes from a data
file, and `--suite-file` takes any file. Why deep copies: evalplus 0.2.x runs the reference on the
input objects themselves, so a reference that empties its input (Mbpp/635, Mbpp/734) changes what
candidates are given afterwards; here candidates get the inputs as written in the file.

Every reference job runs under PYTHONHASHSEED=0, and the tasks whose outputs hold strings run again
under another seed (digests only): where an output changes (a reference returning a set's order,
`tuple(set(strings))`), the task is `hash_seed_dependent` and its check jobs run under seed 0 too, so
a candidate computing the same set sees the same order (evalplus gets this only when its expected
outputs were computed in the same process as the check, i.e. not from its cache). An input on which the reference fails here
(an exception, MemoryError under the sandbox's memory limit, a run past REFERENCE_TIMEOUT) cannot
judge anything: it is dropped, and the record lists it with the reason.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sandbox import Job
from wizardcoder.config import fingerprint
from wizardcoder.eval.plus import values
from wizardcoder.eval.plus.data import PlusSuite, PlusTask, default_cache_dir
from wizardcoder.eval.plus.oracles import NOT_NONE_TASKS
from wizardcoder.eval.plus.program import (
    encode_inputs,
    harness_version,
    new_nonce,
    nonce_messages,
    program,
    secret,
)
from wizardcoder.eval.timelimits import machine_id
from wizardcoder.execution import new_marker

log = logging.getLogger(__name__)

HASH_SEED = 0
CHUNK = 64  # inputs per reference job at first (a job also stops early when its stdout fills up)
REFERENCE_TIMEOUT = 120.0  # seconds per reference job; one input alone past it is dropped
REFERENCE_MEMORY_MB = 1024
RETRIES = 2  # sandbox errors (never the reference's fault) before giving up


@dataclass
class TaskExpected:
    outputs: list[dict]  # per input (base then plus): {"v": encoded} | {"d": digest}; None where dropped
    times: list[float | None]  # seconds of the reference call per input
    dropped: dict[int, str]  # input index -> why the reference could not give an output there
    hash_seed_dependent: bool = False  # outputs change with PYTHONHASHSEED (a set of strings' order)


@dataclass
class Expected:
    tasks: dict[str, TaskExpected]
    record: dict[str, Any]  # what metrics.json keeps: cache path, sha256, machine, when, how long, dropped


def cache_path(suite: PlusSuite, backend_id: str, cache_dir: str | Path | None = None) -> Path:
    key = fingerprint({"data": suite.sha256, "harness": harness_version(), "machine": machine_id(),
                       "backend": backend_id, "hash_seed": HASH_SEED}, 16)
    return Path(cache_dir or default_cache_dir()) / "expected" / f"{suite.name.rstrip('+')}plus-{key}.json.gz"


def expected_outputs(suite: PlusSuite, open_sandbox, backend_id: str, cache_dir: str | Path | None = None,
                     progress=None) -> Expected:
    """The expected outputs of every task of `suite`, from the cache or computed now in the sandbox
    (`open_sandbox()` gives a context manager)."""
    path = cache_path(suite, backend_id, cache_dir)
    cached = _read_cache(path) or {"tasks": {}, "meta": {}}
    known = {tid: _from_json(v) for tid, v in cached["tasks"].items()}
    missing = [t for t in suite.tasks if t.task_id not in known]
    if not missing:
        tasks = {t.task_id: known[t.task_id] for t in suite.tasks}
        return Expected(tasks, _record(suite, path, tasks, cached["meta"], computed_now=False))
    t0 = time.monotonic()
    with open_sandbox() as sandbox:
        known.update(compute(replace(suite, tasks=missing), sandbox, progress))
    meta = {"machine": machine_id(), "backend": backend_id, "seconds": round(time.monotonic() - t0, 2),
            "computed_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "hash_seed": HASH_SEED,
            "harness": harness_version(), "source": suite.source, "sha256": suite.sha256}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as f:  # the tasks of earlier (e.g. --limit) runs stay
        json.dump({"meta": meta, "tasks": {tid: _to_json(v) for tid, v in known.items()}}, f)
    tmp.replace(path)
    log.info("expected outputs of %d %s tasks computed in %.1f s; cached in %s", len(missing), suite.name,
             meta["seconds"], path)
    tasks = {t.task_id: known[t.task_id] for t in suite.tasks}
    return Expected(tasks, _record(suite, path, tasks, meta, computed_now=True))


def _read_cache(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            data = json.load(f)
        if isinstance(data, dict) and "tasks" in data and "meta" in data:
            return data
    except (OSError, ValueError, EOFError) as exc:
        log.warning("%s: unreadable expected-output cache (%s); computing again", path, exc)
    return None


def _to_json(t: TaskExpected) -> dict:
    return {"outputs": t.outputs, "times": t.times, "dropped": {str(k): v for k, v in t.dropped.items()},
            "hash_seed_dependent": t.hash_seed_dependent}


def _from_json(d: dict) -> TaskExpected:
    return TaskExpected(outputs=d["outputs"], times=d["times"], dropped={int(k): v for k, v in d["dropped"].items()},
                        hash_seed_dependent=bool(d.get("hash_seed_dependent")))


def _record(suite: PlusSuite, path: Path, tasks: dict[str, TaskExpected], meta: dict, computed_now: bool) -> dict:
    dropped = {tid: {str(i): why for i, why in t.dropped.items()} for tid, t in tasks.items() if t.dropped}
    return {"cache": str(path), "computed_now": computed_now, "data_sha256": suite.sha256, "source": suite.source,
            **{k: meta.get(k) for k in ("machine", "backend", "seconds", "computed_at", "hash_seed")},
            "inputs_dropped": dropped,
            "hash_seed_dependent": sorted(tid for tid, t in tasks.items() if t.hash_seed_dependent),
            "why_dropped": "the reference solution fails on them inside the sandbox (its memory or time limits): "
                           "they cannot judge a candidate"}


# ------------------------------------------------------------------ computing them


def compute(suite: PlusSuite, sandbox, progress=None) -> dict[str, TaskExpected]:
    """Run every task's reference on all its inputs in `sandbox` (chunks of inputs in parallel) under
    PYTHONHASHSEED=0; then, for the tasks whose outputs hold strings, again under another seed (digests
    only): a task whose outputs change with the seed is marked, and its check jobs run under seed 0 too."""
    total = sum(len(t.base_input) + len(t.plus_input) for t in suite.tasks)
    bar = progress("expected outputs (reference solutions)", total) if progress else None
    state = _reference_pass(suite, suite.tasks, sandbox, HASH_SEED, False, bar)
    if bar:
        bar.close()
    stringy = [t for t in suite.tasks if any(o is not None and ("d" in o or _holds_strings(o["v"]))
                                             for o in state[t.task_id].outputs)]
    if stringy:
        other = _reference_pass(suite, stringy, sandbox, HASH_SEED + 1, True, None)
        for t in stringy:
            a, b = state[t.task_id], other[t.task_id]
            a.hash_seed_dependent = any(x is not None and y is not None and _digest_of(x) != y["d"]
                                        for x, y in zip(a.outputs, b.outputs))
    return state


def _digest_of(carried: dict) -> str:
    return carried["d"] if "d" in carried else values.digest(values.decode(carried["v"]))


def _reference_pass(suite: PlusSuite, tasks: list[PlusTask], sandbox, seed: int, digests: bool,
                    bar) -> dict[str, TaskExpected]:
    state: dict[str, TaskExpected] = {}
    pending: list[tuple[PlusTask, int, int, int]] = []  # task, first, end, start (resume point)
    for task in tasks:
        n = len(task.base_input) + len(task.plus_input)
        state[task.task_id] = TaskExpected(outputs=[None] * n, times=[None] * n, dropped={})
        pending += [(task, a, min(a + CHUNK, n), a) for a in range(0, n, CHUNK)]
    not_none = suite.dataset == "mbpp"
    errors = 0
    while pending:
        jobs, nonces = [], []
        for task, first, end, start in pending:
            nonce, marker = new_nonce(), _marker()
            inputs = (task.base_input + task.plus_input)[first:end]
            cfg = {"code": task.reference_code, "entry_point": task.entry_point, "first": first, "start": start,
                   "hash_seed": seed, "digests": digests,
                   "output_not_none": not_none and task.entry_point in NOT_NONE_TASKS}
            jobs.append(Job(program=program("expected"), language="python",
                            timeout=REFERENCE_TIMEOUT, memory_mb=REFERENCE_MEMORY_MB, success_marker=marker,
                            files={"plus.json": json.dumps(cfg), "secret.json": secret(nonce, marker),
                                   "inputs.json": encode_inputs(inputs)}))
            nonces.append(nonce)
        results = sandbox.run_many(jobs)
        again = []
        for (task, first, end, start), nonce, result in zip(pending, nonces, results):
            st = state[task.task_id]
            status = getattr(result.status, "value", str(result.status))
            if status == "error":
                errors += 1
                if errors > RETRIES * max(1, len(pending)):
                    raise RuntimeError(f"the sandbox keeps failing on reference jobs: {result.reason}")
                again.append((task, first, end, start))
                continue
            done, next_i = _read_lines(result.stdout, nonce, st, first, end)
            if bar:
                bar.advance(done)
            if next_i is not None:  # the job stopped to keep its stdout whole
                again.append((task, first, end, next_i))
                continue
            resume = _resume_point(st, start, end)
            if resume is None:
                continue
            if status == "passed":  # finished without covering every input: cannot happen, but never loop
                for i in range(resume, end):
                    st.dropped[i] = "the reference job ended without an output for it"
                continue
            # timed out / crashed: the input it was on is dropped; the rest goes on in a new job
            why = result.reason or status
            if resume == start or done == 0:
                st.dropped[resume] = f"the reference solution failed here in the sandbox ({why})"
                if bar:
                    bar.advance(1)
                resume += 1
            if resume < end:
                again.append((task, first, end, resume))
        pending = again
    return state


def _marker() -> str:
    return new_marker()


def _resume_point(st: TaskExpected, start: int, end: int) -> int | None:
    for i in range(start, end):
        if st.outputs[i] is None and i not in st.dropped:
            return i
    return None


def _read_lines(stdout: str, nonce: str, st: TaskExpected, first: int, end: int) -> tuple[int, int | None]:
    """Store what the reference job printed; (inputs done, where to go on if it stopped early)."""
    done, next_i = 0, None
    for msg in nonce_messages(stdout, nonce):
        if "next" in msg:
            next_i = int(msg["next"])
            continue
        i = msg.get("i")
        if not isinstance(i, int) or not first <= i < end or st.outputs[i] is not None or i in st.dropped:
            continue
        if "e" in msg:
            st.dropped[i] = f"the reference solution raised {msg['e']}"
        elif "v" in msg or "d" in msg:
            st.outputs[i] = {"v": msg["v"]} if "v" in msg else {"d": str(msg["d"])}
            st.times[i] = float(msg.get("t") or 0.0)
        else:
            continue
        done += 1
    return done, next_i


def _holds_strings(data: Any) -> bool:
    """Whether an encoded value holds a str or bytes (a set of them iterates in hash-seed order)."""
    if isinstance(data, str):
        return True
    if isinstance(data, list):
        return any(_holds_strings(v) for v in data)
    if isinstance(data, dict):
        (tag, body), = data.items()
        return tag == "B" or (tag in "TSZD" and _holds_strings(body))
    return False
