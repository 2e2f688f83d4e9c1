"""Each program's limits hold for compilers and the JVM too: Java's native memory is bounded by
memory_mb (RLIMIT_DATA over the heap), g++/javac get their own memory cap, and the compile time limit
is the backend's `compile_timeout`, apart from the job's timeout (see SandboxConfig)."""

from __future__ import annotations

import pytest

from sandbox import Job, Status, create_sandbox
from wizardcoder.execution.config import SandboxConfig

BACKENDS = [pytest.param("docker", marks=pytest.mark.docker), "local"]
MARK = "LIMITS-OK-5e1d"


@pytest.fixture(scope="module", params=BACKENDS)
def sb(request):
    with create_sandbox(request.param, workers=1, compile_timeout=30.0) as box:
        yield box


UNSAFE = '''public class Main {
    public static void main(String[] args) throws Exception {
        java.lang.reflect.Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
        f.setAccessible(true);
        sun.misc.Unsafe u = (sun.misc.Unsafe) f.get(null);
        long size = 400L << 20, p = u.allocateMemory(size);
        for (long i = 0; i < size; i += 4096) u.putByte(p + i, (byte) 1);
        System.out.println("__MARK__");
    }
}
'''.replace("__MARK__", MARK)


def test_java_native_memory_is_bounded_by_memory_mb(sb):
    r = sb.run(Job(UNSAFE, language="java", timeout=20, memory_mb=64, success_marker=MARK))
    assert r.status is Status.FAILED and "OutOfMemoryError" in r.stderr, r


def test_java_under_the_data_limit_still_runs_threads_and_deep_recursion(sb):
    program = '''import java.util.*;
public class Main {
    static int depth(int n) { return n == 0 ? 0 : 1 + depth(n - 1); }
    public static void main(String[] args) throws Exception {
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < 16; i++) { Thread t = new Thread(() -> {}); t.start(); ts.add(t); }
        for (Thread t : ts) t.join();
        Map<Integer, String> m = new HashMap<>();
        for (int i = 0; i < 200000; i++) m.put(i, "v" + i);
        System.out.println(depth(200000) + m.size());
        System.out.println("__MARK__");
    }
}
'''.replace("__MARK__", MARK)
    r = sb.run(Job(program, language="java", timeout=20, memory_mb=64, success_marker=MARK))
    assert r.status is Status.PASSED, r


def test_compilers_have_a_memory_cap(sb):
    # ~10^7 initialiser elements: cc1plus needs well over 1 GiB; the cap (768 MiB here) stops it
    program = "#define A1 1,2,3,4,5,6,7,8,9,10,\n" + "".join(
        f"#define A{k} " + " ".join([f"A{k - 1}"] * 10) + "\n" for k in range(2, 8)) + \
        "int a[] = { A7 };\nint main() { return a[0] - 1; }\n"
    r = sb.run(Job(program, language="cpp", timeout=5, memory_mb=64))
    assert r.status is not Status.PASSED and r.reason in ("compile_error", "oom"), r
    assert r.duration < 30


def test_compile_time_is_limited_by_compile_timeout_not_the_job_timeout():
    cfg = SandboxConfig(timeout=1.0, compile_timeout=2.0, backend="local")
    from wizardcoder.execution import open_sandbox

    slow = ("constexpr long long work(int n) { long long s = 0; for (int i = 0; i < n; ++i)"
            " for (int j = 0; j < n; ++j) s += (i ^ j) & 7; return s; }\n"
            "constexpr long long K = work(3000) + work(2999) + work(2998);\nint main() { return K * 0; }\n")
    with open_sandbox(cfg) as sb:
        assert sb.compile_timeout == 2.0
        r = sb.run(Job(slow, language="cpp", timeout=cfg.timeout, memory_mb=cfg.memory_mb))
    assert r.status is Status.TIMEOUT and "compilation" in r.reason, r
    with pytest.raises(ValueError, match="compile_timeout"):
        SandboxConfig(compile_timeout=0)
