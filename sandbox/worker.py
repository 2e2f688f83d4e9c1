"""Fork-server worker: runs untrusted programs, one job at a time, for the sandbox backends.

Standalone on purpose (standard library only, Python >= 3.8): it is copied into the sandbox image
and started as the container's PID 1 (Docker backend), or as PID 1 of a fresh pid namespace made
with ``unshare`` (local backend), or as a plain child process where neither is possible.

Protocol: newline-delimited JSON on the attached stdin/stdout, or on a Unix socket the host listens on
(``--connect PATH``, where the host bind-mounted it). The worker writes one ``ready`` frame,
then for each request line ``{"id", "language", "program", "files", "stdin", "timeout", "memory_mb",
"success_marker", ...}`` one response line ``{"id", "status", "exit_code", "stdout", "stderr",
"duration", "reason", "recycle"}``, in order. The host may queue several requests at once (the worker
then never waits for a round trip between jobs). ``recycle`` is non-empty when the job may have
poisoned this worker (timeout, OOM kill, leftover processes or files, a failed cleanup): the host then
replaces it, and the worker answers every request still queued with status ``skipped`` (not run).

Python jobs are forked from this (already warm) interpreter; C++ and Java jobs fork and exec the
compiler and then the program. Before any user code runs, the child closes every file descriptor
of the worker, so user code cannot write to the protocol channel; the worker is non-dumpable (its
/proc/1/fd cannot be opened by jobs) and ignores catchable signals (as PID 1 of a pid namespace it
cannot be SIGKILLed from inside). After each job it kills every other process (``kill(-1)`` is only
used when it is PID 1 of its own namespace), reaps them, and wipes the job directory.

A fork costs CPU in proportion to the worker's memory (page tables copied, then each page a job writes
copied again), so the worker stays small: modules are imported for jobs only once a job uses them
(WARMABLE), what every job would redo is done once here (environment, signals, standard streams, the
AST types compile() builds), and the per-job checks avoid listings (see handle).
"""

from __future__ import annotations

import atexit
import builtins
import errno
import json
import math
import os
import re
import resource
import select
import shutil
import signal
import sys
import time
import traceback
import types

OUTPUT_LIMIT = 64 * 1024          # bytes of stdout/stderr sent back per job (per stream): head + tail
FSIZE_LIMIT = 16 * 1024 * 1024    # RLIMIT_FSIZE for jobs: bounds the files they write (not their output)
PIPE_SIZE = 1 << 20               # asked-for capacity of the output pipes (the kernel may give less)
NPROC_LIMIT = 1024                # RLIMIT_NPROC (second line of defence; the pids cgroup is the first)
NOFILE_LIMIT = 1024
# Compilers get their own memory cap (RLIMIT_DATA: heap and private writable mappings, which a JVM
# tolerates where RLIMIT_AS breaks it): g++ -O2 on <bits/stdc++.h> + <regex> peaks at ~320 MiB.
COMPILE_MEMORY_FLOOR_MB = 768
# A Java job's RLIMIT_DATA: its heap (-Xmx = memory_mb) + the main thread's stack + the JVM's own memory
# (code cache, metaspace, GC, CDS, other threads' stacks: ~40 MiB idle, peaks during start-up and JIT).
JAVA_MAIN_STACK_MB = 64
JVM_OWN_MB = 192
LANGUAGES = ("python", "cpp", "java")
CATCHABLE = [s for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                         signal.SIGUSR2, signal.SIGPIPE, signal.SIGALRM, signal.SIGTSTP, signal.SIGTTIN,
                         signal.SIGTTOU, signal.SIGXCPU, signal.SIGXFSZ, signal.SIGVTALRM, signal.SIGPROF)]
IS_INIT = os.getpid() == 1
try:  # the C function behind signal.signal, whose Python wrapper converts to enums (~0.25 ms per job)
    from _signal import SIG_DFL as _SIG_DFL
    from _signal import signal as _set_signal
except ImportError:  # not CPython
    _SIG_DFL, _set_signal = signal.SIG_DFL, signal.signal
RLIMITS = (resource.RLIMIT_CPU, resource.RLIMIT_FSIZE, resource.RLIMIT_CORE, resource.RLIMIT_NOFILE,
           resource.RLIMIT_NPROC, resource.RLIMIT_AS, resource.RLIMIT_DATA)

# Standard-library modules a job gets warm: the worker imports one (before forking the job) once a job's
# source imports it, so later jobs that import it find it loaded instead of paying for the import
# (typing ~4 ms, unittest ~24 ms). Only on demand: every module the worker holds makes each fork dearer
# (~0.7 us of CPU per page of its memory, copied at fork and released at exit: the whole list costs
# ~1 ms per job, measured in the container). Not `threading`: its after-fork hook runs Python code in
# every child (~0.6 ms of CPU per job, measured). A job still gets a fresh __main__ namespace.
WARMABLE = frozenset((
    "math", "cmath", "re", "collections", "itertools", "functools", "heapq", "bisect", "string", "random",
    "typing", "hashlib", "statistics", "fractions", "decimal", "copy", "datetime", "json", "operator",
    "numbers", "contextlib", "dataclasses", "array", "struct", "unittest", "textwrap", "calendar",
))
_IMPORT_RE = re.compile(r"^[ \t]*(?:from[ \t]+([A-Za-z_]\w*)|import[ \t]+([^\n#;]+))", re.MULTILINE)


