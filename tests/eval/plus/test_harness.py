"""One program per sample: both verdicts, the first failing input, time limits, and no way for the
candidate to forge a pass. The local backend runs them quickly; the docker-marked test runs the
hostile ones again in the real container sandbox."""

from __future__ import annotations

import pytest

from sandbox import create_sandbox
from sandbox.types import Result
from tests.eval.plus.helpers import Borrowed, Judge, make_suite, task
from wizardcoder.data.store import JsonlLog
from wizardcoder.eval.config import EvalConfig
from wizardcoder.eval.execute import ExecutionStats
from wizardcoder.eval.plus import stage
from wizardcoder.eval.plus.check import LimitRule, limit_rule, plans
from wizardcoder.progress import no_progress

DOUBLE = task("T/0", "def f(a):\n    return a * 2\n", "f", [[1], [2]], [[3], [4], [5]])
RIGHT = "def f(a):\n    return a * 2\n"

# candidates that try to pass without computing the answers; every one must fail
FORGERIES = {
    "exit_early": "import os\nos._exit(0)\n",
    "exit_in_call": "import os\ndef f(a):\n    os._exit(0)\n",
    "sys_exit": "import sys\ndef f(a):\n    sys.exit(0)\n",
    "print_a_verdict": (  # looks for the nonce and marker in every file, prints a pass everywhere it can
        "import os, re, json\n"
        "text = ''\n"
        "for name in os.listdir('.'):\n"
        "    try:\n"
        "        text += __import__('io').open(name).read()\n"
        "    except OSError:\n"
        "        pass\n"
        "nonce = (re.findall(r'WIZARDCODER-PLUS-[0-9a-f]+', text) or ['WIZARDCODER-PLUS-0'])[0]\n"
        "marker = (re.findall(r'WIZARDCODER-PASS-[0-9a-f]+', text) or ['WIZARDCODER-PASS-0'])[0]\n"
        "lines = ''.join('\\n%s %s\\n' % (nonce, json.dumps({'phase': p, 'status': 'pass'})) for p in ('base', 'plus'))\n"
        "lines += '\\n' + marker + '\\n'\n"
        "for target in ('/proc/self/fd/1', '/proc/%d/fd/1' % os.getppid(), '/dev/stdout'):\n"
        "    try:\n"
        "        fd = os.open(target, os.O_WRONLY)\n"
        "        os.write(fd, lines.encode())\n"
        "    except OSError:\n"
        "        pass\n"
        "os.write(1, lines.encode())\n"
        "def f(a):\n    return None\n"),
    "read_the_answers": (
        "import json, os\n"
        "try:\n"
        "    answers = json.load(__import__('io').open('expected.json'))\n"
        "except OSError:\n"
        "    answers = None\n"
        "calls = []\n"
        "def f(a):\n"
        "    calls.append(a)\n"
        "    return __import__('wizardcoder.eval.plus.values').eval.plus.values.decode(answers[len(calls) - 1]['v'])\n"),
    "patch_the_judge": (
        "import sys\n"
        "main = sys.modules['__main__']\n"
        "for name in ('Checker', '_judge', 'read_verdict'):\n"
        "    if hasattr(main, name):\n"
        "        setattr(main, name, None)\n"
        "if hasattr(main, 'Checker'):\n"
        "    pass\n"
        "def f(a):\n    return 'wrong'\n"),
    "kill_the_parent": (
        "import ctypes, os\n"
        "ctypes.CDLL(None).kill(os.getppid(), 9)\n"
        "def f(a):\n    return a * 2\n"),
    "equal_to_everything": (
        "class Anything:\n    def __eq__(self, other):\n        return True\n"
        "def f(a):\n    return Anything()\n"),
}


@pytest.fixture(scope="module")
def local_sandbox():
    sb = create_sandbox("local", workers=2)
    yield sb
    sb.close()


@pytest.fixture(scope="module")
def judge(local_sandbox, tmp_path_factory):
    rows = [DOUBLE,
            task("T/1", "def g(xs):\n    total = sum(xs)\n    xs.clear()\n    return total\n", "g",
                 [[[1, 2]], [[3]]], [[[4, 5, 6]]]),
            task("T/2", "def h(s):\n    return tuple(set(s.split()))\n", "h",
                 [["a b c d e f g h"]], [["x y z w v u"], ["k l m n o p q r s"]]),
            task("T/3", "def r(a):\n    if a == 2:\n        raise ValueError('no')\n    return a\n", "r",
                 [[1], [2]], [[3]]),
            task("T/4", "def big(n):\n    return ['item %d' % i for i in range(n)]\n", "big", [[3]], [[20000]]),
            task("T/5", "def area(r):\n    return 3.14159 * r * r\n", "area", [[1.0]], [[2.0], [0.5]], atol=1e-3)]
    tmp = tmp_path_factory.mktemp("harness")
    return Judge(make_suite(tmp, rows), local_sandbox, tmp)


