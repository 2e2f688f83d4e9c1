"""The program an EvalPlus job runs in the sandbox (STANDARD LIBRARY ONLY; pasted after values.py and
oracles.py, then `main(<mode>)`). The job's files: plus.json (what to do), secret.json (the verdict
nonce and the success marker, removed once read), inputs.json (the task's encoded inputs, base then
plus), and for `check` expected.json and solution.py.

mode "expected": run the reference solution on a deep copy of each input from `start` on, timing the
call, and print one line per input, `<nonce> {"i", "t", "v"|"d"|"e"}`; stop with `{"next": i}` before
stdout passes what the sandbox carries back (the host goes on from there in another job).

mode "check": judge one candidate on every phase (base, then plus), evalplus's way: the candidate is
exec'ed in a fresh namespace per phase, each input has its own time limit and the phase a total
budget, the first failing input ends the phase. Forge-proof by construction: the candidate runs in
child processes forked BEFORE the secret and the expected outputs are read (and their files removed);
so no child holds the nonce, the marker or the answers, and a child's fds
0-2 are /dev/null and it keeps only a pipe to this parent, which is made non-dumpable (no /proc access
to its fds or memory). The parent never runs candidate code: it reads what the child says its outputs
are, judges them (oracles.py) and prints `<nonce> {"phase", "status", ...}` per phase, then the
success marker. A candidate that exits, crashes or floods fails; it cannot print a verdict.
"""

# ruff: noqa: BLE001, S102, S110  -- it runs code under test: any exception is a verdict, and exec is its job

import builtins
import copy
import faulthandler
import importlib.machinery
import json
import os
import select
import signal
import struct
import sys
import time

try:  # pasted into one program after values.py and oracles.py, these names are already defined there
    from wizardcoder.eval.plus.oracles import Checker, Digest, Mismatch
    from wizardcoder.eval.plus.values import carry, decode, digest
except ImportError:  # pragma: no cover - only inside the sandbox program
    pass

STDOUT_BUDGET = 48 * 1024  # expected mode: what the sandbox carries back is 64 KiB of stdout
FRAME_CAP = 4 * 32 * 1024 + 4096  # bytes of one child frame: a carried value, escaped, and its envelope
SHOWN = 300  # characters of an output or an error in a verdict


def main(mode):
    with open("plus.json", encoding="utf-8") as f:
        cfg = json.load(f)
    if cfg.get("hash_seed") is not None:
        _pin_hash_seed(str(cfg["hash_seed"]))
    if mode == "expected":
        nonce, marker = _take_secret()
        run_expected(cfg, lambda line: os.write(1, (nonce + " " + line + "\n").encode()))
    else:
        nonce, marker = run_check(cfg)
    os.write(1, ("\n" + marker + "\n").encode())


def _take_json(name):
    """The JSON in the file `name`, which is removed once read (what it holds leaves the disk)."""
    with open(name, encoding="utf-8") as f:
        data = json.load(f)
    try:
        os.unlink(name)
    except OSError:
        pass
    return data


def _take_secret():
    """The nonce and the success marker, from a file removed once read: never in the program's text."""
    secret = _take_json("secret.json")
    return secret["nonce"], secret["marker"]


def _pin_hash_seed(seed):
    """Run again under PYTHONHASHSEED=seed: set and str-keyed orders then match the reference run's."""
    if os.environ.get("PYTHONHASHSEED") == seed:
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = seed
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, "-s", os.path.abspath(sys.argv[0])], env)


def _describe(exc):
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


def _load_inputs(cfg):
    with open("inputs.json", encoding="utf-8") as f:
        return decode(json.load(f))


# ------------------------------------------------------------------ expected outputs (the reference run)


