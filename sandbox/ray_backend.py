"""Ray backend: run jobs across a Ray cluster, one actor per node, each wrapping that node's own sandbox.

    sb = create_sandbox("ray", address="head:6379")    # or RAY_ADDRESS; workers = sandbox workers per node

Every alive node gets one `NodeSandbox` actor pinned to it (hard node affinity), which opens that node's
Docker sandbox pool (or, where the node has no Docker engine or image, the local process backend, with
a loud warning on the node and on the driver). `run_many` sends jobs to the actors in small batches,
keeps a bounded number of jobs in flight per node (so a million jobs never sit in the object store at
once), and hands results to `progress` as each batch finishes.

Faults: when an actor or its node dies (or a batch outlives every deadline its jobs could need), that
actor leaves the rotation and its unfinished jobs go to the other nodes. A job lost that way twice
comes back as ERROR ("the sandbox broke"), never as FAILED or PASSED. When no node is left, every
job still waiting is ERROR: the run never hangs on a dead node.

The `sandbox` package is shipped to the nodes with the job (Ray `py_modules`), so nodes need Ray and
the Docker SDK (`pip install 'wizardcoder[ray]'`) and the sandbox image, not this exact checkout.
Ray is imported only when this backend is used. Where this process already called `ray.init()`, that
connection is used as it is (nothing shipped). The nodes are those alive when the sandbox opens: a
node that joins later serves the next sandbox opened.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable

from .base import DEFAULT_COMPILE_TIMEOUT, Sandbox, host_timeout
from .types import Job, Result, SandboxError, SandboxUnavailable

log = logging.getLogger(__name__)

PIP_HINT = "pip install 'wizardcoder[ray]'   (or: pip install 'ray[default]==2.60.0')"
NO_ADDRESS = ("the ray sandbox backend needs the address of a running Ray cluster: set RAY_ADDRESS=host:port "
              "or the config key sandbox.ray_address=host:port (start a cluster with `ray start --head`; "
              "see the README, \"Scale out\")")
LOST_LIMIT = 2          # a job whose node died under it this many times is ERROR
BATCH_SLACK = 60.0      # seconds a batch may take beyond the sum of its jobs' own limits


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise SandboxUnavailable(f"the ray sandbox backend needs Ray: {PIP_HINT}") from exc
    return ray


class NodeSandbox:
    """The per-node actor's class: one sandbox pool on this node. Wrapped with ray.remote() lazily."""

    def __init__(self, backend: str, workers: int, docker_options: dict) -> None:
        from .factory import create_sandbox

        self.note = ""
        self.backend = backend
        if backend in ("auto", "docker"):
            try:
                self.sb = create_sandbox("docker", workers=workers, **docker_options)
                self.backend = "docker"
                _watch_containers(self.sb.session)
            except SandboxUnavailable as exc:
                if backend == "docker":
                    raise
                self.note = str(exc).splitlines()[0]
                log.warning("ray sandbox node %s: NO DOCKER (%s). Running the LOCAL backend, which is NOT a "
                            "security boundary.", socket.gethostname(), self.note)
        if self.backend != "docker":
            same = {k: v for k, v in docker_options.items() if k == "compile_timeout"}  # the host waits by it
            self.sb = create_sandbox("local", workers=workers, **same)
            self.backend = "local"

    def info(self) -> dict:
        return {"host": socket.gethostname(), "pid": os.getpid(), "backend": self.backend,
                "workers": self.sb.workers, "note": self.note, "session": getattr(self.sb, "session", None)}

    def run_batch(self, jobs: list[Job]) -> list[Result]:
        return self.sb.run_many(jobs)

    def stats(self) -> dict:
        return self.sb.stats() if hasattr(self.sb, "stats") else {}

    def close(self) -> dict:
        stats = self.stats()
        self.sb.close()
        if self.backend == "docker":  # containers a killed sibling actor on this host left behind
            from .docker import remove_stale_containers

            remove_stale_containers(self.sb.client)
        return stats


# Runs beside each node's actor, in its own session and detached from it (Ray kills a dead worker's
# children): when the actor's process is gone (ray.kill, its node stopped), the containers it owned are
# removed, even when nothing ran its close().
_WATCHDOG = """
import os, select, sys, time
if os.fork():
    os._exit(0)
import docker
pid, session = int(sys.argv[1]), sys.argv[2]
try:
    select.select([os.pidfd_open(pid)], [], [])
except (AttributeError, OSError):
    while os.path.exists(f"/proc/{pid}"):
        time.sleep(0.5)
client = docker.from_env()
label = "wizardcoder.sandbox.session=" + session
quiet = 0
for _ in range(20):  # until two listings in a row are empty: a create call in flight may still land
    left = client.containers.list(all=True, filters={"label": label})
    for c in left:
        try:
            c.remove(force=True)
        except Exception:
            pass
    quiet = 0 if left else quiet + 1
    if quiet == 2:
        break
    time.sleep(1.5)
"""


