"""The Sandbox interface, and the pool of persistent workers both backends are built on.

A backend starts *workers*: processes that run `sandbox/worker.py` (a fork server) and speak
newline-delimited JSON over a byte channel (a container's attached stdin/stdout for Docker, pipes for
the local backend). The pool hands jobs to an idle worker (run_many queues a small batch at once, so
the worker never waits for a round trip between jobs), enforces the timeout from the host side as
well (a worker that does not answer by timeout + grace is killed and replaced: that job is TIMEOUT),
and replaces any worker a job may have poisoned, in the background, keeping a warm spare ready.
"""

from __future__ import annotations

import abc
import collections
import concurrent.futures as cf
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable

from .types import Job, Result, SandboxError, Status

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # a worker's answer is <= ~1 MiB; anything bigger is a broken channel
HOST_GRACE = 5.0                      # seconds the host waits beyond the job's own limits
DEFAULT_COMPILE_TIMEOUT = 60.0


def host_timeout(job: Job, compile_timeout: float) -> float:
    """How long the host waits for a job before it counts the worker as hung: the job's own limit, the
    compiler's where there is one, and the grace for start-up and reporting."""
    return job.timeout + HOST_GRACE + (compile_timeout if job.language != "python" else 0.0)


class Sandbox(abc.ABC):
    """Runs untrusted programs. Use as a context manager, or call close()."""

    workers: int = 1

    @abc.abstractmethod
    def run(self, job: Job) -> Result:
        """Run one job; infrastructure failures come back as Status.ERROR results (never raised)."""

    def run_many(self, jobs: Iterable[Job], progress: Callable[[Result], None] | None = None) -> list[Result]:
        """Run `jobs` concurrently over the workers; results in input order. `progress(result)` is called
        in the calling thread as each job finishes (completion order)."""
        jobs = list(jobs)
        results: list[Result | None] = [None] * len(jobs)
        if not jobs:
            return []
        in_flight_max = max(1, self.workers) * 2
        pool = cf.ThreadPoolExecutor(max_workers=max(1, self.workers), thread_name_prefix="sandbox-run")
        pending: dict[cf.Future, int] = {}
        next_index = 0
        try:
            while next_index < len(jobs) or pending:
                while next_index < len(jobs) and len(pending) < in_flight_max:
                    pending[pool.submit(self.run, jobs[next_index])] = next_index
                    next_index += 1
                done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    index = pending.pop(fut)
                    results[index] = fut.result()
                    if progress is not None:
                        progress(results[index])
        finally:
            pool.shutdown(wait=not pending, cancel_futures=True)
        return results  # type: ignore[return-value]

    def close(self) -> None:
        """Release every resource (containers, processes). Idempotent."""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------------------------------ workers
class ChannelClosed(Exception):
    """The worker's channel reached EOF (the worker or its container died)."""


