"""The fork-server's cheap paths (what each job does not pay for) keep their guarantees.

The worker warms up modules on demand, reuses its standard streams, checks directories by their size
where the filesystem allows it, and (docker) talks to the host over a socket instead of the engine's
attach stream. Each test shows the fast path gives what the slow one gave.
"""

from __future__ import annotations

import os
import tempfile

import pytest

from sandbox import Job, Status, create_sandbox
from sandbox import worker as worker_mod

BACKENDS = [pytest.param("docker", marks=pytest.mark.docker), "local"]


@pytest.fixture(scope="module", params=BACKENDS)
def one_worker(request):
    """One worker, so that consecutive jobs run in the same fork server."""
    with create_sandbox(request.param, workers=1) as box:
        yield box


# ------------------------------------------------------------------------------------------ unit
def test_imported_modules_reads_import_statements():
    source = ("from typing import List\nimport math, os.path as p\n  import re  # indented\n"
              "x = 'import nothing'\nfrom . import sibling\nimport collections.abc\n# import commented\n")
    assert worker_mod.imported_modules(source) == {"typing", "math", "os", "re", "collections"}
    assert worker_mod.imported_modules("print(1)\n") == set()


def test_empty_size_is_known_only_where_size_counts_entries():
    shm = "/dev/shm"
    if not os.path.isdir(shm) or os.statvfs(shm).f_bsize == 0:
        pytest.skip("no /dev/shm tmpfs on this machine")
    with tempfile.TemporaryDirectory(dir=shm) as d:
        empty = worker_mod._empty_size(d)
        if empty is None:
            pytest.skip("/dev/shm is not a filesystem whose directory sizes count entries")
        open(os.path.join(d, "f"), "w").close()
        assert os.stat(d).st_size != empty  # a file is seen without listing the directory
        assert worker_mod._empty_size(d) is None  # not empty: no size is trusted
        os.unlink(os.path.join(d, "f"))
        assert os.stat(d).st_size == empty


def test_wipe_removes_what_a_job_left_even_unwritable(tmp_path):
    job = tmp_path / "job"
    (job / "sub").mkdir(parents=True)
    (job / "main.py").write_text("x")
    (job / "sub" / "f").write_text("y")
    (job / "sub").chmod(0o500)
    worker_mod._wipe(str(job), ("main.py",))
    assert not job.exists()
    worker_mod._wipe(str(job), ("main.py",))  # already gone: nothing to do


# ------------------------------------------------------------------------------------------ backends
def test_modules_jobs_keep_importing_are_warm_for_later_jobs(one_worker):
    probe = "import sys\nprint('calendar' in sys.modules)\n"
    use = "import calendar\nprint(calendar.isleap(2024))\n"
    assert one_worker.run(Job(probe)).stdout == "False\n"
    assert one_worker.run(Job(use)).stdout == "True\n"
    assert one_worker.run(Job(probe)).stdout == "False\n"  # one job is not enough to warm it
    assert one_worker.run(Job(use)).stdout == "True\n"
    assert one_worker.run(Job(probe)).stdout == "True\n"
    # warm, yet each job still has its own copy: a change made by one job is not seen by the next
    one_worker.run(Job("import calendar\ncalendar.isleap = None\n"))
    assert one_worker.run(Job(use)).stdout == "True\n"


def test_standard_streams(one_worker):
    r = one_worker.run(Job("import sys\nprint(repr(sys.stdin.read()))\nprint('\\udcff')\n"
                           "print(sys.stdout.errors, sys.stderr.errors, file=sys.stderr)\n"))
    assert r.passed, r
    assert r.stdout == "''\n\\udcff\n"
    assert r.stderr == "backslashreplace backslashreplace\n"
    r = one_worker.run(Job("import sys\nprint(sys.stdin.read().upper())\n", stdin="given\ninput\n"))
    assert r.stdout == "GIVEN\nINPUT\n\n"


def test_job_signals_are_the_defaults(one_worker):
    r = one_worker.run(Job("import signal\nprint([signal.getsignal(s) == signal.SIG_DFL for s in "
                           "(signal.SIGPIPE, signal.SIGTERM, signal.SIGXFSZ, signal.SIGUSR1)])\n"))
    assert r.stdout == "[True, True, True, True]\n", r


# ------------------------------------------------------------------------------------------ docker channel
@pytest.mark.docker
def test_docker_socket_channel_is_closed_to_jobs():
    with create_sandbox("docker", workers=1, spares=0) as sb:
        if sb.channel != "socket":
            pytest.skip(f"the engine is not local here (channel {sb.channel})")
        program = ("import socket\ns = socket.socket(socket.AF_UNIX)\n"
                   "try:\n    s.connect('/run/wizardcoder-sandbox.sock')\nexcept OSError as e:\n"
                   "    print('refused', type(e).__name__)\nelse:\n    print('ESCAPED: connected')\n")
        r = sb.run(Job(program))
        assert r.stdout.startswith("refused"), r
        assert not os.listdir(sb._socket_dir)  # the host removed the socket file once the worker connected


@pytest.mark.docker
def test_docker_attach_channel_still_works():
    with create_sandbox("docker", workers=1, spares=0, channel="attach") as sb:
        assert sb.channel == "attach"
        r = sb.run(Job("print('over attach')", success_marker="over attach"))
        assert r.status is Status.PASSED, r


@pytest.mark.docker
def test_docker_unknown_channel_is_refused():
    with pytest.raises(ValueError, match="channel"):
        create_sandbox("docker", workers=1, channel="pigeon")