def _watch_containers(session: str) -> None:
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", _WATCHDOG, str(os.getpid()), session], start_new_session=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
                   check=False)


class _Node:
    """The driver's view of one actor: its address, capacity and jobs in flight."""

    __slots__ = ("actor", "alive", "cap", "in_flight", "info", "node_id", "workers")

    def __init__(self, actor, node_id: str, info: dict, in_flight_per_worker: int) -> None:
        self.actor, self.node_id, self.info = actor, node_id, info
        self.workers = max(1, int(info["workers"]))
        self.cap = in_flight_per_worker * self.workers
        self.in_flight = 0
        self.alive = True


class RaySandbox(Sandbox):
    """Sandbox jobs spread over a Ray cluster; see the module docstring.

    Args:
        workers: sandbox workers per node (default: the node's CPU count as Ray sees it).
        workers_total: instead, this many workers in all, spread evenly over the nodes.
        address: the cluster ("host:port", "auto", "ray://..."); default RAY_ADDRESS, else an error.
        node_backend: "auto" (Docker, else the local backend, loudly), "docker" or "local".
        batch_size: most jobs sent to a node in one call. in_flight_per_worker: jobs in flight per node
            worker (backpressure); a node holds at most that many x its workers.
        ship_code: send this `sandbox` package to the nodes (Ray py_modules) instead of relying on the
            copy installed there.
        image, memory_mb, cpus, ...: passed to each node's Docker sandbox.
    """

    def __init__(self, workers: int | None = None, *, address: str | None = None, workers_total: int | None = None,
                 node_backend: str = "auto",
                 batch_size: int = 16, in_flight_per_worker: int = 8, ship_code: bool = True,
                 start_timeout: float = 180.0, **docker_options) -> None:
        if node_backend not in ("auto", "docker", "local"):
            raise SandboxError(f"node_backend must be auto, docker or local, got {node_backend!r}")
        if workers is not None and int(workers) < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        self._ray = ray = _import_ray()
        self.address = address or os.environ.get("RAY_ADDRESS") or ""
        if not self.address:
            raise SandboxUnavailable(NO_ADDRESS)
        self.batch_size = max(1, int(batch_size))
        self.compile_timeout = float(docker_options.get("compile_timeout", DEFAULT_COMPILE_TIMEOUT))
        self._in_flight_per_worker = max(1, int(in_flight_per_worker))
        self._lock = threading.Lock()
        self._closed = False
        self.counters: collections.Counter[str] = collections.Counter()
        self._own_ray = not ray.is_initialized()
        if self._own_ray:
            _check_reachable(self.address)
            runtime_env = {"py_modules": [os.path.dirname(os.path.abspath(__file__))]} if ship_code else None
            try:
                ray.init(address=self.address, runtime_env=runtime_env, log_to_driver=False,
                         logging_level=logging.WARNING)
            except Exception as exc:  # ConnectionError, RuntimeError, ... all mean "no cluster"
                raise SandboxUnavailable(f"cannot connect to the Ray cluster at {self.address!r}: {exc}. "
                                         f"Check RAY_ADDRESS / sandbox.ray_address (`ray status` on the head "
                                         f"shows it)") from exc
        try:
            self._nodes = self._start_actors(workers, workers_total, node_backend, docker_options, start_timeout)
        except BaseException:
            self.close()
            raise
        self.workers = sum(n.workers for n in self._nodes)
        log.info("ray sandbox ready: %d node(s), %d workers (%s)", len(self._nodes), self.workers,
                 ", ".join(f"{n.info['host']}: {n.info['backend']} x{n.workers}" for n in self._nodes))

    # ------------------------------------------------------------------------------- start-up
    def _start_actors(self, workers, workers_total, node_backend, docker_options, timeout) -> list[_Node]:
        ray = self._ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        alive = [n for n in ray.nodes() if n.get("Alive")]
        if not alive:
            raise SandboxUnavailable(f"the Ray cluster at {self.address!r} has no alive node")
        remote_cls = ray.remote(NodeSandbox)
        pending = {}
        for i, node in enumerate(alive):
            if workers_total:
                base, extra = divmod(int(workers_total), len(alive))
                per_node = base + (i < extra)
                if not per_node:
                    continue
            else:
                per_node = workers or max(1, int(node.get("Resources", {}).get("CPU", 1)))
            actor = remote_cls.options(
                # a batch holds >= 1 job and a node >= in_flight_per_worker x workers jobs: one thread each
                num_cpus=0, max_restarts=0, max_concurrency=self._in_flight_per_worker * per_node + 4,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
            ).remote(node_backend, per_node, docker_options)
            pending[actor.info.remote()] = (actor, node["NodeID"])
        nodes, problems = [], []
        ready, not_ready = ray.wait(list(pending), num_returns=len(pending), timeout=timeout)
        for ref in ready:
            actor, node_id = pending[ref]
            try:
                nodes.append(_Node(actor, node_id, ray.get(ref), self._in_flight_per_worker))
            except Exception as exc:  # noqa: BLE001 - that node cannot serve; the others may
                problems.append(f"node {node_id[:12]}: {_cause(exc)}")
                ray.kill(actor, no_restart=True)
        for ref in not_ready:
            actor, node_id = pending[ref]
            problems.append(f"node {node_id[:12]}: its sandbox did not start within {timeout:g}s")
            ray.kill(actor, no_restart=True)
        if problems:
            log.warning("ray sandbox: %d node(s) left out: %s", len(problems), "; ".join(problems))
        if not nodes:
            raise SandboxUnavailable("no node of the Ray cluster could open a sandbox: " + "; ".join(problems))
        for n in nodes:
            if n.info["backend"] != "docker":
                log.warning("ray sandbox: node %s has no Docker (%s): it runs jobs with the LOCAL backend, "
                            "which is NOT a security boundary", n.info["host"], n.info["note"] or "local chosen")
        return nodes

    # ------------------------------------------------------------------------------- jobs
    def run(self, job: Job) -> Result:
        return self.run_many([job])[0]

    def run_many(self, jobs: Iterable[Job], progress: Callable[[Result], None] | None = None) -> list[Result]:
        jobs = list(jobs)
        for job in jobs:
            if not isinstance(job, Job):
                raise TypeError(f"the sandbox runs sandbox.Job objects, got {type(job).__name__}")
        if self._closed:
            raise SandboxError("the sandbox is closed")
        return _Dispatch(self, jobs, progress).run()

    @property
    def nodes(self) -> list[dict]:
        """Each node's actor: host, pid, backend, workers, and whether it is still in the rotation."""
        return [dict(n.info, alive=n.alive) for n in self._nodes]

    def _lose(self, node: _Node, why: str) -> bool:
        """Take `node` out of the rotation (once); True if this call did it."""
        with self._lock:
            if not node.alive:
                return False
            node.alive = False
            self.counters["nodes_lost"] += 1
        log.warning("ray sandbox: lost node %s (%s); its unfinished jobs go to the other nodes",
                    node.info.get("host"), why)
        try:
            self._ray.kill(node.actor, no_restart=True)
        except Exception as exc:  # noqa: BLE001 - already gone
            log.debug("ray.kill: %s", exc)
        return True

    def stats(self) -> dict:
        """Counters for a stage's stats.json: jobs, batches, nodes lost, jobs resubmitted or lost twice,
        plus each live node's own sandbox counters summed."""
        out = dict(self.counters)
        refs = [n.actor.stats.remote() for n in self._nodes if n.alive]
        try:
            for node_stats in self._ray.get(refs, timeout=30):
                for key, value in node_stats.items():
                    out[f"node_{key}"] = out.get(f"node_{key}", 0) + value
        except Exception as exc:  # noqa: BLE001 - stats are best effort
            log.debug("ray sandbox stats: %s", exc)
        out["nodes"] = sum(n.alive for n in self._nodes)
        return out

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        ray = self._ray
        nodes = getattr(self, "_nodes", [])
        refs = {n.actor.close.remote(): n for n in nodes if n.alive}
        if refs:
            _, late = ray.wait(list(refs), num_returns=len(refs), timeout=90)
            for ref in late:
                log.warning("ray sandbox: node %s did not close its sandbox in time", refs[ref].info.get("host"))
        for n in nodes:
            try:
                ray.kill(n.actor, no_restart=True)
            except Exception as exc:  # noqa: BLE001 - already gone
                log.debug("ray.kill: %s", exc)
        if self._own_ray and ray.is_initialized():
            ray.shutdown()

    def __repr__(self) -> str:
        return f"RaySandbox(address={self.address!r}, nodes={len(getattr(self, '_nodes', []))})"


