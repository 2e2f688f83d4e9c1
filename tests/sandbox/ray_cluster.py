"""A real Ray cluster of N nodes on this machine, inside a loopback-only network namespace.

Ray binds the machine's interface address unless the only interface is loopback, so the cluster lives
in its own network namespace (`unshare -n`, `ip link set lo up`): every packet stays on 127.0.0.1, and
the Docker engine is still reached through its Unix socket. Each node is one `ray start --block` in
its own session; stopping a node kills exactly that session's processes (by session id, never by
name: `ray stop` would kill every Ray process on the machine, other users' clusters included).
Commands that talk to the cluster (drivers, `wizardcoder ... --sandbox ray`) run in the namespace
through `nsenter`. Needs root (CI runs as root), `unshare`, `nsenter`, `ip` and Ray.

    python3 tests/sandbox/ray_cluster.py -- python3 benchmarks/bench_sandbox.py --backend docker,ray
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORT = 6379
ADDRESS = f"127.0.0.1:{PORT}"
# Fast node-death detection for tests (Ray's defaults take ~30 s to declare a node dead).
HEAD_ENV = {"RAY_health_check_period_ms": "500", "RAY_health_check_timeout_ms": "1000",
            "RAY_health_check_failure_threshold": "3", "RAY_health_check_initial_delay_ms": "1000"}


def problem() -> str | None:
    """Why a cluster cannot be started here, or None."""
    for tool in ("unshare", "nsenter", "ip", "ray"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed" + (" (pip install 'wizardcoder[ray]')" if tool == "ray" else "")
    if os.geteuid() != 0:
        return "a network namespace needs root (CI runs as root)"
    probe = subprocess.run(["unshare", "-n", "--", "ip", "link", "set", "lo", "up"], capture_output=True, text=True,
                           timeout=30, check=False)
    if probe.returncode != 0:
        return f"cannot make a loopback-only network namespace here: {probe.stderr.strip()[:200]}"
    return None


def _session_pids(sid: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.getsid(int(name)) == sid:
                    pids.append(int(name))
            except OSError:
                pass
    return pids


class NodeStartError(RuntimeError):
    pass


class LoopbackRayCluster:
    def __init__(self, nodes: int = 2, cpus_per_node: int = 1) -> None:
        self.n_nodes, self.cpus = nodes, cpus_per_node
        self.holder: subprocess.Popen | None = None
        self.nodes: list[subprocess.Popen] = []  # [head, worker, ...]
        self.tmp = tempfile.mkdtemp(prefix="wzray-")  # short: Ray's Unix socket paths must fit 107 bytes
        self.env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_ADDRESS=ADDRESS,
                        PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))

    # --------------------------------------------------------------------------------- commands
    def argv(self, *argv: str) -> list[str]:
        """`argv` run inside the cluster's network namespace."""
        return ["nsenter", f"--net=/proc/{self.holder.pid}/ns/net", "--", *argv]

    def run(self, *argv: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.argv(*argv), env=kw.pop("env", self.env), timeout=timeout, check=False, **kw)

    # --------------------------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 120) -> LoopbackRayCluster:
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()  # nothing left behind when the cluster cannot start
            raise

    def _start(self, timeout: float) -> LoopbackRayCluster:
        self.holder = subprocess.Popen(["unshare", "-n", "--", "sh", "-c",
                                        "ip link set lo up && echo up && exec sleep infinity"],
                                       stdout=subprocess.PIPE, text=True, start_new_session=True)
        if self.holder.stdout.readline().strip() != "up":
            raise RuntimeError("could not set up a loopback-only network namespace")
        head = ("--head", "--port", str(PORT), "--include-dashboard=false", f"--temp-dir={self.tmp}")
        self._start_node(head, 1, timeout, env=dict(self.env, **HEAD_ENV))  # before any other node joins
        for _ in range(self.n_nodes - 1):
            self.add_node(timeout)
        return self

    def add_node(self, timeout: float = 120) -> subprocess.Popen:
        return self._start_node(("--address", ADDRESS), len(self.nodes) + 1, timeout)

    def _start_node(self, args: tuple[str, ...], alive: int, timeout: float, env: dict | None = None,
                    attempts: int = 3) -> subprocess.Popen:
        """`ray start` a node and wait until `alive` nodes are; again if it gave up (on a loaded machine
        Ray's own 30 s limit for a raylet to register can pass)."""
        for attempt in range(1, attempts + 1):
            node = self._ray_start(*args, env=env)
            self.nodes.append(node)
            try:
                self.wait_nodes(alive, timeout)
                return node
            except NodeStartError:
                self.stop_node(self.nodes.pop())
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def _ray_start(self, *args: str, env: dict | None = None) -> subprocess.Popen:
        with open(os.path.join(self.tmp, f"node{len(self.nodes)}.log"), "w") as log:
            return subprocess.Popen(self.argv("ray", "start", "--block", "--num-cpus", str(self.cpus),
                                              "--disable-usage-stats", *args), env=env or self.env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def wait_nodes(self, n: int, timeout: float = 120) -> None:
        """Until exactly `n` nodes are alive (a driver polling the cluster, in the namespace)."""
        code = ("import ray, sys, time\n"
                f"deadline = time.time() + {timeout}\n"
                "while True:\n"
                "    try:\n"
                "        ray.init(address=sys.argv[1], log_to_driver=False, logging_level='ERROR'); break\n"
                "    except Exception:\n"
                "        if time.time() > deadline: raise\n"
                "        time.sleep(0.5)\n"
                "while sum(x['Alive'] for x in ray.nodes()) != int(sys.argv[2]):\n"
                "    if time.time() > deadline: sys.exit(f'nodes: {[x[\"Alive\"] for x in ray.nodes()]}')\n"
                "    time.sleep(0.3)\n")
        checker = subprocess.Popen(self.argv(sys.executable, "-c", code, ADDRESS, str(n)), env=self.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout + 30
        problem = ""
        while checker.poll() is None:
            gave_up = [i for i, node in enumerate(self.nodes) if node.poll() is not None]
            if gave_up or time.monotonic() > deadline:
                problem = f"node(s) {gave_up} exited" if gave_up else "the check timed out"
                checker.kill()
                break
            time.sleep(0.3)
        _, err = checker.communicate()
        if not problem and checker.returncode != 0:
            problem = err[-2000:]
        if problem:
            raise NodeStartError(f"the Ray cluster did not reach {n} alive node(s): {problem}\n{self._log_tails()}")

    def _log_tails(self) -> str:
        tails = []
        for name in sorted(os.listdir(self.tmp)):
            if name.endswith(".log"):
                with open(os.path.join(self.tmp, name), errors="replace") as f:
                    tails.append(f"--- {name}:\n{f.read()[-1500:]}")
        return "\n".join(tails)

    def stop_node(self, node: subprocess.Popen, grace: float = 0.0) -> None:
        """Kill every process of that node (its session): a machine lost mid-run."""
        sig = signal.SIGTERM if grace else signal.SIGKILL
        for pid in _session_pids(node.pid):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + grace
        while grace and _session_pids(node.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in _session_pids(node.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            node.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def stop(self) -> None:
        """Every node's processes, then the namespace. Safe to call twice."""
        for node in reversed(self.nodes):
            self.stop_node(node, grace=2.0)
        self.nodes.clear()
        if self.holder is not None and self.holder.poll() is None:
            os.killpg(self.holder.pid, signal.SIGKILL)
            self.holder.wait(10)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    """Run a command (after `--`) with RAY_ADDRESS set, inside a fresh 2-node loopback cluster."""
    if "--" not in argv or problem():
        print(problem() or __doc__, file=sys.stderr)
        return 2
    command = argv[argv.index("--") + 1:]
    with LoopbackRayCluster() as cluster:
        return cluster.run(*command, capture_output=False, timeout=3600).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