def imported_modules(source: str) -> set[str]:
    """Top-level names of the modules `source` imports with import statements (a cheap scan, not a parse:
    it only decides what the worker warms up)."""
    found = set()
    if "import" not in source:
        return found
    for match in _IMPORT_RE.finditer(source):
        if match.group(1):
            found.add(match.group(1))
        else:
            for part in match.group(2).split(","):
                words = part.split()
                if words:
                    found.add(words[0].split(".")[0].rstrip("\\("))
    return found


# pytest (pytest-style checks run under it) is warmed the same way, with the plugins a session loads (its
# config imports them): a warm pytest saves a check ~60 ms of CPU and costs every fork ~7 MiB of memory.
WARMABLE_PACKAGES = frozenset(("pytest",))
WARM_SHARE = 0.02  # a module is warmed once this share of the Python jobs so far (and two) imported it
_import_counts: dict[str, int] = {}
_python_jobs = [0]


def warm_up(source: str) -> list[str]:
    """Import into the worker the WARMABLE modules `source` imports that it does not hold yet, once enough
    jobs use them: a warm module saves each job that imports it the import (typing ~4 ms) and costs every
    fork its memory (~0.2 us per KiB: typing ~0.07 ms, hashlib ~0.09 ms), so it pays from ~2% of the jobs
    on (e.g. HumanEval's one md5 task in 164 does not warm hashlib for the 163 others)."""
    _python_jobs[0] += 1
    added = []
    for name in imported_modules(source) & (WARMABLE | WARMABLE_PACKAGES):
        if name in sys.modules:
            continue
        count = _import_counts[name] = _import_counts.get(name, 0) + 1
        if count < max(2, WARM_SHARE * _python_jobs[0]):
            continue
        try:
            _import_warm(name)
        except Exception:  # noqa: BLE001 - warming is an optimisation: the job imports it itself (and sees the error)
            pass
        else:
            added.append(name)
    if added:
        import gc
        gc.collect()
        gc.freeze()
    return added


_LIBC = None


def _import_warm(name: str) -> None:
    __import__(name)
    if name == "pytest":  # and what a session imports: its built-in plugins, the assertion rewriter
        from _pytest.config import default_plugins
        for plugin in default_plugins:
            __import__(f"_pytest.{plugin}")
        __import__("_pytest.assertion.rewrite")


def available_modules() -> dict[str, bool]:
    """The WARMABLE_PACKAGES installed here, for the ready frame: a job that requires one (Job.requires) is
    run only by a worker that has it (found, not imported: the worker stays small until jobs use it)."""
    from importlib.util import find_spec
    return {name: True for name in sorted(WARMABLE_PACKAGES) if find_spec(name) is not None}


def _prctl(option: int, arg: int) -> None:
    """prctl(2) through ctypes (best effort: not fatal outside Linux)."""
    global _LIBC
    try:
        if _LIBC is None:
            import ctypes
            _LIBC = ctypes.CDLL(None, use_errno=True)
        _LIBC.prctl(option, arg, 0, 0, 0)
    except Exception:
        pass


def _limit_malloc_arenas() -> None:
    """mallopt(M_ARENA_MAX, 2) in the worker, inherited by forked jobs: glibc otherwise reserves a 64 MiB
    arena per thread, which RLIMIT_AS counts, so a job with a thread pool would fail at a few hundred MiB."""
    global _LIBC
    try:
        if _LIBC is None:
            import ctypes
            _LIBC = ctypes.CDLL(None, use_errno=True)
        _LIBC.mallopt(-8, 2)  # M_ARENA_MAX
    except Exception:
        pass


def _set_dumpable(flag: int) -> None:
    _prctl(4, flag)  # PR_SET_DUMPABLE: 0 = /proc/<pid>/fd, mem, environ... closed to other processes


def _set_pdeathsig() -> None:
    _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the job dies with the worker


def connect_channel(path: str) -> int:
    """A stream socket connected to the host's listener at `path` (a Unix socket the host bind-mounts into
    the container, read-only): the protocol channel, as a plain descriptor."""
    import _socket  # the C module: socket.py would pull in selectors and enum for nothing
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock.detach()