class _Dispatch:
    """One run_many call: batches out to the nodes, results back as batches finish, resubmission on loss."""

    def __init__(self, sb: RaySandbox, jobs: list[Job], progress) -> None:
        self.sb, self.ray, self.jobs, self.progress = sb, sb._ray, jobs, progress
        self.results: list[Result | None] = [None] * len(jobs)
        self.todo = collections.deque(range(len(jobs)))
        self.lost = collections.Counter()
        self.flight: dict = {}  # ObjectRef -> (node, indices, deadline)
        self.left = len(jobs)

    def run(self) -> list[Result]:
        while self.left:
            self._fill()
            if not self.flight:
                self._fail_waiting("no Ray node is left to run it (every node died or was lost)")
                break
            ready, _ = self.ray.wait(list(self.flight), num_returns=1, timeout=1.0)
            if ready:  # everything else that is done too, in one go
                ready, _ = self.ray.wait(list(self.flight), num_returns=len(self.flight), timeout=0)
            for ref in ready:
                if ref in self.flight:  # not already requeued with its node's other batches
                    self._collect(ref)
            now = time.monotonic()
            for ref, (node, _, deadline) in list(self.flight.items()):
                if ref in self.flight and now > deadline:
                    self.sb._lose(node, "a batch outlived every limit of its jobs")
                    self._requeue(node, "its node stopped answering")
        return self.results  # type: ignore[return-value]

    def _fill(self) -> None:
        sb = self.sb
        live = [n for n in sb._nodes if n.alive]
        total = sum(n.workers for n in live) or 1
        while self.todo:
            with sb._lock:
                free = [n for n in live if n.alive and n.in_flight < n.cap]
                if not free:
                    return
                node = min(free, key=lambda n: n.in_flight / n.workers)
                k = min(sb.batch_size, max(1, node.cap // 2), node.cap - node.in_flight,
                        max(1, math.ceil(len(self.todo) / (2 * total))))
                indices = [self.todo.popleft() for _ in range(min(k, len(self.todo)))]
                queued = node.in_flight
                node.in_flight += len(indices)
            batch = [self.jobs[i] for i in indices]
            ref = node.actor.run_batch.remote(batch)
            # Worst case: every job queued on this node before it, then this batch, each at its full limit.
            limit = sb.compile_timeout
            budget = (sum(host_timeout(j, limit) for j in batch)
                      + queued * host_timeout(batch[0], limit) / node.workers)
            self.flight[ref] = (node, indices, time.monotonic() + budget + BATCH_SLACK)
            sb.counters["batches"] += 1

    def _collect(self, ref) -> None:
        node, indices, _ = self.flight.pop(ref)
        with self.sb._lock:
            node.in_flight -= len(indices)
        try:
            answers = self.ray.get(ref)
            if len(answers) != len(indices):
                raise SandboxError(f"{len(answers)} results for {len(indices)} jobs")
        except Exception as exc:  # noqa: BLE001 - RayActorError, node death, a broken node sandbox
            self.sb._lose(node, _cause(exc))
            self._give_back(node, indices, _cause(exc))
            self._requeue(node, _cause(exc))
            return
        for i, result in zip(indices, answers):
            self._finish(i, result)
            self.sb.counters["jobs"] += 1

    def _requeue(self, node: _Node, why: str) -> None:
        """Every batch still in flight on a lost node: its jobs go back in the queue (or ERROR)."""
        for ref, (other, indices, _) in list(self.flight.items()):
            if other is node:
                del self.flight[ref]
                with self.sb._lock:
                    node.in_flight -= len(indices)
                self._give_back(node, indices, why)

    def _give_back(self, node: _Node, indices: list[int], why: str) -> None:
        for i in indices:
            self.lost[i] += 1
            if self.lost[i] >= LOST_LIMIT:
                self.sb.counters["jobs_lost_twice"] += 1
                self._finish(i, Result.error(f"the Ray node running this job died {self.lost[i]} times "
                                             f"(last: {node.info.get('host')}: {why})"))
            else:
                self.sb.counters["jobs_resubmitted"] += 1
                self.todo.appendleft(i)

    def _fail_waiting(self, why: str) -> None:
        while self.todo:
            self._finish(self.todo.popleft(), Result.error(why))

    def _finish(self, i: int, result: Result) -> None:
        self.results[i] = result
        self.left -= 1
        if self.progress is not None:
            self.progress(result)


def _cause(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"[:300]


def _check_reachable(address: str) -> None:
    """Fail fast, with the fix, when a host:port address has nothing listening (ray.init would retry for a
    minute)."""
    if address in ("auto", "local") or "://" in address:
        return
    host, _, port = address.rpartition(":")
    host = host.strip("[]")  # [::1]:6379
    if not host or not port.isdigit():
        raise SandboxUnavailable(f"ray address {address!r}: use host:port (e.g. 10.0.0.1:6379), 'auto' or "
                                 f"ray://host:10001")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise SandboxUnavailable(f"no Ray cluster answers at {address} ({exc}). Start one with "
                                 f"`ray start --head --port {port}` or fix RAY_ADDRESS / sandbox.ray_address") from exc


__all__ = ["NodeSandbox", "RaySandbox"]
