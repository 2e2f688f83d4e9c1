"""Docker backend: a pool of warm, locked-down containers, each running the fork-server worker as PID 1.

Every container: no network (``network_mode="none"``), read-only root filesystem, small sized tmpfs
mounts (``/tmp`` and the work dir ``/work``), user 65534, all capabilities dropped,
``no-new-privileges``, memory (no swap), pids and CPU limits, and labels
(``wizardcoder.sandbox=1`` plus this sandbox's session) so that containers left behind by a dead
process are found and removed. The host talks to the worker over the container's attached
stdin/stdout (one long-lived attach stream per container, opened through the docker SDK), so a job
costs a fork inside an already running container instead of a ``docker exec``. Where the engine runs on
this machine, the channel is a Unix socket instead: the host listens on a socket file bind-mounted
read-only into the container (one per container), the worker connects at start (the host checks that the
peer is the container's PID 1, then removes the file and stops listening), and jobs and answers bypass
the engine (an attach stream costs dockerd and the containerd shim ~0.4 ms of CPU per job, measured).

A container that a job may have poisoned (timeout, OOM kill, leftover processes or files, a dead
worker) is replaced by a fresh one; a warm spare makes the swap immediate.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import signal
import socket
import struct
import tempfile
import threading
import time
import uuid
import weakref

import docker
import docker.errors
from docker.types import LogConfig, Mount

from .base import DEFAULT_COMPILE_TIMEOUT, Channel, PooledSandbox, WorkerPool, default_workers
from .types import SandboxUnavailable, Status

log = logging.getLogger(__name__)

DEFAULT_IMAGE = os.environ.get("WIZARDCODER_SANDBOX_IMAGE", "wizardcoder-sandbox:latest")
LABEL = "wizardcoder.sandbox"
SESSION_LABEL = "wizardcoder.sandbox.session"
OWNER_LABEL = "wizardcoder.sandbox.owner"
WORK_DIR = "/work"
USER = "65534:65534"
CHANNEL_PATH = "/run/wizardcoder-sandbox.sock"  # where a container sees its channel socket

_OPEN: weakref.WeakSet[DockerSandbox] = weakref.WeakSet()
_HOOKS_LOCK = threading.Lock()
_HOOKS_INSTALLED = False


def _close_all() -> None:
    for sb in list(_OPEN):
        try:
            sb.close()
        except Exception:
            pass


def _install_exit_hooks() -> None:
    """atexit closes every open sandbox; SIGTERM (when nobody else handles it) exits through atexit too.
    SIGINT raises KeyboardInterrupt as usual, which also ends in atexit (and in `with` blocks, close())."""
    global _HOOKS_INSTALLED
    with _HOOKS_LOCK:
        if _HOOKS_INSTALLED:
            return
        _HOOKS_INSTALLED = True
        atexit.register(_close_all)
        if threading.current_thread() is threading.main_thread():
            try:
                if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                    def on_term(signum, frame):
                        raise SystemExit(128 + signum)
                    signal.signal(signal.SIGTERM, on_term)
            except (ValueError, OSError):
                pass


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_containers(client) -> int:
    """Remove labelled sandbox containers whose owning process (on this host) is gone. Returns the count."""
    host = socket.gethostname()
    removed = 0
    try:
        containers = client.containers.list(all=True, filters={"label": f"{LABEL}=1"})
    except docker.errors.APIError as exc:
        log.debug("listing stale containers failed: %s", exc)
        return 0
    for c in containers:
        owner = (c.labels or {}).get(OWNER_LABEL, "")
        owner_host, _, pid = owner.rpartition(":")
        if owner_host != host or not pid.isdigit() or _pid_alive(int(pid)):
            continue
        try:
            c.remove(force=True)
            removed += 1
        except docker.errors.APIError as exc:
            log.debug("removing stale container %s failed: %s", c.name, exc)
    if removed:
        log.info("removed %d stale sandbox container(s) of dead sessions", removed)
    return removed


class ChannelSetupError(Exception):
    """The socket channel could not be set up for a container (the engine cannot bind-mount this machine's
    files, or the worker never connected): the sandbox falls back to the attach stream."""


class _Container(Channel):
    """One container running the worker, with its channel: a Unix socket (`socket_path`: the host listens,
    the worker connects), or the attach stream (multiplexed stdout frames)."""

    def __init__(self, client, image: str, create_kwargs: dict, name: str, startup_timeout: float,
                 socket_path: str | None = None) -> None:
        self.name = name
        self.client = client
        self.container = None
        self._sock = None
        self._raw = None
        self._raw_buf = b""
        self._framed = socket_path is None
        self._killed = False
        listener = None
        try:
            if socket_path is not None:
                listener = _listen(socket_path)
            created = client.api.create_container(image, name=name, **create_kwargs)
            self.container = client.containers.get(created["Id"])
            if socket_path is None:
                self._sock = client.api.attach_socket(self.container.id,
                                                      params={"stdin": 1, "stdout": 1, "stderr": 0, "stream": 1})
                self._raw = getattr(self._sock, "_sock", self._sock)
            self.container.start()
            if listener is not None:
                self._raw = self._accept(listener, startup_timeout)
            self.hello = self.handshake(startup_timeout)
        except Exception:
            self.kill()
            raise
        finally:
            if listener is not None:
                listener.close()
                try:
                    os.unlink(socket_path)
                except FileNotFoundError:
                    pass

    def _accept(self, listener: socket.socket, timeout: float) -> socket.socket:
        """The worker's connection: only from this container's PID 1 (as the host sees it)."""
        deadline = time.monotonic() + timeout
        init_pid = None
        while time.monotonic() < deadline:
            listener.settimeout(0.2)
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                state = self.client.api.inspect_container(self.container.id)["State"]
                if not state.get("Running"):
                    raise ChannelSetupError(f"the sandbox worker in {self.name} exited (code "
                                            f"{state.get('ExitCode')}) before connecting to its channel")
                continue
            if init_pid is None:
                init_pid = self.client.api.inspect_container(self.container.id)["State"]["Pid"]
            peer_pid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
            if peer_pid == init_pid:
                return conn
            log.warning("refused a connection to the channel of %s from pid %d (not its worker, pid %d)",
                        self.name, peer_pid, init_pid)
            conn.close()
        raise ChannelSetupError(f"the sandbox worker in {self.name} did not connect to its channel "
                                f"within {timeout:g}s")

    # ------------------------------------------------------------------------------- channel
    def send(self, data: bytes) -> None:
        self._raw.settimeout(30.0)
        self._raw.sendall(data)

    def read_some(self, timeout: float) -> bytes | None:
        if not self._framed:
            self._raw.settimeout(max(timeout, 0.001))
            try:
                return self._raw.recv(1 << 20)
            except TimeoutError:
                return None
            except OSError:
                return b""
        out = bytearray()
        while True:
            # Complete frames already buffered: [stream, 0, 0, 0, size (4 bytes, big endian)] + payload.
            while len(self._raw_buf) >= 8:
                size = int.from_bytes(self._raw_buf[4:8], "big")
                if len(self._raw_buf) < 8 + size:
                    break
                if self._raw_buf[0] == 1:  # stdout
                    out += self._raw_buf[8:8 + size]
                self._raw_buf = self._raw_buf[8 + size:]
            if out:
                return bytes(out)
            self._raw.settimeout(max(timeout, 0.001))
            try:
                chunk = self._raw.recv(1 << 20)
            except TimeoutError:
                return None
            except OSError:
                return b""
            if not chunk:
                return b""
            self._raw_buf += chunk

    def kill(self) -> None:
        if self._killed:
            return
        self._killed = True
        for stream in (self._sock, self._raw):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        if self.container is not None:
            try:
                self.container.remove(force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if "already in progress" not in str(exc):
                    log.warning("could not remove sandbox container %s: %s", self.name, exc)

    def diagnose(self) -> tuple[Status, str]:
        try:
            try:
                self.client.api.wait(self.container.id, timeout=3)
            except Exception:
                pass
            state = self.client.api.inspect_container(self.container.id)["State"]
        except docker.errors.NotFound:
            return Status.ERROR, (f"the sandbox container {self.name} vanished while the job ran "
                                  f"(removed from outside?)")
        except Exception as exc:
            return Status.ERROR, f"the sandbox container {self.name} could not be inspected: {exc}"
        if state.get("OOMKilled"):
            return Status.FAILED, "oom"
        if state.get("Running"):
            return Status.ERROR, f"lost the connection to the sandbox worker in {self.name}"
        return Status.ERROR, (f"the sandbox worker in {self.name} exited (code {state.get('ExitCode')}) "
                              f"while the job ran")


class DockerSandbox(PooledSandbox):
    """Warm pool of hardened containers; see the module docstring.

    Args:
        workers: containers serving jobs concurrently (default: os.cpu_count()).
        image: the sandbox image (build it with ``bash sandbox/build_image.sh``).
        memory_mb: memory limit of each container (the JVM and g++ need ~1 GiB); a job's own
            ``Job.memory_mb`` is applied inside as RLIMIT_AS (Python, C++ binaries) or -Xmx plus RLIMIT_DATA
            (Java); compilers get RLIMIT_DATA max(memory_mb, 768) MiB (see sandbox/worker.py).
        cpus: CPUs per container. pids_limit: processes/threads per container (a JVM needs ~30).
        tmp_mb / work_mb: sizes of the /tmp and /work tmpfs mounts (they count against memory_mb).
        compile_timeout: seconds allowed to g++/javac, on top of the job's timeout.
        spares: warm containers kept ready to replace a recycled one immediately.
        cgroup_parent: "auto" puts each container directly under the root cgroup where the engine uses
            cgroup v1 with the cgroupfs driver, so that each container weighs as much CPU as one host
            process (under Docker's default parent, all containers together weigh as much as ONE host
            process, and a busy host, e.g. a model generating on the CPU, starves the sandbox); elsewhere
            the engine's default. None: the engine's default; any other string: that parent.
        channel: how the host talks to each container's worker: "socket" (a Unix socket bind-mounted
            into the container; the engine must run on this machine), "attach" (the container's attached
            stdin/stdout, through the engine), or "auto" (default): "socket" where the engine is local
            (DOCKER_HOST unset or unix://), falling back to "attach" if a container cannot connect.
    """

    def __init__(self, workers: int | None = None, *, image: str = DEFAULT_IMAGE, memory_mb: int = 1024,
                 cpus: float = 1.0, pids_limit: int = 256, tmp_mb: int = 64, work_mb: int = 128,
                 compile_timeout: float = DEFAULT_COMPILE_TIMEOUT, startup_timeout: float = 60.0, spares: int = 1,
                 cgroup_parent: str | None = "auto", channel: str = "auto", client=None) -> None:
        if channel not in ("auto", "socket", "attach"):
            raise ValueError(f"channel must be 'auto', 'socket' or 'attach', got {channel!r}")
        self.workers = default_workers(workers)
        self.image = image
        self.compile_timeout = float(compile_timeout)
        self.session = f"{os.getpid()}-{uuid.uuid4().hex[:10]}"
        self._seq = 0
        self._seq_lock = threading.Lock()
        if client is None:
            try:
                client = docker.from_env(timeout=120, max_pool_size=2 * self.workers + 2 * spares + 8)
                client.ping()
            except Exception as exc:
                raise SandboxUnavailable(_engine_help(exc)) from exc
        self.client = client
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound as exc:
            raise SandboxUnavailable(
                f"the sandbox image {image!r} is missing. Build it with: bash sandbox/build_image.sh "
                f"(or use --sandbox local, which is no security boundary)") from exc
        except docker.errors.APIError as exc:
            raise SandboxUnavailable(_engine_help(exc)) from exc
        remove_stale_containers(client)
        self.cgroup_parent = _cgroup_parent(client) if cgroup_parent == "auto" else cgroup_parent
        self._host_config = {
            "cgroup_parent": self.cgroup_parent,
            "network_mode": "none", "read_only": True,
            "tmpfs": {"/tmp": f"rw,nosuid,nodev,noexec,size={int(tmp_mb)}m,mode=1777",
                      WORK_DIR: f"rw,nosuid,nodev,exec,size={int(work_mb)}m,uid=65534,gid=65534,mode=0700"},
            "shm_size": "16m",
            "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"],
            "mem_limit": f"{int(memory_mb)}m", "memswap_limit": f"{int(memory_mb)}m",
            "pids_limit": int(pids_limit), "nano_cpus": int(float(cpus) * 1e9) if cpus else None,
            "log_config": LogConfig(type=LogConfig.types.NONE),
        }
        self._create_kwargs = dict(
            command=["--root", WORK_DIR, "--scan", "/tmp,/dev/shm,/dev/mqueue"],
            tty=False, detach=False, user=USER, working_dir=WORK_DIR,
            labels={LABEL: "1", SESSION_LABEL: self.session, OWNER_LABEL: _owner()},
        )
        # "auto" falls back to the attach stream if a container cannot use a socket; "socket" fails instead.
        self._channel_fallback = channel == "auto"
        self._closing = False
        if channel == "auto":
            channel = "socket" if _engine_is_local() else "attach"
        self.channel = channel
        self._socket_dir = None
        if channel == "socket":
            # Traversable (not listable) by the containers' user; each socket file is peer-checked.
            self._socket_dir = tempfile.mkdtemp(prefix="wizardcoder-sandbox-channels-")
            os.chmod(self._socket_dir, 0o711)
        self._startup_timeout = float(startup_timeout)
        _install_exit_hooks()
        _OPEN.add(self)
        try:
            self._pool = WorkerPool(self._start_container, self.workers, spares=spares, name="docker-sandbox")
        except BaseException:
            self.close()  # the channel sockets' directory
            raise
        log.info("docker sandbox ready: %d container(s) of %s", self.workers, image)

    def _start_container(self) -> _Container:
        with self._seq_lock:
            self._seq += 1
            name = f"wizardcoder-sandbox-{self.session}-{self._seq}"
        if self.channel == "socket":
            path = os.path.join(self._socket_dir, f"{self._seq}.sock")
            kwargs = {**self._create_kwargs, "command": [*self._create_kwargs["command"], "--connect", CHANNEL_PATH],
                      "host_config": self.client.api.create_host_config(
                          # a mount, not a bind: where the engine cannot see this path (the engine in
                          # another machine or mount namespace) it refuses, instead of making a directory
                          mounts=[Mount(CHANNEL_PATH, path, type="bind", read_only=True)], **self._host_config)}
            try:
                return _Container(self.client, self.image, kwargs, name, self._startup_timeout, socket_path=path)
            except (ChannelSetupError, docker.errors.APIError) as exc:
                if not self._channel_fallback or self._closing:
                    raise
                log.warning("sandbox containers cannot use a socket channel here (%s); using the attach "
                            "stream instead", exc)
                self.channel = "attach"
        kwargs = {**self._create_kwargs, "stdin_open": True,
                  "host_config": self.client.api.create_host_config(**self._host_config)}
        return _Container(self.client, self.image, kwargs, name, self._startup_timeout)

    def close(self) -> None:
        self._closing = True
        super().close()
        _OPEN.discard(self)
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    def __repr__(self) -> str:
        return f"DockerSandbox(workers={self.workers}, image={self.image!r}, session={self.session!r})"


def _engine_is_local() -> bool:
    """Whether the Docker engine runs on this machine (a Unix socket), so that it can bind-mount our files."""
    host = os.environ.get("DOCKER_HOST", "")
    return not host or host.startswith("unix://")


def _listen(path: str) -> socket.socket:
    """A listening Unix socket at `path` that the containers' user may connect to (the peer is checked)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        os.chmod(path, 0o666)
        listener.listen(1)
    except OSError:
        listener.close()
        raise
    return listener


def _cgroup_parent(client) -> str | None:
    try:
        info = client.info()
    except Exception:  # noqa: BLE001 - the engine's default then
        return None
    if info.get("CgroupDriver") == "cgroupfs" and str(info.get("CgroupVersion", "1")) == "1":
        return "/"
    return None


def _engine_help(exc: Exception) -> str:
    return (f"no Docker engine is reachable ({type(exc).__name__}: {exc}). Start it (e.g. "
            f"`sudo systemctl start docker`, or `setsid dockerd >/tmp/dockerd.log 2>&1 &`), check "
            f"DOCKER_HOST and your permission on "
            f"/var/run/docker.sock, or use --sandbox local (no security boundary).")


__all__ = ["DEFAULT_IMAGE", "DockerSandbox", "remove_stale_containers"]
