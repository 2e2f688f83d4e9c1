"""Basic behaviour of both sandbox backends (docker and local), on real containers and processes.

Hostile programs live in test_containment.py; this file checks the verdicts and the API contract.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from sandbox import Job, Result, SandboxError, SandboxUnavailable, Status, create_sandbox

BACKENDS = [pytest.param("docker", marks=pytest.mark.docker), "local"]


@pytest.fixture(scope="module", params=BACKENDS)
def sb(request):
    with create_sandbox(request.param, workers=2) as box:
        yield box


def run(sb, program: str, **kw) -> Result:
    return sb.run(Job(program, **kw))


# ------------------------------------------------------------------------------------------ python
def test_pass(sb):
    r = run(sb, "import sys\nprint('hello', __name__, len(sys.argv))")
    assert r.status is Status.PASSED and r.passed
    assert r.exit_code == 0
    assert r.stdout == "hello __main__ 1\n"
    assert r.reason == ""


def test_nonzero_exit_is_failed(sb):
    r = run(sb, "import sys\nprint('partial')\nsys.exit(3)")
    assert r.status is Status.FAILED and not r.passed
    assert r.exit_code == 3
    assert r.stdout == "partial\n"


def test_exception_is_failed_with_traceback(sb):
    r = run(sb, "def f():\n    raise ValueError('boom')\nf()\n")
    assert r.status is Status.FAILED
    assert r.exit_code == 1
    assert "ValueError: boom" in r.stderr
    assert "line 2, in f" in r.stderr


def test_syntax_error_is_failed(sb):
    r = run(sb, "def f(:\n")
    assert r.status is Status.FAILED
    assert "SyntaxError" in r.stderr


def test_timeout_then_next_job_runs(sb):
    recycled = sb.stats().get("workers_recycled", 0)
    t0 = time.monotonic()
    r = run(sb, "while True:\n    pass\n", timeout=1)
    assert r.status is Status.TIMEOUT
    assert r.exit_code is None
    assert time.monotonic() - t0 < 30
    assert sb.stats()["workers_recycled"] == recycled + 1  # a timed-out worker is replaced
    assert run(sb, "print(2)").stdout == "2\n"


def test_stdin(sb):
    r = run(sb, "import sys\ndata = sys.stdin.read()\nprint(data.upper(), end='')", stdin="abc\ndef\n")
    assert r.passed
    assert r.stdout == "ABC\nDEF\n"


def test_extra_files(sb):
    files = {"helper.py": "VALUE = 41\n", "data/input.txt": "hello file\n"}
    r = run(sb, "import helper\nprint(helper.VALUE + 1)\nprint(open('data/input.txt').read(), end='')",
            files=files)
    assert r.passed, r
    assert r.stdout == "42\nhello file\n"


def test_each_job_gets_a_fresh_namespace_and_dir(sb):
    first = run(sb, "import os, random\nx = 1\nopen('left.txt', 'w').write('x')\nprint(random.random())")
    assert first.passed
    second = run(sb, "import os, random\n"
                     "print('x' in globals(), os.path.exists('left.txt'), random.random())")
    assert second.passed
    assert second.stdout.split()[:2] == ["False", "False"]
    assert second.stdout.split()[2] != first.stdout.strip()


def test_job_dir_is_wiped_even_when_made_unreadable(sb):
    r = run(sb, "import os\nos.makedirs('d/e')\nopen('d/e/f', 'w').write('x')\nos.chmod('d/e', 0)\n"
                "os.chmod('d', 0o500)\nos.chmod('.', 0o500)\nprint('ok')")
    assert r.passed, r
    for _ in range(2 * sb.workers):  # whichever worker ran it
        after = run(sb, "import os\nprint(sorted(os.listdir('.')))")
        assert after.passed and after.stdout == "['main.py']\n", after


def test_success_marker(sb):
    marker = "ALL-TESTS-PASSED-123"
    assert run(sb, f"print('{marker}')", success_marker=marker).passed
    missing = run(sb, "print('something else')", success_marker=marker)
    assert missing.status is Status.FAILED
    assert "marker" in missing.reason
    # the marker must be on its own line
    assert not run(sb, f"print('x{marker}')", success_marker=marker).passed
    # ending the program early with status 0 never counts
    for early_exit in ("exit(0)", "import os; os._exit(0)", "raise SystemExit"):
        r = run(sb, f"{early_exit}\nprint('{marker}')", success_marker=marker)
        assert r.status is Status.FAILED, (early_exit, r)


def test_memory_limit_per_job(sb):
    r = run(sb, "x = bytearray(1024 * 1024 * 1024)\nprint('allocated')", memory_mb=256)
    assert r.status is Status.FAILED
    assert "MemoryError" in r.stderr


def test_output_is_truncated(sb):
    r = run(sb, "import sys\nsys.stdout.write('x' * 300000)\nsys.stderr.write('y' * 300000)")
    assert r.passed
    assert 60 * 1024 <= len(r.stdout) <= 64 * 1024
    assert "[truncated" in r.stdout
    assert len(r.stderr) <= 64 * 1024 and "[truncated" in r.stderr


def test_marker_after_huge_output_is_found(sb):
    r = run(sb, "print('z' * 500000)\nprint('DONE-MARK')", success_marker="DONE-MARK")
    assert r.passed, r.reason


# ------------------------------------------------------------------------------------------ c++ / java
CPP_OK = """
#include <iostream>
#include <vector>
int main() {
    std::vector<int> v{1, 2, 3};
    int s = 0;
    for (int x : v) s += x;
    std::string line;
    std::getline(std::cin, line);
    std::cout << "sum=" << s << " in=" << line << std::endl;
    return 0;
}
"""


def test_cpp_ok(sb):
    r = run(sb, CPP_OK, language="cpp", stdin="hey\n")
    assert r.passed, r
    assert r.stdout == "sum=6 in=hey\n"


def test_cpp_compile_error(sb):
    r = run(sb, "int main() { return undefined_name; }", language="cpp")
    assert r.status is Status.FAILED
    assert r.reason == "compile_error"
    assert "undefined_name" in r.stderr


def test_cpp_runtime_failure(sb):
    r = run(sb, "#include <cassert>\nint main() { assert(1 == 2); return 0; }", language="cpp")
    assert r.status is Status.FAILED
    assert r.exit_code != 0


JAVA_TEMPLATE = """
import java.util.*;