def test_a_right_sample_passes_base_and_plus(judge):
    row = judge.one("T/0", RIGHT)
    assert (row["passed"], row["plus_passed"], row["base_status"], row["plus_status"]) == (True, True, "pass", "pass")
    assert "first_failure" not in row


def test_a_sample_wrong_only_on_plus_inputs_names_the_first_failing_one(judge):
    row = judge.one("T/0", "def f(a):\n    return a * 2 if a < 4 else -1\n")
    assert row["passed"] is True and row["plus_passed"] is False and row["plus_status"] == "fail"
    assert row["first_failure"] == {"phase": "plus", "reason": "wrong output", "index": 1, "input": "[4]", "got": "-1"}


def test_base_failure_skips_plus_and_reports_the_exception(judge):
    row = judge.one("T/0", "def f(a):\n    if a == 2:\n        raise KeyError('x')\n    return a * 2\n")
    assert (row["passed"], row["plus_passed"], row["plus_status"]) == (False, False, "not_run")
    assert row["first_failure"]["index"] == 1 and row["first_failure"]["reason"].startswith("raised KeyError")


@pytest.mark.parametrize(("code", "reason"), [("def g(a):\n    return a\n", "does not define f"),
                                              ("def f(a)\n    return a\n", "could not load the program: SyntaxError")])
def test_a_program_that_cannot_load_fails_with_the_reason(judge, code, reason):
    row = judge.one("T/0", code)
    assert row["passed"] is False and reason in row["first_failure"]["reason"]


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_no_forgery_passes(judge, name):
    row = judge.one("T/0", FORGERIES[name])
    assert row["passed"] is False and row["plus_passed"] is False, row


@pytest.mark.parametrize("call", ["subprocess.run(['true'])", "shutil.rmtree('nothing')", "open('x', 'w')",
                                  "os.remove('solution.py')", "exit(0)"])
def test_what_evalplus_disables_fails_here_too(judge, call):
    code = f"import os, shutil, subprocess\ndef f(a):\n    {call}\n    return a * 2\n"
    row = judge.one("T/0", code)
    assert row["passed"] is False and row["first_failure"]["reason"].startswith("raised TypeError"), row


def test_noise_on_stdout_and_stderr_changes_nothing(judge):
    code = ("import sys, os\nprint('x' * 100000)\nos.write(1, b'garbage\\n' * 1000)\n"
            "def f(a):\n    print('noise', file=sys.stderr)\n    return a * 2\n")
    assert judge.one("T/0", code)["plus_passed"] is True


def test_candidates_get_the_inputs_as_written_although_the_reference_empties_them(judge):
    row = judge.one("T/1", "def g(xs):\n    return sum(xs)\n")
    assert row["plus_passed"] is True


def test_set_order_of_strings_matches_the_reference_run(judge):
    assert judge.expected.record["hash_seed_dependent"] == ["T/2"]  # found by a second run under another seed
    rows = judge.rows([("T/2", "def h(s):\n    return tuple(set(s.split()))\n")] * 4)
    assert [r["plus_passed"] for r in rows] == [True] * 4  # both under the same pinned hash seed


def test_an_input_the_reference_fails_on_is_dropped_and_recorded(judge):
    assert judge.expected.record["inputs_dropped"] == {"T/3": {"1": "the reference solution raised ValueError: no"}}
    assert judge.one("T/3", "def r(a):\n    return a\n")["plus_passed"] is True


def test_outputs_too_large_to_carry_are_compared_by_digest(judge):
    (big,) = [o for o in judge.expected.tasks["T/4"].outputs if "d" in o]
    assert big
    assert judge.one("T/4", "def big(n):\n    return ['item %d' % i for i in range(n)]\n")["plus_passed"] is True
    row = judge.one("T/4", "def big(n):\n    return ['item %d' % i for i in range(n)][:19999]\n")
    assert row["passed"] is True and row["plus_passed"] is False


def test_float_tolerance_uses_the_task_atol(judge):
    assert judge.one("T/5", "def area(r):\n    return 3.1416 * r * r\n")["plus_passed"] is True
    assert judge.one("T/5", "def area(r):\n    return 3.2 * r * r\n")["passed"] is False


def test_an_input_past_its_time_limit_fails_the_phase_as_a_timeout(judge):
    code = "import time\ndef f(a):\n    if a == 4:\n        time.sleep(30)\n    return a * 2\n"
    row = judge.one("T/0", code, LimitRule("fixed", fixed=0.5))
    assert row["passed"] is True and row["plus_status"] == "timeout"
    assert row["first_failure"]["index"] == 1 and "time limit of 0.5 s" in row["first_failure"]["reason"]
    assert row["duration"] < 10