def run_expected(cfg, emit):
    sink = _Sink()
    sys.stdout = sys.stderr = sink
    namespace = {}
    exec(compile(cfg["code"], "reference.py", "exec"), namespace)
    fn = namespace[cfg["entry_point"]]
    inputs = _load_inputs(cfg)  # the inputs first, first + 1, ...: this job's share of the task's
    first = cfg.get("first", 0)
    used = 0
    for i in range(cfg.get("start", first), first + len(inputs)):
        args = copy.deepcopy(inputs[i - first])
        t0 = time.perf_counter()
        try:
            out = fn(*args)
            msg = {"i": i, "t": time.perf_counter() - t0}
            out = out is not None if cfg.get("output_not_none") else out
            msg.update({"d": digest(out)} if cfg.get("digests") else carry(out))
        except BaseException as exc:
            msg = {"i": i, "t": time.perf_counter() - t0, "e": _describe(exc)}
        line = json.dumps(msg)
        if used and used + len(line) > STDOUT_BUDGET:
            emit(json.dumps({"next": i}))
            return
        used += len(line) + 64  # the nonce and the newline
        emit(line)


class _Sink:
    """stdout/stderr for code under test: writes vanish; reads fail, as under evalplus's swallow_io."""

    def write(self, s):
        return len(s)

    def writelines(self, lines):
        pass

    def flush(self):
        pass

    def read(self, *a):
        raise OSError("reading stdin is not allowed here")

    readline = readlines = read

    def readable(self):
        return False

    def isatty(self):
        return False


# ------------------------------------------------------------------ judging one candidate


def run_check(cfg):
    """Judge the candidate phase by phase; returns the secret (nonce, marker) for the end of the run."""
    _make_undumpable()
    with open("solution.py", encoding="utf-8", errors="surrogateescape") as f:
        code = f.read()
    inputs_all = _load_inputs(cfg)
    phases = cfg["phases"]
    children = [_fork_child(code, cfg["entry_point"], inputs_all[p["start"]:p["end"]]) for p in phases]
    # only now, with every child forked, do the secret and the expected outputs enter this process (and
    # leave the disk): no child ever holds them
    nonce, marker = _take_secret()
    expected = _take_json("expected.json")
    try:
        for phase, child in zip(phases, children):
            checker = Checker(cfg["dataset"], cfg["entry_point"], cfg["atol"], cfg["rules"])
            exp = expected[phase["start"]:phase["end"]]
            verdict = _judge(child, exp, phase, checker, inputs_all[phase["start"]:phase["end"]])
            verdict["phase"] = phase["name"]
            os.write(1, ("\n" + nonce + " " + json.dumps(verdict) + "\n").encode())
            if verdict["status"] != "pass":
                break
    finally:
        for child in children:
            child.stop()
    return nonce, marker


def _make_undumpable():
    """PR_SET_DUMPABLE 0: the children (same uid) cannot open this process's fds or memory in /proc."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
    except Exception:
        pass


class _Child:
    def __init__(self, pid, go, results):
        self.pid, self.go, self.results = pid, go, results
        self.buf = b""

    def stop(self):
        for fd in (self.go, self.results):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except OSError:
            pass


def _fork_child(code, entry_point, inputs):
    go_r, go_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(go_r)
        os.close(res_w)
        return _Child(pid, go_w, res_r)
    try:  # the child: wait for the go, then run the candidate; never returns
        os.close(go_w)
        os.close(res_r)
        _run_candidate(go_r, res_w, code, entry_point, inputs)
    finally:
        os._exit(0)


def _run_candidate(go_r, out, code, entry_point, inputs):
    write, dumps, pack = os.write, json.dumps, struct.pack

    def send(msg):
        data = dumps(msg).encode("utf-8", "surrogatepass")
        write(out, pack(">I", len(data)) + data)

    if os.read(go_r, 1) != b"g":  # the parent decided not to run this phase
        return
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    keep = sorted({0, 1, 2, out})
    for lo, hi in zip(keep, keep[1:] + [65536]):
        os.closerange(lo + 1, hi)
    sys.stdout = sys.stderr = sys.stdin = _Sink()
    _restrict()
    namespace = {}
    try:
        exec(compile(code, "solution.py", "exec"), namespace)
        fn = namespace[entry_point]
    except BaseException as exc:
        send({"load_error": _describe(exc) if not isinstance(exc, KeyError)
              else f"the program does not define {entry_point}"})
        return
    send({"ready": 1})
    for args in inputs:
        try:
            msg = carry(fn(*args))
        except BaseException as exc:
            msg = {"e": _describe(exc)}
        send(msg)


def _restrict():
    """What evalplus's reliability_guard disables, disabled here too, so that the same programs fail."""
    faulthandler.disable()
    builtins.exit = builtins.quit = builtins.open = builtins.help = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork",
                 "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod",
                 "fchown", "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir"):
        setattr(os, name, None)
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None
    for module in ("shutil", "subprocess"):
        if module in sys.modules:
            _DISABLED[module](sys.modules[module])
    if not all(m in sys.modules for m in _DISABLED):  # importing subprocess costs more than most candidates:
        sys.meta_path.insert(0, _DisableOnImport())  # disable it if and when it is imported