class Pair {{ int a; Pair(int a) {{ this.a = a; }} }}

class Problem {{
    static int twice(int x) {{ return 2 * x; }}
    public static void main(String[] args) {{
        assert twice(new Pair(2).a) == {expected} : "twice is wrong";
        System.out.println("java ok");
    }}
}}
"""


def test_java_ok(sb):
    r = run(sb, JAVA_TEMPLATE.format(expected=4), language="java", timeout=20)
    assert r.passed, r
    assert r.stdout == "java ok\n"


def test_java_assertions_enabled(sb):
    r = run(sb, JAVA_TEMPLATE.format(expected=5), language="java", timeout=20)
    assert r.status is Status.FAILED, r
    assert "AssertionError" in r.stderr


def test_java_public_class_and_compile_error(sb):
    ok = run(sb, "public class Main { public static void main(String[] a) { System.out.println(7); } }",
             language="java", timeout=20)
    assert ok.passed, ok
    assert ok.stdout == "7\n"
    bad = run(sb, "class Problem { public static void main(String[] a) { int x = ; } }", language="java")
    assert bad.status is Status.FAILED
    assert bad.reason == "compile_error"


# ------------------------------------------------------------------------------------------ run_many
def test_run_many_keeps_order_and_reports_progress(sb):
    jobs = [Job(f"import time\ntime.sleep({0.02 * (i % 4)})\nprint({i})") for i in range(12)]
    jobs.append(Job("import sys; sys.exit(1)"))
    seen: list[Result] = []
    results = sb.run_many(jobs, progress=seen.append)
    assert [r.stdout for r in results[:12]] == [f"{i}\n" for i in range(12)]
    assert results[12].status is Status.FAILED
    assert len(seen) == len(jobs)
    assert sorted(r.stdout for r in seen) == sorted(r.stdout for r in results)
    assert sb.run_many([]) == []


def test_run_many_requeues_jobs_queued_behind_a_poisoning_job(sb):
    # run_many queues small batches on each worker; a job that gets its worker recycled (a timeout, files
    # left outside its dir) must not take the jobs queued behind it down: they run elsewhere, in order.
    jobs = [Job(f"print({i})") for i in range(24)]
    jobs[3] = Job("while True:\n    pass\n", timeout=0.5)
    if sb.__class__.__name__ == "DockerSandbox":  # /tmp is the container's own there
        jobs[9] = Job("open('/tmp/stray-file', 'w').write('x')\nprint(9)")
    results = sb.run_many(jobs)
    assert results[3].status is Status.TIMEOUT
    for i, r in enumerate(results):
        if i != 3:
            assert r.passed and r.stdout == f"{i}\n", (i, r)


def test_run_many_is_concurrent(sb):
    # two workers: 4 jobs of 1 s each take ~2 s, not 4 s (generous bound for a loaded machine)
    t0 = time.monotonic()
    results = sb.run_many([Job("import time; time.sleep(1)")] * 4)
    assert all(r.passed for r in results)
    assert time.monotonic() - t0 < 3.9


# ------------------------------------------------------------------------------------------ types
def test_job_validation():
    with pytest.raises(ValueError, match="valid: python, cpp, java"):
        Job("x", language="rust")
    with pytest.raises(ValueError):
        Job("x", files={"../escape.py": ""})
    with pytest.raises(ValueError):
        Job("x", files={"/abs.py": ""})
    with pytest.raises(ValueError):
        Job("x", timeout=0)
    assert Job("x", language="C++").language == "cpp"
    job = Job("x", files={"a.py": "1"})
    with pytest.raises(AttributeError):  # frozen
        job.program = "y"  # type: ignore[misc]
    assert hash(job) == hash(Job("x", files={"a.py": "1"}))


def test_result_contract():
    r = Result(status="passed", exit_code=0, stdout="a" * 100000, stderr="", duration=0.1)
    assert r.status is Status.PASSED and r.passed
    assert len(r.stdout) <= 64 * 1024 and "[truncated" in r.stdout
    assert Result.from_dict(r.to_dict()) == r
    assert Status.ERROR.value == "error" and str(Status.TIMEOUT) == "timeout"
    assert not Result.error("broken").passed


# ------------------------------------------------------------------------------------------ factory
def test_factory_unknown_backend_lists_valid_ones():
    with pytest.raises(SandboxError, match="docker, local"):
        create_sandbox("firecracker")


def test_factory_unknown_option():
    with pytest.raises(SandboxError, match="unexpected keyword"):
        create_sandbox("local", workers=1, no_such_option=1)


def test_factory_docker_sdk_missing(monkeypatch):
    for name in list(sys.modules):
        if name == "docker" or name.startswith("docker.") or name == "sandbox.docker":
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "docker", None)  # makes `import docker` fail
    with pytest.raises(SandboxUnavailable, match=r"pip install 'wizardcoder\[docker\]'"):
        create_sandbox("docker")


def test_factory_docker_engine_unreachable(monkeypatch, tmp_path):
    pytest.importorskip("docker")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-docker.sock")
    with pytest.raises(SandboxUnavailable, match="dockerd") as info:
        create_sandbox("docker", workers=1)
    assert "--sandbox local" in str(info.value)


@pytest.mark.docker
def test_factory_docker_image_missing():
    with pytest.raises(SandboxUnavailable, match="bash sandbox/build_image.sh"):
        create_sandbox("docker", workers=1, image="wizardcoder-sandbox:no-such-tag")


def test_closed_sandbox_refuses_jobs():
    box = create_sandbox("local", workers=1)
    assert box.run(Job("print(1)")).passed
    box.close()
    box.close()  # idempotent
    with pytest.raises(SandboxError):
        box.run(Job("print(1)"))


# ------------------------------------------------------------------------------------------ infrastructure
def _run_in_thread(box, job):
    out: list[Result] = []
    t = threading.Thread(target=lambda: out.append(box.run(job)))
    t.start()
    return t, out


@pytest.mark.docker
def test_docker_container_removed_mid_job_is_error_and_recovers():
    import docker

    client = docker.from_env()
    with create_sandbox("docker", workers=1, spares=0) as box:
        t, out = _run_in_thread(box, Job("import time; time.sleep(20); print('done')", timeout=30))
        time.sleep(1.5)
        victims = client.containers.list(filters={"label": f"wizardcoder.sandbox.session={box.session}"})
        assert len(victims) == 1
        victims[0].remove(force=True)
        t.join(60)
        assert out and out[0].status is Status.ERROR, out
        assert "vanished" in out[0].reason or "exited" in out[0].reason
        assert box.run(Job("print('recovered')")).stdout == "recovered\n"


@pytest.mark.docker
def test_docker_oom_kill_is_failed_oom():
    with create_sandbox("docker", workers=1, memory_mb=256, spares=0) as box:
        r = box.run(Job("x = bytearray(1500 * 1024 * 1024)\nprint('no')", memory_mb=4096))
        assert r.status is Status.FAILED, r
        assert r.reason == "oom"
        assert box.run(Job("print('after')")).stdout == "after\n"


@pytest.mark.docker
def test_docker_containers_are_hardened_and_removed_on_close():
    import docker

    client = docker.from_env()
    box = create_sandbox("docker", workers=1, spares=0)
    try:
        r = box.run(Job("import os\nprint(os.getuid(), os.getpid() != 1)"))
        assert r.stdout == "65534 True\n"
        (c,) = client.containers.list(filters={"label": f"wizardcoder.sandbox.session={box.session}"})
        hc = c.attrs["HostConfig"]
        assert hc["NetworkMode"] == "none" and hc["ReadonlyRootfs"] is True
        assert hc["CapDrop"] == ["ALL"] and "no-new-privileges" in hc["SecurityOpt"]
        assert hc["PidsLimit"] > 0 and hc["Memory"] > 0 and hc["NanoCpus"] > 0
        assert c.attrs["Config"]["User"] == "65534:65534"
        assert c.labels["wizardcoder.sandbox"] == "1"
    finally:
        box.close()
    session = {"label": f"wizardcoder.sandbox.session={box.session}"}
    assert client.containers.list(all=True, filters=session) == []


@pytest.mark.docker
def test_docker_stale_containers_of_dead_sessions_are_removed():
    import docker

    from sandbox.docker import remove_stale_containers

    client = docker.from_env()
    dead = subprocess.Popen(["true"])
    dead.wait()
    import socket

    stale = client.containers.create(
        "wizardcoder-sandbox:latest", command=["--root", "/tmp"], network_mode="none",
        labels={"wizardcoder.sandbox": "1", "wizardcoder.sandbox.session": "stale-test",
                "wizardcoder.sandbox.owner": f"{socket.gethostname()}:{dead.pid}"})
    try:
        assert remove_stale_containers(client) >= 1
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(stale.id)
    finally:
        try:
            stale.remove(force=True)
        except docker.errors.NotFound:
            pass


def test_local_worker_killed_mid_job_is_error_and_recovers():
    with create_sandbox("local", workers=1) as box:
        t, out = _run_in_thread(box, Job("import time; time.sleep(20)", timeout=30))
        time.sleep(1.0)
        (channel,) = list(box._pool._live)  # white box: the one worker process
        os.killpg(channel.proc.pid, 9)
        t.join(60)
        assert out and out[0].status is Status.ERROR, out
        assert box.run(Job("print('recovered')")).stdout == "recovered\n"


def test_local_leftover_processes_are_killed():
    with create_sandbox("local", workers=1) as box:
        if "pid" not in box.isolation:
            pytest.skip(f"no pid namespace here (isolation: {box.isolation})")
        r = box.run(Job("import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n"
                        "print('parent')"))
        assert r.passed
        r = box.run(Job("import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"))
        assert r.passed
        pids = eval(r.stdout)
        assert len(pids) == 2, pids  # the worker (pid 1) and this job


CHILD = """
import os, signal, sys, time
# Python's own SIGINT handling, as under a terminal: a parent started in the background (`cmd &` in a script)
# passes SIGINT on ignored, and the kill below would then do nothing.
signal.signal(signal.SIGINT, signal.default_int_handler)
from sandbox import create_sandbox, Job
sb = create_sandbox("docker", workers=1, spares=0)
assert sb.run(Job("print(1)")).passed
print(sb.session, flush=True)
how = sys.argv[1]
if how == "exit":
    sys.exit(0)          # no close(): atexit must clean up