class Channel(abc.ABC):
    """One started worker: a byte channel to a fork server, and how to kill it."""

    name: str = "worker"
    _buf: bytes = b""

    @abc.abstractmethod
    def send(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def read_some(self, timeout: float) -> bytes | None:
        """Up to a chunk of the worker's stdout; None when `timeout` passed; b"" at EOF."""

    @abc.abstractmethod
    def kill(self) -> None:
        """Stop the worker hard and release everything it holds (blocking, idempotent)."""

    def diagnose(self) -> tuple[Status, str]:
        """After the channel closed mid-job: the job's status and reason (FAILED "oom" or ERROR)."""
        return Status.ERROR, f"the sandbox worker {self.name} died while the job ran"

    def recv_line(self, deadline: float) -> bytes | None:
        """One protocol line; None when `deadline` (time.monotonic()) passed. Raises ChannelClosed."""
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            chunk = self.read_some(remaining)
            if chunk is None:
                return None
            if not chunk:
                raise ChannelClosed(self.name)
            self._buf += chunk
            if len(self._buf) > MAX_RESPONSE_BYTES:
                raise ChannelClosed(f"{self.name}: oversized answer")
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def handshake(self, timeout: float) -> dict:
        line = self.recv_line(time.monotonic() + timeout)
        if line is None:
            raise SandboxError(f"the sandbox worker {self.name} did not start within {timeout:g}s")
        hello = json.loads(line)
        if not hello.get("ready"):
            raise SandboxError(f"the sandbox worker {self.name} sent an unexpected greeting: {line[:200]!r}")
        return hello


class _Slot:
    __slots__ = ("channel",)

    def __init__(self, channel: Channel | None) -> None:
        self.channel = channel


class WorkerPool:
    """`size` workers made by `start()`, each serving one queue of jobs, plus `spares` warm replacements."""

    def __init__(self, start: Callable[[], Channel], size: int, spares: int = 1,
                 name: str = "sandbox") -> None:
        self._start = start
        self._name = name
        self._closed = False
        self._lock = threading.Lock()
        self._live: set[Channel] = set()
        self._idle: queue.Queue[_Slot] = queue.Queue()
        self._spares: queue.Queue[Channel] = queue.Queue()
        self._bg = cf.ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{name}-recycle")
        self.counters: collections.Counter[str] = collections.Counter()
        channels, errors = [], []
        with cf.ThreadPoolExecutor(max_workers=min(size, 8)) as ex:
            for fut in [ex.submit(self._new_channel) for _ in range(size)]:
                try:
                    channels.append(fut.result())
                except Exception as exc:
                    errors.append(exc)
        if errors:
            self.close()
            raise errors[0]
        for ch in channels:
            self._idle.put(_Slot(ch))
        for _ in range(max(0, spares)):
            self._bg.submit(self._add_spare)

    # ---------------------------------------------------------------------------- lifecycle
    def _new_channel(self) -> Channel:
        ch = self._start()
        self.counters["workers_started"] += 1
        with self._lock:
            closed = self._closed
            if not closed:
                self._live.add(ch)
        if closed:
            ch.kill()
            raise SandboxError("the sandbox is closed")
        return ch

    def _kill(self, ch: Channel | None) -> None:
        if ch is None:
            return
        with self._lock:
            self._live.discard(ch)
        try:
            ch.kill()
        except Exception as exc:
            log.debug("killing %s failed: %s", ch.name, exc)

    def _add_spare(self) -> None:
        try:
            self._spares.put(self._new_channel())
        except Exception as exc:
            if not self._closed:
                log.warning("could not start a spare sandbox worker: %s", exc)

    def _recycle(self, slot: _Slot, why: str) -> None:
        """Replace the slot's worker: with a warm spare if there is one (the slot is free at once), else with
        a fresh one started in the background. The old one is killed in the background."""
        old, slot.channel = slot.channel, None
        log.debug("recycling %s: %s", old.name if old else "?", why)
        self.counters["workers_recycled"] += 1
        try:
            slot.channel = self._spares.get_nowait()
        except queue.Empty:
            pass
        got_spare = slot.channel is not None

        def work() -> None:
            self._kill(old)
            if got_spare:
                if not self._closed:
                    self._add_spare()
                return
            try:
                slot.channel = self._new_channel()
            except Exception as exc:
                if not self._closed:
                    log.warning("could not start a sandbox worker: %s", exc)
            self._idle.put(slot)

        if got_spare:
            self._idle.put(slot)
        try:
            self._bg.submit(work)
        except RuntimeError:  # the pool is closed
            self._kill(old)
            if not got_spare:
                self._idle.put(slot)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            live = list(self._live)
        self._bg.shutdown(wait=False, cancel_futures=True)
        # Plain threads, not an executor: close() also runs from atexit, where concurrent.futures
        # refuses new work.
        threads = []
        for ch in live:
            try:
                t = threading.Thread(target=self._kill, args=(ch,), daemon=True)
                t.start()
                threads.append(t)
            except RuntimeError:  # no new threads at interpreter shutdown: kill in line
                self._kill(ch)
        for t in threads:
            t.join(60)

    @property
    def closed(self) -> bool:
        return self._closed

    # ---------------------------------------------------------------------------- jobs
    def _take(self) -> _Slot:
        while True:
            if self._closed:
                raise SandboxError("the sandbox is closed")
            try:
                return self._idle.get(timeout=0.5)
            except queue.Empty:
                continue

    def execute(self, requests: list[dict], host_timeouts: list[float]) -> list[Result | dict | None]:
        """Queue `requests` on one idle worker at once (it runs them back to back) and collect the answers in
        order. Each entry is the worker's answer (dict); a Result the host decided (ERROR when the
        infrastructure broke, TIMEOUT when the worker did not answer in time); or None: not run (the worker
        was recycled before reaching it), to be run again elsewhere."""
        slot = self._take()
        started = time.monotonic()
        out: list[Result | dict | None] = [None] * len(requests)
        if slot.channel is None:
            try:
                slot.channel = self._new_channel()
            except Exception as exc:
                self._idle.put(slot)
                out[0] = Result.error(f"could not start a sandbox worker: {exc}", time.monotonic() - started)
                return out
        ch = slot.channel
        recycle = ""
        t_prev = started
        for i, request in enumerate(requests):  # a job needing a module the worker lacks is not run
            out[i] = _unmet_requirements(ch, request)
        pending = [(i, request) for i, request in enumerate(requests) if out[i] is None]
        try:
            if pending:
                ch.send(b"".join((json.dumps(r) + "\n").encode() for _, r in pending))
        except OSError as exc:
            out[pending[0][0]] = self._lost(ch, exc, started)
            recycle = f"send failed: {exc}"
            pending = []
        for i, request in pending:
            try:
                line = ch.recv_line(t_prev + host_timeouts[i])
            except (ChannelClosed, OSError) as exc:
                out[i] = self._lost(ch, exc, t_prev)
                recycle = out[i].reason or "channel closed"
                break
            if line is None:
                out[i] = Result(Status.TIMEOUT, None, "", "", time.monotonic() - t_prev,
                                f"timeout: the worker did not answer within {host_timeouts[i]:g}s "
                                f"(killed from the host)")
                recycle = "host-side timeout"
                self.counters["host_timeouts"] += 1
                break
            try:
                answer = json.loads(line)
                if answer.get("id") != request.get("id"):
                    raise ValueError(f"answer for job {answer.get('id')!r}, expected {request.get('id')!r}")
            except ValueError as exc:
                out[i] = Result.error(f"protocol error from the sandbox worker: {exc}",
                                      time.monotonic() - t_prev)
                recycle = "protocol error"
                break
            if answer.get("status") == "skipped":
                recycle = "draining"
                break
            out[i] = answer
            self.counters["jobs"] += 1
            if answer.get("recycle"):
                recycle = answer["recycle"]
                break
            t_prev = time.monotonic()
        if recycle:
            self._recycle(slot, recycle)
        else:
            self._idle.put(slot)
        return out

    def _lost(self, ch: Channel, exc: Exception, since: float) -> Result:
        """The Result of a job whose worker channel broke while it ran."""
        if self._closed:
            status, reason = Status.ERROR, "the sandbox was closed while the job ran"
        else:
            status, reason = ch.diagnose()
            if status is Status.ERROR and str(exc):
                reason = f"{reason} ({type(exc).__name__}: {exc})"
        return Result(status, None, "", "", time.monotonic() - since, reason)


class PooledSandbox(Sandbox):
    """A Sandbox whose jobs run on a WorkerPool (both shipped backends)."""

    compile_timeout: float = DEFAULT_COMPILE_TIMEOUT
    max_batch: int = 8  # jobs run_many queues at once on one worker
    _pool: WorkerPool | None = None
    _counter = 0
    _counter_lock = threading.Lock()

    def run(self, job: Job) -> Result:
        (result,) = self._run_batch([job])
        return result if result is not None else Result.error("the job was not run (its worker was recycled)")

    def _run_batch(self, jobs: list[Job]) -> list[Result | None]:
        for job in jobs:
            if not isinstance(job, Job):
                raise TypeError(f"the sandbox runs sandbox.Job objects, got {type(job).__name__}")
        if self._pool is None or self._pool.closed:
            raise SandboxError("the sandbox is closed")
        requests, host_timeouts = [], []
        for job in jobs:
            with self._counter_lock:
                PooledSandbox._counter += 1
                job_id = PooledSandbox._counter
            requests.append({"id": job_id, "language": job.language, "program": job.program,
                             "files": dict(job.files), "stdin": job.stdin, "timeout": job.timeout,
                             "memory_mb": job.memory_mb, "success_marker": job.success_marker,
                             "compile_timeout": self.compile_timeout, "requires": list(job.requires)})
            host_timeouts.append(host_timeout(job, self.compile_timeout))
        return [a if a is None or isinstance(a, Result) else _to_result(a)
                for a in self._pool.execute(requests, host_timeouts)]

    def run_many(self, jobs: Iterable[Job], progress: Callable[[Result], None] | None = None) -> list[Result]:
        """Like Sandbox.run_many, but each worker gets small batches queued at once, so it never idles
        waiting for the host between jobs. Jobs a recycled worker had not reached run again elsewhere."""
        jobs = list(jobs)
        n = len(jobs)
        if not n:
            return []
        results: list[Result | None] = [None] * n
        todo = collections.deque(range(n))
        lock = threading.Lock()
        finished: queue.Queue = queue.Queue()
        stop = threading.Event()

        def take() -> list[int]:
            with lock:
                k = max(1, min(self.max_batch, len(todo) // (2 * self.workers)))
                return [todo.popleft() for _ in range(min(k, len(todo)))]

        def loop() -> None:
            try:
                while not stop.is_set():
                    batch = take()
                    if not batch:
                        return
                    again = []
                    for index, result in zip(batch, self._run_batch([jobs[i] for i in batch])):
                        if result is None:
                            again.append(index)
                        else:
                            finished.put((index, result))
                    if again:
                        with lock:
                            todo.extendleft(reversed(again))
            except BaseException as exc:
                finished.put((None, exc))

        threads = [threading.Thread(target=loop, name=f"sandbox-run-{i}", daemon=True)
                   for i in range(min(self.workers, n))]
        for t in threads:
            t.start()
        done = 0
        try:
            while done < n:
                index, result = finished.get()
                if index is None:
                    raise result
                results[index] = result
                done += 1
                if progress is not None:
                    progress(result)
        finally:
            stop.set()
        return results  # type: ignore[return-value]

    def stats(self) -> dict[str, int]:
        """Counters for a stage's stats.json: jobs answered by workers, workers started and recycled
        (a job may have poisoned them), host-side timeouts."""
        return dict(self._pool.counters) if self._pool is not None else {}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


def _to_result(answer: dict) -> Result:
    try:
        return Result(status=Status(answer["status"]), exit_code=answer.get("exit_code"),
                      stdout=answer.get("stdout", ""), stderr=answer.get("stderr", ""),
                      duration=float(answer.get("duration", 0.0)), reason=answer.get("reason", ""))
    except (KeyError, ValueError, TypeError) as exc:
        return Result.error(f"malformed answer from the sandbox worker: {exc}")


def _unmet_requirements(ch: Channel, request: dict) -> Result | None:
    """ERROR for a job that requires a Python module the worker did not report in its ready frame (a sandbox
    image older than the job's needs, a local python without it): never a verdict on the program."""
    have = getattr(ch, "hello", {}).get("modules") or {}
    missing = [module for module in request.get("requires") or () if module not in have]
    if not missing:
        return None
    return Result.error(f"{', '.join(missing)} is not installed where the sandbox runs (the program needs it): "
                        "rebuild the sandbox image (bash sandbox/build_image.sh), or install it for the local "
                        "backend's python")


def default_workers(workers: int | None) -> int:
    if workers is None:
        return max(1, os.cpu_count() or 1)
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    return int(workers)


__all__ = ["Channel", "ChannelClosed", "PooledSandbox", "Sandbox", "WorkerPool", "default_workers"]