def _disable_shutil(m):
    m.rmtree = m.move = m.chown = None


def _disable_subprocess(m):
    m.Popen = None


_DISABLED = {"shutil": _disable_shutil, "subprocess": _disable_subprocess}


class _DisableOnImport:
    """A meta-path finder that lets shutil / subprocess load normally, then disables their functions."""

    def find_spec(self, name, path=None, target=None):
        if name not in _DISABLED or name in sys.modules:
            return None

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _DISABLED[name](module)
        spec.loader.exec_module = exec_module
        return spec


def _judge(child, expected, phase, checker, inputs):
    """One phase's verdict: {"status": pass|fail|timeout, "index", "reason", "got"} (the last three on failure)."""
    start = time.monotonic()
    deadline = start + phase["budget"]
    os.write(child.go, b"g")
    first = _read_frame(child, deadline)
    if not isinstance(first, dict):
        return _failure(None, first, phase, deadline)
    if "load_error" in first:
        return {"status": "fail", "index": None, "reason": "could not load the program: " + str(first["load_error"])}
    limits = phase["limits"]
    for i, exp in enumerate(expected):
        begun = time.monotonic()
        frame = _read_frame(child, min(deadline, begun + limits[i]))
        if not isinstance(frame, dict):
            return _failure(i, frame, phase, deadline, limits[i])
        if "e" in frame:
            return {"status": "fail", "index": i, "reason": "raised " + str(frame["e"])[:SHOWN]}
        try:
            out = Digest(frame["d"]) if "d" in frame else decode(frame["v"])
            want = Digest(exp["d"]) if "d" in exp else decode(exp["v"])
        except Exception as exc:
            return {"status": "fail", "index": i, "reason": f"unreadable output ({_describe(exc)})"}
        try:
            checker.check(inputs[i], out, want)
        except Mismatch as exc:
            return {"status": "fail", "index": i, "reason": str(exc), "got": _shown(out)}
        except Exception as exc:
            return {"status": "fail", "index": i, "reason": "the comparison failed: " + _describe(exc),
                    "got": _shown(out)}
    return {"status": "pass"}


def _failure(index, what, phase, deadline, limit=None):
    if what == "timeout":
        if time.monotonic() >= deadline - 1e-3:
            why = "the phase ran past its budget of {:.3g} s".format(phase["budget"])
        else:
            why = f"ran past its time limit of {limit:.3g} s"
        return {"status": "timeout", "index": index, "reason": why}
    return {"status": "fail", "index": index, "reason": what}


def _shown(value):
    try:
        text = repr(value)
    except Exception:
        text = "<unprintable>"
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


def _read_frame(child, until):
    """The child's next message, or "timeout", or why there is none (it ended, it sent garbage)."""
    while True:
        if len(child.buf) >= 4:
            size = struct.unpack(">I", child.buf[:4])[0]
            if size > FRAME_CAP:
                return "the program sent an oversized message"
            if len(child.buf) >= 4 + size:
                data, child.buf = child.buf[4:4 + size], child.buf[4 + size:]
                try:
                    msg = json.loads(data.decode("utf-8", "surrogatepass"))
                except ValueError:
                    return "the program sent a garbled message"
                return msg if isinstance(msg, dict) else "the program sent a garbled message"
        left = until - time.monotonic()
        if left <= 0:
            return "timeout"
        ready, _, _ = select.select([child.results], [], [], left)
        if not ready:
            return "timeout"
        chunk = os.read(child.results, 1 << 16)
        if not chunk:
            return "the program ended before it was done (it exited or crashed: memory, recursion, a signal)"
        child.buf += chunk
