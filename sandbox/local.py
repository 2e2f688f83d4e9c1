"""Local process backend, for machines without Docker.

THIS IS NOT A SECURITY BOUNDARY. Programs run as your user, can read and write your files, and are
held only by resource limits. Use the Docker backend for untrusted code (model samples!).

Each worker is `sandbox/worker.py` (the same fork server the containers run) started as a child
process; where the OS allows unprivileged user namespaces it runs under
``unshare --user --map-root-user --net --ipc --pid --fork --mount-proc``: no network, private SysV
IPC, and the worker is PID 1 of its own pid namespace, so every process a job leaves behind (even
one that called setsid) is killed after the job. Where that is not allowed it falls back to
``unshare --user --map-root-user --net`` only, then to nothing (recorded in `LocalSandbox.isolation`
and logged). Jobs always get their own session, rlimits (address space, CPU, file size, processes),
a fresh directory, and a hard kill on timeout.
"""

from __future__ import annotations

import functools
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

from .base import Channel, PooledSandbox, WorkerPool, default_workers
from .types import SandboxError

log = logging.getLogger(__name__)

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
_UNSHARE_LEVELS = {
    "user+net+pid+ipc": ["--user", "--map-root-user", "--net", "--ipc", "--pid", "--fork", "--mount-proc",
                         "--kill-child"],
    "user+net": ["--user", "--map-root-user", "--net"],
}


@functools.cache
def probe_isolation() -> tuple[str, tuple[str, ...]]:
    """The strongest `unshare` setup that works here: (name, argv prefix); ("none", ()) if none does."""
    unshare = shutil.which("unshare")
    if unshare and sys.platform.startswith("linux"):
        for name, flags in _UNSHARE_LEVELS.items():
            try:
                probe = subprocess.run([unshare, *flags, "true"], capture_output=True, timeout=10,
                                       check=False)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if probe.returncode == 0:
                return name, (unshare, *flags)
    return "none", ()


def _clean_env() -> dict[str, str]:
    """The worker's whole environment: jobs must not see the host's (API keys!), not even through
    /proc/self/environ, which shows the environment the worker was started with."""
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "C.UTF-8"}
    for key in ("JAVA_HOME", "SYSTEMROOT"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


class _Process(Channel):
    def __init__(self, argv: list[str], root: str, startup_timeout: float, name: str) -> None:
        self.name = name
        self.root = root
        self._killed = False
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True,
                                     cwd=root, bufsize=0, env=_clean_env())
        self._out = self.proc.stdout.fileno()
        try:
            self.hello = self.handshake(startup_timeout)
        except Exception:
            self.kill()
            raise

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        fd = self.proc.stdin.fileno()
        while view:
            view = view[os.write(fd, view):]

    def read_some(self, timeout: float) -> bytes | None:
        ready, _, _ = select.select([self._out], [], [], max(timeout, 0))
        if not ready:
            return None
        try:
            return os.read(self._out, 1 << 20)
        except OSError:
            return b""

    def kill(self) -> None:
        if self._killed:
            return
        self._killed = True
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.warning("local sandbox worker %s did not die", self.name)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def diagnose(self):
        from .types import Status

        code = self.proc.poll()
        return Status.ERROR, (f"the local sandbox worker {self.name} died while the job ran "
                              f"(exit status {code})")


class LocalSandbox(PooledSandbox):
    """Runs jobs as local processes. NOT a security boundary (see the module docstring).

    Args:
        workers: concurrent worker processes (default: os.cpu_count()).
        python: interpreter for Python jobs (default: this one, sys.executable).
        isolation: "auto" (the strongest `unshare` setup that works), or "none".
        compile_timeout: seconds allowed to g++/javac, on top of the job's timeout.
    """

    def __init__(self, workers: int | None = None, *, python: str | None = None, isolation: str = "auto",
                 compile_timeout: float = 60.0, startup_timeout: float = 30.0, spares: int = 0) -> None:
        self.workers = default_workers(workers)
        self.python = python or sys.executable
        self.compile_timeout = float(compile_timeout)
        if isolation not in ("auto", "none"):
            raise SandboxError(f"isolation must be 'auto' or 'none', got {isolation!r}")
        self.isolation, self._prefix = probe_isolation() if isolation == "auto" else ("none", ())
        self._startup_timeout = float(startup_timeout)
        self._seq = 0
        self._seq_lock = threading.Lock()
        log.warning("local sandbox: NOT a security boundary (programs run as your user; isolation: %s). "
                    "Use --sandbox docker for untrusted code.", self.isolation)
        self._pool = WorkerPool(self._start_worker, self.workers, spares=spares, name="local-sandbox")

    def _start_worker(self) -> _Process:
        with self._seq_lock:
            self._seq += 1
            seq = self._seq
        root = tempfile.mkdtemp(prefix="wizardcoder-sandbox-")
        argv = [*self._prefix, self.python, "-I", WORKER, "--root", root, "--scan", ""]
        try:
            return _Process(argv, root, self._startup_timeout, name=f"local-{os.getpid()}-{seq}")
        except Exception:
            shutil.rmtree(root, ignore_errors=True)
            raise

    def __repr__(self) -> str:
        return f"LocalSandbox(workers={self.workers}, python={self.python!r}, isolation={self.isolation!r})"


__all__ = ["LocalSandbox", "probe_isolation"]
