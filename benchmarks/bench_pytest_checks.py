"""What running pytest-style checks under real pytest costs per job, vs the same tests as plain asserts.

    python benchmarks/bench_pytest_checks.py                  # fork-server figures + local backend latency
    python benchmarks/bench_pytest_checks.py --backend docker --jobs 40

What is measured, in the same run:

* fork server (what `sandbox/worker.py` does per job, without any container): an interpreter set up as the
  worker sets itself up, then --jobs forked children, each running the program as the worker runs it.
  Before each fork the worker warms up what the programs import (`warm_up`: pytest and its plugins from
  the second pytest job on); "cold pytest" skips that, as a worker does while pytest jobs stay under 2% of
  its Python jobs. Per job: CPU (user + system, from wait4) and wall time, median; the fork server's own
  memory at the end (VmRSS, and VmSize: a job's RLIMIT_AS counts what it inherits). Every child's output
  must hold its success marker, and a wrong solution's must not (else the figures are of programs that did
  nothing).
* sandbox: --jobs sequential `verify` calls of the same check (its program and its mutant) through
  `create_sandbox(--backend)`, median latency, for both styles.

The programs: a right solution and six parametrized cases (`mark.parametrize`, `pytest.raises`, `approx`),
and the same six checks written as plain asserts (the baseline: no test framework at all).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = "def safe_div(a, b):\n    if b == 0:\n        raise ZeroDivisionError('b is zero')\n    return a / b\n"
PYTEST_TESTS = (
    "import pytest\n\n"
    "@pytest.mark.parametrize('a, b, expected', [(1, 2, 0.5), (3, 3, 1.0), (1, 3, 0.3333333), (0, 5, 0.0),\n"
    "                                            (-4, 2, -2.0)])\n"
    "def test_values(a, b, expected):\n    assert safe_div(a, b) == pytest.approx(expected)\n\n"
    "def test_zero():\n    with pytest.raises(ZeroDivisionError, match='zero'):\n        safe_div(1, 0)\n")
PLAIN_TESTS = ("import math\n"
               "for a, b, expected in [(1, 2, 0.5), (3, 3, 1.0), (1, 3, 0.3333333), (0, 5, 0.0), (-4, 2, -2.0)]:\n"
               "    assert math.isclose(safe_div(a, b), expected, rel_tol=1e-6)\n"
               "try:\n    safe_div(1, 0)\n    raise AssertionError('no error')\nexcept ZeroDivisionError:\n    pass\n")
WRONG = SOLUTION.replace("return a / b", "return a // b")


def _built(tests: str, solution: str = SOLUTION):
    from wizardcoder.eliminate import EliminateConfig
    from wizardcoder.eliminate.verify import ExecutionCheck, build

    return build(ExecutionCheck("bench", "python", solution, tests, "safe_div"), EliminateConfig(mutation_check=[]))


def fork_server(variant: str, jobs: int) -> dict:
    """In this process (started for this variant alone): set up as the worker does, then fork `jobs` jobs."""
    spec = importlib.util.spec_from_file_location("sandbox_worker", ROOT / "sandbox" / "worker.py")
    worker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker)
    compile("pass", "<warm-up>", "exec")
    gc.collect()
    gc.freeze()
    worker.prepare_stdio()
    cpu, wall = [], []
    for i in range(jobs + 1):
        built = _built(PLAIN_TESTS if variant == "plain asserts" else PYTEST_TESTS,
                       WRONG if i == jobs else SOLUTION)  # the last one: a wrong solution must fail
        with tempfile.TemporaryDirectory() as jobdir:
            for name, text in {**built.files, "main.py": built.program}.items():
                Path(jobdir, name).write_text(text, encoding="utf-8")
            out = os.open(os.path.join(jobdir, ".out"), os.O_WRONLY | os.O_CREAT, 0o600)
            if variant != "cold pytest":
                worker.warm_up(built.program)
            started = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                os.chdir(jobdir)
                os.dup2(out, 1)
                os.dup2(out, 2)
                os._exit(worker.run_python_main(os.path.join(jobdir, "main.py")))
            _, _, usage = os.wait4(pid, 0)
            elapsed = time.perf_counter() - started
            os.close(out)
            passed = built.marker in Path(jobdir, ".out").read_text(encoding="utf-8", errors="replace")
        if passed != (i < jobs):
            raise SystemExit(f"{variant}: job {i} {'passed' if passed else 'failed'} unexpectedly")
        if i < jobs:
            cpu.append(usage.ru_utime + usage.ru_stime)
            wall.append(elapsed)
    status = Path("/proc/self/status").read_text().splitlines()
    memory = {line.split(":")[0]: line.split()[1] for line in status if line.startswith(("VmRSS", "VmSize"))}
    return {"cpu_ms": 1000 * statistics.median(cpu), "wall_ms": 1000 * statistics.median(wall),
            "rss_mb": int(memory["VmRSS"]) / 1024, "vsz_mb": int(memory["VmSize"]) / 1024}


def sandbox_latency(backend: str, jobs: int) -> dict:
    from sandbox import create_sandbox
    from wizardcoder.eliminate import EliminateConfig
    from wizardcoder.eliminate.verify import ExecutionCheck, verify

    out = {}
    with create_sandbox(backend, workers=1) as sb:
        for label, tests in (("plain asserts", PLAIN_TESTS), ("pytest", PYTEST_TESTS)):
            times = []
            for _ in range(jobs + 1):  # the first warms the worker up
                started = time.perf_counter()
                verdict = next(iter(verify(sb, [ExecutionCheck("b", "python", SOLUTION, tests, "safe_div")],
                                           EliminateConfig())))
                times.append(time.perf_counter() - started)
                if verdict.reason != "passed":
                    raise SystemExit(f"{backend} {label}: {verdict.reason}: {verdict.stdout_tail[-500:]}")
            out[label] = 1000 * statistics.median(times[1:])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--backend", default="local", help="sandbox backend for the latency rows ('' for none)")
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # internal: one fork-server variant, as JSON
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(fork_server(args.variant, args.jobs)))
        return
    rows = {}
    for variant in ("plain asserts", "cold pytest", "warm pytest"):
        run = subprocess.run([sys.executable, __file__, "--variant", variant, "--jobs", str(args.jobs)],
                             capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        rows[variant] = json.loads(run.stdout)
    base = rows["plain asserts"]
    print(f"fork server, {args.jobs} jobs each (median per job):")
    print(f"  {'':14} {'cpu ms':>8} {'wall ms':>8} {'x cpu':>6} {'server RSS MB':>14} {'VSZ MB':>7}")
    for variant, r in rows.items():
        print(f"  {variant:14} {r['cpu_ms']:8.1f} {r['wall_ms']:8.1f} {r['cpu_ms'] / base['cpu_ms']:6.1f} "
              f"{r['rss_mb']:14.1f} {r['vsz_mb']:7.1f}")
    for backend in filter(None, args.backend.split(",")):
        latency = sandbox_latency(backend, args.jobs)
        print(f"{backend} sandbox, verify of one check (program + mutant), median: "
              + ", ".join(f"{k} {v:.0f} ms" for k, v in latency.items())
              + f" (x{latency['pytest'] / latency['plain asserts']:.1f})")


if __name__ == "__main__":
    main()