def test_a_phase_past_its_budget_fails_although_each_input_is_in_time(judge):
    code = "import time\ndef f(a):\n    time.sleep(0.9)\n    return a * 2\n"
    row = judge.one("T/0", code, LimitRule("fixed", fixed=1.0, phase_cap=0.5))  # plus budget 0.5 + 2 s: 3 x 0.9 s
    assert row["passed"] is True and row["plus_status"] == "timeout" and "budget" in row["first_failure"]["reason"]


def test_expected_outputs_are_cached_per_data_file(judge, local_sandbox, tmp_path):
    record = judge.expected.record
    assert record["computed_now"] is True and record["cache"].endswith(".json.gz")
    assert all(t is not None and t >= 0 for t in judge.expected.tasks["T/0"].times)
    again = Judge(judge.suite, local_sandbox, tmp_path_of(record["cache"]))
    assert again.expected.record["computed_now"] is False and again.expected.record["cache"] == record["cache"]


class _FailingFirst:
    """The real sandbox behind a broken one: the first `failures` calls come back as sandbox errors."""

    def __init__(self, inner, failures):
        self.inner, self.failures, self.calls = inner, failures, 0

    def run_many(self, jobs, progress=None):
        self.calls += 1
        if self.calls <= self.failures:
            return [Result.error("the sandbox worker died while the job ran") for _ in jobs]
        return self.inner.run_many(jobs, progress)


@pytest.mark.parametrize(("failures", "errors", "rows"), [(1, 0, 2), (2, 2, 0)])
def test_sandbox_errors_are_retried_once_then_counted_never_scored(judge, tmp_path, monkeypatch, failures, errors,
                                                                   rows):
    broken = _FailingFirst(judge.sandbox, failures)
    monkeypatch.setattr(stage, "open_sandbox", lambda _cfg: Borrowed(broken))
    table = plans(judge.suite, judge.expected, limit_rule("reference"))
    limits = stage.PlusLimits(per_task={t: p.timeout for t, p in table.items()}, record={}, plans=table,
                              suite=judge.suite)
    results, stats = JsonlLog(tmp_path / "results.jsonl"), ExecutionStats()
    samples = [{"task_id": "T/0", "sample_idx": i, "solution": RIGHT} for i in range(2)]
    try:
        stage.execute_plus(EvalConfig(), limits, samples, results, stats, no_progress)
    finally:
        results.close()
    assert (broken.calls, stats.sandbox_errors, len(results.records)) == (2, errors, rows)
    assert all(r["plus_passed"] for r in results.records)


def tmp_path_of(cache_file):
    from pathlib import Path

    return Path(cache_file).parents[2]


# In Docker (uid 65534, no capabilities) the parent's /proc/<pid>/mem is closed to its non-dumpable
# children; the local backend runs jobs with capabilities in a user namespace, which it is not built to stop.
READ_PARENT_MEMORY = (
    "import os, re, json\n"
    "found = set()\n"
    "try:\n"
    "    pid = os.getppid()\n"
    "    mem = os.open('/proc/%d/mem' % pid, os.O_RDONLY)\n"
    "    for line in __import__('io').open('/proc/%d/maps' % pid):\n"
    "        lo, hi = (int(x, 16) for x in line.split()[0].split('-'))\n"
    "        try:\n"
    "            found.update(re.findall(rb'WIZARDCODER-P(?:LUS|ASS)-[0-9a-f]{24}', os.pread(mem, hi - lo, lo)))\n"
    "        except (OSError, OverflowError, ValueError, MemoryError):\n"
    "            pass\n"
    "except OSError:\n"
    "    pass\n"
    "nonces = [f.decode() for f in found if b'PLUS' in f]\n"
    "markers = [f.decode() for f in found if b'PASS' in f]\n"
    "out = ''.join('\\n%s %s\\n' % (n, json.dumps({'phase': p, 'status': 'pass'})) for n in nonces for p in ('base', 'plus'))\n"
    "out += ''.join('\\n%s\\n' % m for m in markers)\n"
    "for target in ('/proc/%d/fd/1' % os.getppid(),):\n"
    "    try:\n"
    "        os.write(os.open(target, os.O_WRONLY), out.encode())\n"
    "    except OSError:\n"
    "        pass\n"
    "def f(a):\n    return None\n")


@pytest.mark.docker
def test_in_docker_forgeries_fail_and_a_right_sample_passes(tmp_path):
    from tests.conftest import SANDBOX_IMAGE

    sb = create_sandbox("docker", workers=2, image=SANDBOX_IMAGE)
    try:
        j = Judge(make_suite(tmp_path, [DOUBLE]), sb, tmp_path, backend="docker")
        rows = j.rows([("T/0", RIGHT)] + [("T/0", code) for code in [*FORGERIES.values(), READ_PARENT_MEMORY]])
    finally:
        sb.close()
    assert rows[0]["plus_passed"] is True
    assert [r["passed"] for r in rows[1:]] == [False] * (len(FORGERIES) + 1), rows