class Worker:
    def __init__(self, root: str, scan_dirs: list[str], channel_fd: int | None = None) -> None:
        self.root = root
        self.scan_dirs = [d for d in scan_dirs if d]
        self.counter = 0
        self.request: dict | None = None  # the job being run
        # Private copies of the protocol fds (stdin/stdout, or the socket the host gave); 0/1 are pointed
        # at /dev/null.
        self.proto_in = os.dup(0) if channel_fd is None else channel_fd
        self.proto_out = os.dup(1) if channel_fd is None else channel_fd
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.close(null)
        for fd in (self.proto_in, self.proto_out):
            os.set_inheritable(fd, False)
        self.inbuf = b""
        self.in_eof = False
        self.oom_file = self._find_oom_file()
        self.env = {
            "PATH": os.environ.get("PATH") or "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "MALLOC_ARENA_MAX": "2",
        }
        if os.environ.get("JAVA_HOME"):
            self.env["JAVA_HOME"] = os.environ["JAVA_HOME"]
        self.tools = {name: shutil.which(name, path=self.env["PATH"]) for name in ("g++", "javac", "java")}
        # Work a forked job would otherwise repeat (in copy-on-write memory, where each page it touches is
        # copied), done once here: the jobs' environment becomes the worker's own (HOME and TMPDIR are
        # the job dir, whose path never changes), the signals to put back to their default (those the
        # worker does not leave at SIG_DFL), the hard rlimits (the worker never changes its own).
        jobdir = os.path.join(self.root, "job")
        os.environ.clear()
        os.environ.update(self.env, HOME=jobdir, TMPDIR=jobdir)
        self.reset_signals = [s for s in CATCHABLE if signal.getsignal(s) != signal.SIG_DFL]
        self.hard_limits = {which: resource.getrlimit(which)[1] for which in RLIMITS}
        self.fd_top = max(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 4096)
        self.prctl = getattr(_LIBC, "prctl", None)  # bound once: a forked job only calls it
        self.jobdir = jobdir
        self.iodir = os.path.join(self.root, ".io")
        self.oom_count = self.oom_kills()
        # Directories that must be empty after every job, each with the st_size it has when empty where
        # its filesystem makes the size count the entries (tmpfs, mqueue: one stat instead of a listing).
        self.must_be_empty = [(d, _empty_size(d)) for d in [self.root, *self.scan_dirs]]

    # ----------------------------------------------------------------------------------- protocol
    def read_request(self) -> dict | None:
        while b"\n" not in self.inbuf or self.in_eof:
            if self.in_eof or not self.read_input():
                return None  # the host is gone: jobs still queued are not run
        line, _, self.inbuf = self.inbuf.partition(b"\n")
        return json.loads(line)

    def read_input(self) -> bool:
        """Move what the host sent into `inbuf` (also called while a job runs, so that a host queueing
        several jobs never blocks on a full pipe). False at EOF."""
        try:
            chunk = os.read(self.proto_in, 1 << 20)
        except InterruptedError:
            return True
        if not chunk:
            self.in_eof = True
            return False
        self.inbuf += chunk
        return True

    def send(self, obj: dict) -> None:
        data = (json.dumps(obj, ensure_ascii=True) + "\n").encode()
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.proto_out, view)
            except InterruptedError:
                continue
            view = view[n:]

    # ----------------------------------------------------------------------------------- state
    @staticmethod
    def _find_oom_file() -> str | None:
        for path in ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"):
            if IS_INIT and os.path.exists(path):
                return path
        return None

    def oom_kills(self) -> int:
        if not self.oom_file:
            return 0
        try:
            for line in _read_small(self.oom_file).splitlines():
                key, _, value = line.partition(b" ")
                if key == b"oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    @staticmethod
    def other_pids() -> list[int]:
        me = os.getpid()
        pids = []
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) != me:
                pids.append(int(name))
        return pids

    @staticmethod
    def reap() -> bool:
        """Reap every exited child; True if a child is still alive. As PID 1 of its pid namespace, no child
        left means no other process at all: every process there descends from it (orphans are re-parented
        to it), so this replaces a scan of /proc."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True

    # ----------------------------------------------------------------------------------- jobs
    def handle(self, req: dict) -> dict:
        start = time.monotonic()
        self.counter += 1
        jobdir, iodir = self.jobdir, self.iodir
        recycle = []
        try:
            _fresh_dir(jobdir)
            result = self.run_job(req, jobdir, iodir)
        except _Infra as exc:
            result = {"status": "error", "exit_code": None, "stdout": "", "stderr": "", "reason": str(exc)}
            recycle.append("infrastructure error")
        except Exception as exc:
            result = {"status": "error", "exit_code": None, "stdout": "", "stderr": "",
                      "reason": f"worker error: {type(exc).__name__}: {exc}"}
            recycle.append("worker error")
        # ---- cleanup: no process of the job survives, nothing it wrote survives
        if self.reap() and IS_INIT:
            leftovers = self.other_pids()
            recycle.append(f"{len(leftovers)} leftover process(es) killed")
            self.kill_all()
        oom_count = self.oom_kills()
        if oom_count != self.oom_count:
            self.oom_count = oom_count
            recycle.append("oom kill")
            if result["status"] in ("failed", "passed") and result.get("_killed"):
                result["status"], result["reason"] = "failed", "oom"
        for d, expected in ((jobdir, ("main.py",)), (iodir, ("stdin",))):
            try:
                _wipe(d, expected)
            except OSError as exc:
                recycle.append(f"could not wipe {d}: {exc}")
        if IS_INIT:
            ipc = self.ipc_objects()
            if ipc:
                recycle.append("SysV IPC objects left: " + ", ".join(ipc))
        stray = self.stray_files()
        if stray:
            recycle.append("files left outside the job dir: " + ", ".join(stray[:5]))
        if result.get("_timeout"):
            recycle.append("timeout")
        result.pop("_killed", None)
        result.pop("_timeout", None)
        result["id"] = req.get("id")
        result["duration"] = time.monotonic() - start
        result["recycle"] = "; ".join(recycle)
        return result

    def kill_all(self) -> None:
        """PID 1 only: kill every other process in the namespace and reap them."""
        deadline = time.monotonic() + 3.0
        while True:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if not self.reap() or time.monotonic() > deadline:
                return
            time.sleep(0.001)

    @staticmethod
    def ipc_objects() -> list[str]:
        """SysV IPC objects alive in this (private) IPC namespace: a job must leave none."""
        found = []
        for kind in ("shm", "sem", "msg"):
            try:
                count = _read_small(f"/proc/sysvipc/{kind}").strip().count(b"\n")  # lines after the header
            except OSError:
                continue
            if count > 0:
                found.append(f"{count} {kind}")
        return found

    def stray_files(self) -> list[str]:
        stray = []
        for d, empty_size in self.must_be_empty:
            try:
                if empty_size is not None and os.stat(d).st_size == empty_size:
                    continue
                stray += [os.path.join(d, n) for n in os.listdir(d)]
            except FileNotFoundError:
                if d == self.root:
                    stray.append(d)
            except OSError:
                stray.append(d)
        return stray

    def run_job(self, req: dict, jobdir: str, iodir: str) -> dict:
        language = req.get("language", "python")
        if language not in LANGUAGES:
            raise _Infra(f"unknown language {language!r}")
        timeout = float(req.get("timeout", 10.0))
        compile_timeout = float(req.get("compile_timeout", 60.0))
        memory_mb = int(req.get("memory_mb", 512))
        limit = int(req.get("output_limit", OUTPUT_LIMIT))
        self.request = req  # a forked job forgets it (see forget_secrets)
        _write_files(jobdir, req.get("files") or {})
        stdin_path = None  # no stdin: the job keeps the worker's /dev/null
        if req.get("stdin"):
            os.mkdir(iodir, 0o700)
            stdin_path = os.path.join(iodir, "stdin")
            _write(stdin_path, req["stdin"])
        program = req.get("program", "")
        mem_bytes = memory_mb * 1024 * 1024
        compile_mb = max(memory_mb, COMPILE_MEMORY_FLOOR_MB)

        if language == "python":
            main = os.path.join(jobdir, "main.py")
            _write(main, program)
            warm_up(program)
            step = self.spawn(("python", main), jobdir, stdin_path, "run", timeout, mem_bytes,
                              req.get("success_marker"), limit)
        elif language == "cpp":
            if not self.tools["g++"]:
                raise _Infra("g++ is not installed where the sandbox runs")
            _write(os.path.join(jobdir, "main.cpp"), program)
            argv = [self.tools["g++"], "-std=c++17", "-O2", "-o", "prog", "main.cpp"]
            step = self.spawn(("exec", argv), jobdir, stdin_path, "compile", compile_timeout, None, None, limit,
                              data_bytes=compile_mb << 20)
            if step["ok"]:
                step = self.spawn(("exec", [os.path.join(jobdir, "prog")]), jobdir, stdin_path, "run", timeout,
                                  mem_bytes, req.get("success_marker"), limit)
        else:
            if not (self.tools["javac"] and self.tools["java"]):
                raise _Infra("a JDK (javac, java) is not installed where the sandbox runs")
            public = re.search(r"^\s*public\s+(?:final\s+|abstract\s+)*class\s+(\w+)", program, re.MULTILINE)
            source = (public.group(1) if public else "Main") + ".java"
            _write(os.path.join(jobdir, source), program)
            heap = max(memory_mb, 64)
            classpath = _java_classpath()
            argv = [self.tools["javac"], f"-J-Xmx{max(256, compile_mb - JVM_OWN_MB)}m", "-J-XX:+UseSerialGC",
                    "-J-XX:-UsePerfData",
                    "-J-XX:TieredStopAtLevel=1", "-J-XX:ActiveProcessorCount=1", "-encoding", "UTF-8",
                    "-nowarn", "-cp", classpath, "-d", ".", source]
            step = self.spawn(("exec", argv), jobdir, stdin_path, "compile", compile_timeout, None, None, limit,
                              data_bytes=compile_mb << 20)
            if step["ok"]:
                main_class = find_java_main(program) or "Main"
                # -Xss sizes the main thread (deep recursion); ThreadStackSize after it puts every other
                # thread back at the JVM's default 1 MiB, so thread stacks do not eat the data limit.
                argv = [self.tools["java"], "-ea", f"-Xmx{heap}m", f"-Xss{JAVA_MAIN_STACK_MB}m",
                        "-XX:ThreadStackSize=1024", "-XX:MaxMetaspaceSize=128m", "-XX:ReservedCodeCacheSize=64m",
                        "-XX:+UseSerialGC", "-XX:-UsePerfData", "-XX:ActiveProcessorCount=1", "-cp", classpath,
                        main_class]
                step = self.spawn(("exec", argv), jobdir, stdin_path, "run", timeout, None,
                                  req.get("success_marker"), limit,
                                  data_bytes=(heap + JAVA_MAIN_STACK_MB + JVM_OWN_MB) << 20)
        return self.verdict(step, req.get("success_marker"))

    def spawn(self, what, jobdir: str, stdin_path: str | None, phase: str, timeout: float, mem_bytes: int | None,
              marker: str | None = None, limit: int = OUTPUT_LIMIT, data_bytes: int | None = None) -> dict:
        cpu = math.ceil(timeout) + 1
        # stdout/stderr are pipes the worker drains while the job runs: output past the kept head and
        # tail is discarded, so no amount of output blocks, kills or fails a job (only the verdict's own
        # rules do), and the success marker is looked for in ALL of stdout as it streams past.
        try:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
        except OSError as exc:
            raise _Infra(f"pipe failed: {exc}") from exc
        sinks = [OutputSink(out_r, limit, marker), OutputSink(err_r, limit, None)]
        limits = self.rlimits(cpu, mem_bytes, data_bytes)
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in (out_r, out_w, err_r, err_w):
                os.close(fd)
            raise _Infra(f"fork failed: {exc}") from exc
        if pid == 0:  # ------------------------------------------------------------ child
            code = 70
            try:
                self.inbuf = b""  # queued requests of later jobs: not for this job's eyes
                marker = None
                self.forget_secrets(sinks)
                self.child_setup(jobdir, stdin_path, out_w, err_w, limits)
                if what[0] == "exec":
                    os.execve(what[1][0], what[1], os.environ)
                else:
                    code = run_python_main(what[1], fresh_stdin=stdin_path is not None)
            except BaseException as exc:
                try:
                    os.write(2, f"sandbox: could not start the program: {exc!r}\n".encode())
                except OSError:
                    pass
            os._exit(code)
        # ---------------------------------------------------------------------------- parent
        os.close(out_w)
        os.close(err_w)
        started = time.monotonic()
        try:
            waited = _wait(pid, timeout, self, sinks)
            timed_out = waited is None
            if timed_out:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
                _, status, usage = os.wait4(pid, 0)
            else:
                status, usage = waited
            elapsed = time.monotonic() - started
            try:  # what the job started in its process group must not write on (or run) after it
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            for sink in sinks:
                sink.drain_after_exit()
        finally:
            for sink in sinks:
                sink.close()
        cpu_used = usage.ru_utime + usage.ru_stime
        step = {"phase": phase, "timed_out": timed_out, "elapsed": elapsed, "timeout": timeout,
                "stdout": sinks[0], "stderr": sinks[1], "cpu_limit": cpu, "cpu_used": cpu_used}
        if os.WIFEXITED(status):
            step["exit_code"], step["signal"] = os.WEXITSTATUS(status), None
        else:
            sig = os.WTERMSIG(status)
            step["exit_code"], step["signal"] = -sig, sig
        step["ok"] = not timed_out and step["exit_code"] == 0
        return step

    def rlimits(self, cpu: int, mem_bytes: int | None, data_bytes: int | None) -> list[tuple[int, tuple[int, int]]]:
        """The (resource, (soft, hard)) limits of a job, within the worker's own hard limits."""
        limits = [(resource.RLIMIT_CPU, cpu), (resource.RLIMIT_FSIZE, FSIZE_LIMIT),
                  (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NOFILE, NOFILE_LIMIT)]
        if IS_INIT:
            limits.append((resource.RLIMIT_NPROC, NPROC_LIMIT))
        if mem_bytes:
            limits.append((resource.RLIMIT_AS, mem_bytes))
        if data_bytes:
            limits.append((resource.RLIMIT_DATA, data_bytes))
        out = []
        for which, value in limits:
            hard = self.hard_limits[which]
            soft_v = value if hard == resource.RLIM_INFINITY else min(value, hard)
            hard_v = value + 1 if which == resource.RLIMIT_CPU else value
            hard_v = hard_v if hard == resource.RLIM_INFINITY else min(hard_v, hard)
            out.append((which, (soft_v, hard_v)))
        return out

    def forget_secrets(self, sinks: list) -> None:
        """In a job's child, before its code runs: the success marker must not be found in the memory the job
        inherits (this request, the output scanners): a program that found it (a gc scan of its strings) could
        print it without passing. (run_job keeps it in no variable of its own.)"""
        if self.request is not None:
            self.request.clear()
        for sink in sinks:
            sink.marker = sink._interior = None

    def child_setup(self, jobdir: str, stdin_path: str | None, fd_out: int, fd_err: int, limits: list) -> None:
        """In the forked child, before any job code: its own session, default signals, stdio on the job's
        pipes, no other descriptor of the worker, the job dir, the limits. Kept short: every page of the
        worker's memory it writes is copied first."""
        os.setsid()
        for sig in self.reset_signals:
            _set_signal(sig, _SIG_DFL)
        if stdin_path:
            os.dup2(os.open(stdin_path, os.O_RDONLY), 0)
        os.dup2(fd_out, 1)
        os.dup2(fd_err, 2)
        # Close every other descriptor of the worker, the protocol channel included.
        os.closerange(3, self.fd_top)
        os.chdir(jobdir)
        for which, value in limits:
            resource.setrlimit(which, value)
        if not IS_INIT:  # as PID 1 of its namespace, the worker's death kills every job anyway
            _set_pdeathsig()
        if self.prctl is not None:
            self.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE (the worker is not): the job may use its own /proc files

    def verdict(self, step: dict, marker: str | None) -> dict:
        res = {"exit_code": step["exit_code"], "stdout": step["stdout"].text(), "stderr": step["stderr"].text(),
               "_killed": False}
        sig = step["signal"]
        if step["timed_out"]:
            what = "compilation" if step["phase"] == "compile" else "program"
            res.update(status="timeout", exit_code=None, _timeout=True,
                       reason=f"{what} timed out after {step['timeout']:g}s")
        elif sig == signal.SIGXCPU or (sig == signal.SIGKILL and step["cpu_used"] >= step["cpu_limit"]):
            res.update(status="timeout", reason="cpu time limit exceeded", _timeout=True)
        elif step["phase"] == "compile":
            res.update(status="failed", reason="compile_error")
        elif sig is not None:
            res.update(status="failed", reason=_signal_reason(sig), _killed=sig == signal.SIGKILL)
        elif step["exit_code"] != 0:
            res.update(status="failed", reason=f"exit code {step['exit_code']}")
        elif marker and not step["stdout"].marker_seen:
            res.update(status="failed", reason="success marker missing from stdout")
        else:
            res.update(status="passed", reason="")
        return res


