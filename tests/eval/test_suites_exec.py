"""Every suite through the real sandbox: references pass, empty completions fail, early exits never pass.

The Docker tests are the claim (`@pytest.mark.docker`); the local backend runs the cheap subset too, so the
pipeline is checked where Docker is missing.
"""

import pytest

from wizardcoder.eval.problems import KNOWN_BROKEN, load_suite

from .helpers import read_jsonl, score
from .references import CPP, JAVA, MBPP

HUMANEVAL = load_suite("humaneval")
REFERENCES = {"mbpp": MBPP, "humaneval-cpp": CPP, "humaneval-java": JAVA}


def _rows(pairs):
    return [{"task_id": t, "completion": c} for t, c in pairs]


@pytest.mark.docker
@pytest.mark.slow
def test_humaneval_canonical_solutions_all_pass_in_docker(tmp_path):
    metrics = score(tmp_path, "humaneval", _rows((p.task_id, p.canonical) for p in HUMANEVAL), "docker")
    assert metrics["problems"] == 164 and metrics["complete"]
    failed = [t for t, v in metrics["per_problem"].items() if v["c"] != 1]
    assert failed == []
    assert metrics["pass_at_k"] == {"pass@1": 1.0}
    assert metrics["stats"]["sandbox_backend"] == "DockerSandbox"


@pytest.mark.docker
@pytest.mark.slow
def test_humaneval_empty_completions_all_fail_in_docker(tmp_path):
    metrics = score(tmp_path, "humaneval", _rows((p.task_id, "") for p in HUMANEVAL), "docker")
    assert metrics["pass_at_k"] == {"pass@1": 0.0} and metrics["complete"]


@pytest.mark.slow
def test_humaneval_canonical_solutions_all_pass_locally(tmp_path):
    metrics = score(tmp_path, "humaneval", _rows((p.task_id, p.canonical) for p in HUMANEVAL), "local")
    assert metrics["pass_at_k"] == {"pass@1": 1.0}


EARLY_EXITS = {
    "python": ["    exit(0)\n", "    import os\n    os._exit(0)\n", "    import sys\n    sys.exit(0)\n",
               "    print('WIZARDCODER-PASS-0')\n    raise SystemExit\n"],
    "cpp": ["    exit(0);\n    return 0;\n", "    std::_Exit(0);\n    return 0;\n"],
    "java": ["        System.exit(0);\n        return 0;\n", "        Runtime.getRuntime().halt(0);\n        return 0;\n"],
}


@pytest.mark.parametrize("backend", ["local", pytest.param("docker", marks=pytest.mark.docker)])
@pytest.mark.parametrize("suite,task_id", [
    ("humaneval", "HumanEval/53"), pytest.param("humaneval-cpp", "HumanEval_53_add", marks=pytest.mark.multipl_e),
    pytest.param("humaneval-java", "HumanEval_53_add", marks=pytest.mark.multipl_e)])
def test_an_early_clean_exit_never_passes(tmp_path, backend, suite, task_id):
    language = load_suite(suite)[0].language
    bodies = EARLY_EXITS[language]
    right = next(p.canonical for p in HUMANEVAL if p.task_id == task_id) if suite == "humaneval" \
        else REFERENCES[suite][task_id]
    rows = _rows([(task_id, b) for b in bodies] + [(task_id, right)])
    metrics = score(tmp_path, suite, rows, backend)
    assert metrics["per_problem"][task_id] == {"n": len(bodies) + 1, "c": 1, "pass_rate": 1 / (len(bodies) + 1)}


@pytest.mark.multipl_e
@pytest.mark.parametrize("backend", ["local", pytest.param("docker", marks=pytest.mark.docker)])
@pytest.mark.parametrize("suite", ["mbpp", "humaneval-cpp", "humaneval-java"])
def test_hand_written_references_pass_and_empty_completions_fail(tmp_path, backend, suite):
    refs = REFERENCES[suite]
    rows = _rows(list(refs.items()) + [(t, "") for t in refs])
    metrics = score(tmp_path, suite, rows, backend)
    for task_id in refs:
        assert metrics["per_problem"][task_id] == {"n": 2, "c": 1, "pass_rate": 0.5}, task_id


@pytest.mark.multipl_e
@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("suite", ["mbpp", "humaneval-cpp", "humaneval-java"])
def test_empty_completions_fail_on_every_problem_in_docker(tmp_path, suite):
    problems = load_suite(suite)
    metrics = score(tmp_path, suite, _rows((p.task_id, "") for p in problems), "docker", "time_limit.timeout=20")
    assert metrics["problems"] == len(problems) and metrics["complete"]
    assert metrics["pass_at_k"] == {"pass@1": 0.0}
    assert metrics["known_broken"] == KNOWN_BROKEN[suite]


@pytest.mark.multipl_e
@pytest.mark.parametrize("backend", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_the_known_broken_cpp_harness_does_not_compile(tmp_path, backend):
    task_id = "HumanEval_137_compare_one"
    assert task_id in KNOWN_BROKEN["humaneval-cpp"]
    metrics = score(tmp_path, "humaneval-cpp", _rows([(task_id, "    return a;\n")]), backend)
    (result,) = read_jsonl(metrics["stats"]["run_dir"] + "/results.jsonl")
    assert result["status"] == "failed" and "compile" in result["reason"]
    assert "ambiguous" in result["stderr_tail"] or "nullopt" in result["stderr_tail"]
    assert metrics["known_broken"] == {task_id: KNOWN_BROKEN["humaneval-cpp"][task_id]}
