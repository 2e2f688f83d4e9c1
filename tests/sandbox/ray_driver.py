"""Driver-side checks of the Ray backend, run by test_ray_backend.py INSIDE the cluster's network namespace
(a driver must share the loopback the cluster listens on). Each mode prints one JSON line, prefixed
"RESULT ", that the test asserts on.

    python3 tests/sandbox/ray_driver.py hostile CASE_ID...   # same verdicts via docker and via ray
    python3 tests/sandbox/ray_driver.py node-loss            # undisturbed run, then one with a node killed
    python3 tests/sandbox/ray_driver.py actor-kill           # a job lost twice is ERROR; no node: no hang
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from sandbox import Job, Result, create_sandbox


def emit(payload: dict) -> None:
    print("RESULT " + json.dumps(payload), flush=True)


def hostile(case_ids: list[str]) -> None:
    from tests.sandbox import test_containment as tc

    bait = tc.HostBait("WZ_HOST_SECRET_RAY", "wzsecret" + "0" * 24, {}, 9, 9, [], [])
    os.environ[bait.secret_name] = bait.secret_value
    cases = {c.id: c for c in tc.CASES}
    verdicts: dict[str, dict] = {c: {"accept": sorted(cases[c].accept)} for c in case_ids}
    for backend in ("docker", "ray"):
        with create_sandbox(backend, workers=tc.WORKERS if backend == "docker" else 1) as sb:
            for case_id in case_ids:
                ctx = tc.Ctx("docker", tc._new_tag(), tc._new_marker(), bait)
                text = (tc.PRELUDE + cases[case_id].program) if cases[case_id].prelude else cases[case_id].program
                case = cases[case_id]
                res = sb.run(Job(program=ctx.fill(text), language=case.language, timeout=case.timeout,
                                 memory_mb=case.memory_mb, success_marker=ctx.marker))
                verdicts[case_id][backend] = [res.status.value, res.reason[:200]]
                # The same sandbox must still give honest verdicts after the hostile job.
                ok_marker = tc._new_marker()
                after = sb.run_many([Job(f"print({ok_marker!r})", timeout=10, success_marker=ok_marker),
                                     Job(tc.CANARY.replace("__MARKER__", ok_marker), timeout=10,
                                         success_marker=ok_marker)])
                verdicts[case_id][backend + "_after"] = [r.status.value for r in after]
    emit(verdicts)


def _jobs(n: int) -> list[Job]:
    """Deterministic jobs with every kind of verdict, slow enough that a node dies while they run."""
    jobs = []
    for i in range(n):
        if i % 16 == 5:
            jobs.append(Job("while True:\n    pass", timeout=0.5))
        elif i % 3 == 0:
            jobs.append(Job(f"import time\ntime.sleep(0.05)\nprint({i} * {i})", timeout=10))
        elif i % 3 == 1:
            jobs.append(Job(f"import sys, time\ntime.sleep(0.05)\nsys.exit({i} % 7 + 1)", timeout=10))
        else:
            jobs.append(Job(f"print('x{i}')\nraise ValueError({i})", timeout=10))
    return jobs


def _key(r: Result) -> list:
    return [r.status.value, r.exit_code, r.stdout]


def node_loss(n: int = 64) -> None:
    """Undisturbed run, then the same jobs again: "KILL" on stdout when 1/8 are done tells the test to kill
    a worker node now (the run goes on meanwhile)."""
    jobs = _jobs(n)
    with create_sandbox("ray") as sb:
        sessions = [node["session"] for node in sb.nodes]
        undisturbed = [_key(r) for r in sb.run_many(jobs)]
        done = 0
        asked = threading.Event()

        def progress(_result: Result) -> None:
            nonlocal done
            done += 1
            if done == n // 8 and not asked.is_set():
                asked.set()
                print("KILL", flush=True)

        started = time.monotonic()
        disturbed = [_key(r) for r in sb.run_many(jobs, progress=progress)]
        elapsed = time.monotonic() - started
        stats = sb.stats()
        nodes = sb.nodes
    emit({"identical": disturbed == undisturbed, "n": n, "elapsed": elapsed, "stats": stats, "nodes": nodes,
          "sessions": sessions, "statuses": sorted({s for s, _, _ in disturbed}),
          "diff": [(i, a, b) for i, (a, b) in enumerate(zip(undisturbed, disturbed)) if a != b][:5]})


def actor_kill() -> None:
    """Kill the actor running a job, twice: the job is ERROR. Then, with no node left, jobs are ERROR at once."""
    import ray

    long_job = Job("import time\ntime.sleep(60)\nprint('done')", timeout=90)
    with create_sandbox("ray") as sb:
        sessions = [node["session"] for node in sb.nodes]
        out: dict = {}
        runner = threading.Thread(target=lambda: out.setdefault("results", sb.run_many([long_job])))
        started = time.monotonic()
        runner.start()
        killed = []
        while runner.is_alive() and len(killed) < 2 and time.monotonic() - started < 60:
            busy = [node for node in sb._nodes if node.alive and node.in_flight and node not in killed]
            if busy:
                time.sleep(1.0)  # the job is running in the node's container now
                ray.kill(busy[0].actor, no_restart=True)
                killed.append(busy[0])
            time.sleep(0.1)
        runner.join(120)
        elapsed = time.monotonic() - started
        result = out["results"][0]
        t = time.monotonic()
        after = sb.run_many([Job("print(1)", timeout=5)] * 3)
        after_elapsed = time.monotonic() - t
        emit({"status": result.status.value, "reason": result.reason, "elapsed": elapsed, "killed": len(killed),
              "after": [r.status.value for r in after], "after_reason": after[0].reason,
              "after_elapsed": after_elapsed, "stats": sb.stats(), "sessions": sessions})


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    {"hostile": lambda: hostile(rest), "node-loss": node_loss, "actor-kill": actor_kill}[mode]()