os.kill(os.getpid(), signal.SIGTERM if how == "sigterm" else signal.SIGINT)
time.sleep(30)
"""


@pytest.mark.docker
@pytest.mark.parametrize("how", ["exit", "sigterm", "sigint"])
def test_docker_containers_removed_when_the_process_ends(how):
    import docker

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([sys.executable, "-c", CHILD, how], check=False, capture_output=True, text=True,
                          timeout=120, cwd=repo)
    session = proc.stdout.strip().splitlines()[0]
    assert proc.returncode != 0 or how == "exit", proc.stderr
    label = {"label": f"wizardcoder.sandbox.session={session}"}
    left = docker.from_env().containers.list(all=True, filters=label)
    assert left == [], f"{how}: {len(left)} container(s) left"


def test_a_job_requiring_a_module_the_worker_lacks_is_an_error_never_run(sb):
    # the worker reports the packages it can warm up (pytest) in its ready frame; anything else it lacks
    missing = sb.run(Job("print('ran')", requires=("no_such_module",), success_marker="ran"))
    assert missing.status is Status.ERROR and "no_such_module is not installed" in missing.reason
    assert "ran" not in missing.stdout
    r = sb.run(Job("import pytest\nprint('ran')", requires=("pytest",), success_marker="ran"))
    assert r.status is Status.PASSED, r