class _Infra(Exception):
    """The sandbox itself failed (not the program)."""


def _write_files(jobdir: str, files: dict) -> None:
    """The job's extra files (in a frame of their own: none of their contents is left in run_job's variables)."""
    for rel, content in files.items():
        path = os.path.normpath(os.path.join(jobdir, rel))
        if not path.startswith(jobdir + os.sep):
            raise _Infra(f"file path escapes the job dir: {rel!r}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(content)


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _read_small(path: str) -> bytes:
    """The content of a small (proc/sys) file, with three system calls."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)


def _empty_size(d: str) -> int | None:
    """st_size of directory `d` while it is empty, if its filesystem makes a directory's size count its
    entries (tmpfs does: checked here by adding and removing a file); None otherwise (or if `d` is not
    empty now, or cannot be written): then `d` is listed after each job instead."""
    try:
        if os.listdir(d):
            return None
        empty = os.stat(d).st_size
        probe = os.path.join(d, f".size-probe-{os.getpid()}")
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        try:
            grown = os.stat(d).st_size
        finally:
            os.unlink(probe)
        if grown != empty and os.stat(d).st_size == empty:
            return empty
    except OSError:
        pass
    return None


def _fresh_dir(path: str) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        _rmtree(path)
        os.mkdir(path, 0o700)


def _wipe(path: str, expected: tuple[str, ...] = ()) -> None:
    """Remove the directory `path` and all it holds. Fast path: a job that left nothing but the `expected`
    files costs an unlink each and an rmdir; anything else (more files, changed permissions) a full
    removal."""
    try:
        for name in expected:
            try:
                os.unlink(os.path.join(path, name))
            except FileNotFoundError:
                pass
        os.rmdir(path)
        return
    except FileNotFoundError:
        return
    except OSError:
        pass
    _rmtree(path)


def _rmtree(path: str) -> None:
    """Remove `path`, even where the job made directories unreadable or read-only (the worker has the
    job's uid, so it may chmod them back)."""
    if os.path.isdir(path) and not os.path.islink(path):
        try:
            shutil.rmtree(path)
        except OSError:
            _make_writable(path)
            shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _make_writable(top: str) -> None:
    stack = [top]
    while stack:
        d = stack.pop()
        try:
            os.chmod(d, 0o700)
            with os.scandir(d) as entries:
                stack.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
        except OSError:
            pass


class OutputSink:
    """One output pipe of a job, drained by the worker: keeps the first and the last `limit / 2` bytes,
    counts and discards the rest, and looks for the success marker in everything that streams past.

    The marker counts only as a whole line of its own (optionally ending in \\r): the scan tracks line
    boundaries across reads and across discarded data, so a flood cannot splice a fake marker line
    together, and the marker cannot be lost in the discarded middle of a huge output."""

    def __init__(self, fd: int, limit: int, marker: str | None) -> None:
        self.fd = fd
        self.keep = max(256, (limit - 128) // 2)  # the note between head and tail fits in the rest
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.eof = False
        self.marker = marker.encode() if marker else None
        self.marker_seen = False
        self._line = bytearray()      # the current line's start, while it could still be the marker
        self._line_too_long = False
        if self.marker:  # the marker as a whole line inside a chunk (a bytes search, no regex to compile)
            self._interior = (b"\n" + self.marker + b"\n", b"\n" + self.marker + b"\r\n")
        os.set_blocking(fd, False)
        try:
            import fcntl
            # F_SETPIPE_SZ (fewer wake-ups for a chatty job) answers the capacity it set
            self.capacity = fcntl.fcntl(fd, 1031, PIPE_SIZE)
        except (OSError, ImportError, AttributeError):
            try:
                import fcntl
                self.capacity = fcntl.fcntl(fd, 1032)  # F_GETPIPE_SZ
            except (OSError, ImportError, AttributeError):
                self.capacity = PIPE_SIZE

    def read_available(self, budget: int = 4 << 20) -> int:
        """Read what the pipe holds now (at most `budget` bytes, so one stream cannot starve the rest)."""
        got = 0
        while not self.eof and got < budget:
            try:
                chunk = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                break
            except InterruptedError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                self.eof = True
                self._end_line()
                break
            got += len(chunk)
            self.feed(chunk)
        return got

    def drain_after_exit(self) -> None:
        """After the job's main process ended: everything it wrote is already in the pipe (a write to a pipe
        returns only once its bytes are in the pipe), so reading the pipe's capacity (plus what arrives
        meanwhile from processes it left behind, bounded) gets all of it. Those leftovers are killed by the
        worker afterwards; they cannot keep this loop reading."""
        budget = self.capacity + (1 << 20)
        while not self.eof and budget > 0:
            got = self.read_available(budget)
            if got == 0:
                break
            budget -= got
        self._end_line()

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.keep - len(self.head)
        if room > 0:
            self.head += data[:room]
            data_tail = data[room:]
        else:
            data_tail = data
        if data_tail:
            self.tail += data_tail
            if len(self.tail) > 2 * self.keep:
                del self.tail[:-self.keep]
        if self.marker and not self.marker_seen:
            self._scan(data)

    def _scan(self, data: bytes) -> None:
        first = data.find(b"\n")
        if first < 0:
            self._grow_line(data)
            return
        self._grow_line(data[:first])
        self._end_line()
        last = data.rfind(b"\n")
        if last > first and (data.find(self._interior[0], first, last + 1) >= 0
                             or data.find(self._interior[1], first, last + 1) >= 0):
            self.marker_seen = True
        self._line.clear()
        self._line_too_long = False
        self._grow_line(data[last + 1:])

    def _grow_line(self, part: bytes) -> None:
        if self._line_too_long or not part:
            return
        self._line += part
        if len(self._line) > len(self.marker) + 1:
            self._line_too_long = True
            self._line.clear()

    def _end_line(self) -> None:
        if self.marker and not self._line_too_long and self._line in (self.marker, self.marker + b"\r"):
            self.marker_seen = True
        self._line.clear()
        self._line_too_long = False

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        if self.total <= len(self.head) + self.keep:  # nothing was discarded
            return head + self.tail.decode("utf-8", "replace")
        tail = bytes(self.tail[-self.keep:])
        dropped = self.total - len(self.head) - len(tail)
        return (head + f"\n[truncated: {dropped} bytes of output discarded, {self.total} in all]\n"
                + tail.decode("utf-8", "replace"))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _signal_reason(sig: int) -> str:
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    if sig == signal.SIGXFSZ:
        return f"killed by {name} (a file it wrote exceeded the {FSIZE_LIMIT // (1024 * 1024)} MiB file size limit)"
    return f"killed by {name}"


def _wait(pid: int, timeout: float, worker: Worker | None = None, sinks: list | None = None):
    """Wait for `pid` up to `timeout` seconds: (wait status, rusage), or None on timeout. Meanwhile, drain
    the job's output pipes into `sinks` and read what the host sends (queued requests) into the worker's
    buffer."""
    deadline = time.monotonic() + timeout
    sinks = sinks or []
    pidfd = None
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pidfd = None
    try:
        delay = 0.0005
        while True:
            try:
                done, status, usage = os.wait4(pid, os.WNOHANG)
            except InterruptedError:
                continue
            if done:
                return status, usage
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            fds = [] if pidfd is None else [pidfd]
            if worker is not None and not worker.in_eof:
                fds.append(worker.proto_in)
            fds += [s.fd for s in sinks if not s.eof]
            if pidfd is None:
                remaining = min(delay, remaining)
                delay = min(delay * 2, 0.02)
            try:
                ready, _, _ = select.select(fds, [], [], remaining)
            except InterruptedError:
                continue
            for sink in sinks:
                if sink.fd in ready:
                    sink.read_available()
            if worker is not None and worker.proto_in in ready:
                worker.read_input()
    finally:
        if pidfd is not None:
            os.close(pidfd)


# Libraries that evaluation suites import (MultiPL-E's Java problems all import org.javatuples).
JAVA_LIBRARIES = ("/usr/share/java/javatuples.jar",)


def _java_classpath() -> str:
    return os.pathsep.join(["."] + [jar for jar in JAVA_LIBRARIES if os.path.exists(jar)])


def find_java_main(source: str) -> str | None:
    """Name of the class whose body declares `static void main(`, by a brace scan that skips
    comments, strings and character literals."""
    main_re = re.compile(r"\bstatic\s+void\s+main\s*\(")
    class_re = re.compile(r"\b(?:class|interface|enum|record)\s+(\w+)")
    stack: list[str | None] = []
    pending: str | None = None
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            j = source.find("\n", i)
            i = n if j < 0 else j
            continue
        if source.startswith("/*", i):
            j = source.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if c in "\"'":
            if source.startswith('"""', i):
                j = source.find('"""', i + 3)
                i = n if j < 0 else j + 3
                continue
            j = i + 1
            while j < n and source[j] != c:
                j += 2 if source[j] == "\\" else 1
            i = j + 1
            continue
        if c == "{":
            stack.append(pending)
            pending = None
        elif c == "}":
            if stack:
                stack.pop()
        elif c.isalpha():
            m = class_re.match(source, i)
            if m and (i == 0 or not (source[i - 1].isalnum() or source[i - 1] == "_")):
                pending = m.group(1)
                i = m.end()
                continue
            m = main_re.match(source, i)
            if m and (i == 0 or not (source[i - 1].isalnum() or source[i - 1] == "_")):
                for name in reversed(stack):
                    if name:
                        return name
            j = i
            while j < n and (source[j].isalnum() or source[j] == "_"):
                j += 1
            i = j
            continue
        i += 1
    return None


def run_python_main(path: str, fresh_stdin: bool = False) -> int:
    """In the forked child: run the file at `path` as __main__ in a fresh module; the exit status. The
    standard streams are the worker's own (see prepare_stdio); stdin is opened anew when the job has one."""
    # Module-level imports, not import statements here: each one would look the module up again in the
    # child (pages copied for nothing). No random.seed() here: `random` re-seeds itself in every forked child (its at-fork hook), or,
    # if it was not preimported, when the job imports it.
    atexit._clear()
    if fresh_stdin:
        sys.stdin = sys.__stdin__ = open(0, "r", encoding="utf-8", errors="replace", closefd=False)
    sys.argv = [path]
    sys.path[0:0] = [os.path.dirname(path)]
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__builtins__ = builtins
    sys.modules["__main__"] = module
    code = 0
    try:
        with open(path, "rb") as f:
            source = f.read()
        exec(compile(source, path, "exec"), module.__dict__)
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException as exc:
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next if exc.__traceback__ else None)
        code = 1
    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            for t in threading.enumerate():
                if t is not threading.main_thread() and not t.daemon:
                    t.join()
        atexit._run_exitfuncs()
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    return code


STDIO = (("stdin", 0, "r", "replace"), ("stdout", 1, "w", "backslashreplace"), ("stderr", 2, "w", "backslashreplace"))


def prepare_stdio() -> None:
    """Make the worker's sys.stdin/stdout/stderr the text streams every Python job starts with: on fds 0-2,
    which a job's child points at its own stdin and output pipes, so that a forked job need not build
    them (~0.4 ms of CPU per job, in page copies, measured). The worker never reads or writes them (its
    protocol has private descriptors), so they hold no buffered data."""
    for name, fd, mode, errors in STDIO:
        stream = getattr(sys, name)
        try:
            ours = stream is not None and stream.fileno() == fd
        except (OSError, ValueError):
            ours = False
        if ours:
            stream.reconfigure(encoding="utf-8", errors=errors, line_buffering=fd == 2)
        else:
            stream = open(fd, mode, encoding="utf-8", errors=errors, closefd=False, buffering=1 if fd == 2 else -1)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    try:
        sys.stderr.write(f"{exc.code}\n")
    except BaseException:
        pass
    return 1


def main(argv: list[str]) -> int:
    root, scan, connect = "/work", "/tmp,/dev/shm,/dev/mqueue", None
    args = list(argv)
    while args:
        flag = args.pop(0)
        if flag == "--root":
            root = args.pop(0)
        elif flag == "--scan":
            scan = args.pop(0)
        elif flag == "--connect":
            connect = args.pop(0)
    # The channel first: a host that bind-mounted a socket for this worker waits for the connection.
    channel_fd = connect_channel(connect) if connect else None
    # As PID 1 of its pid namespace, the kernel never delivers a signal to the worker from inside it (nor
    # one the kernel raises, e.g. SIGPIPE) unless it installs a handler: there every signal is left at
    # SIG_DFL (Python's SIGINT handler and ignored SIGPIPE/SIGXFSZ too), so jobs inherit the defaults and
    # a forked job has none to restore. Elsewhere the worker ignores every catchable signal.
    for sig in CATCHABLE:
        try:
            if IS_INIT:
                if signal.getsignal(sig) != signal.SIG_DFL:
                    signal.signal(sig, signal.SIG_DFL)
            else:
                signal.signal(sig, signal.SIG_IGN)
        except (OSError, ValueError):
            pass
    _set_dumpable(0)
    _limit_malloc_arenas()
    os.umask(0o077)
    # The first compile() in a process builds the AST types (~100 classes): here, once, not in every job.
    compile("pass", "<warm-up>", "exec")
    import gc
    gc.collect()
    gc.freeze()  # forked jobs' garbage collections then skip (and do not copy-on-write) the warm heap
    modules = available_modules()
    worker = Worker(root, scan.split(","), channel_fd)
    prepare_stdio()
    draining = False
    worker.send({"ready": True, "pid": os.getpid(), "init": IS_INIT,
                 "python": sys.version.split()[0], "tools": worker.tools, "modules": modules})
    while True:
        try:
            req = worker.read_request()
        except ValueError as exc:
            worker.send({"id": None, "status": "error", "reason": f"bad request: {exc}",
                         "recycle": "bad request"})
            continue
        if req is None:
            break
        if draining:
            # A previous job may have poisoned this worker: the host replaces it, and re-runs the jobs
            # it had already queued here elsewhere.
            worker.send({"id": req.get("id"), "status": "skipped", "reason": "worker is being recycled",
                         "recycle": "draining"})
            continue
        try:
            result = worker.handle(req)
        except Exception as exc:  # never die on a job: report it, and have this worker replaced
            result = {"id": req.get("id"), "status": "error", "exit_code": None, "stdout": "", "stderr": "",
                      "duration": 0.0, "reason": f"worker error: {type(exc).__name__}: {exc}",
                      "recycle": "worker error"}
        draining = bool(result.get("recycle"))
        worker.send(result)
    if IS_INIT:
        worker.kill_all()
    return 0


def run() -> None:
    """The worker's entry point. The image starts it as ``python3 -I -c "...; import worker; worker.run()"``:
    imported, the module comes from its cached bytecode, while running this file as a script compiles it
    each time, and compiling leaves ~2.5 MiB of heap behind that every fork then copies (~0.2 ms of CPU
    per job, measured)."""
    try:
        sys.exit(main(sys.argv[1:]))
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            sys.exit(0)
        raise


if __name__ == "__main__":
    run()
