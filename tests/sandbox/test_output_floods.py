"""Output never decides a verdict: floods of stdout/stderr are drained and discarded past the kept head and
tail, never fatal, never blocking; the success marker is still required, cannot be faked by a flood
(spliced lines, marker on stderr, marker mid-line) and cannot be lost in the discarded middle.

Both backends run the same fork-server worker (baked into the Docker image: build your own tag when
changing it). The hostile variants (floods that try to fake a pass, children that keep writing after the
program exits) are also in the containment corpus (test_containment.py), with its probe checks.
"""

from __future__ import annotations

import secrets
import time

import pytest

from sandbox import Job, Status, create_sandbox
from sandbox.types import OUTPUT_LIMIT

BACKENDS = [pytest.param("docker", marks=pytest.mark.docker), "local"]
MIB = 1 << 20


@pytest.fixture(scope="module", params=BACKENDS)
def sb(request):
    options = {}
    if request.param == "docker":
        import os

        options["image"] = os.environ.get("WIZARDCODER_SANDBOX_IMAGE", "wizardcoder-sandbox:latest")
    with create_sandbox(request.param, workers=2, **options) as box:
        yield box


def _run(sb, template: str, timeout: float = 20.0, memory_mb: int = 256):
    marker = "WZ-PASS-" + secrets.token_hex(12)
    program = template.replace("MARKER", marker)
    t0 = time.monotonic()
    result = sb.run(Job(program, timeout=timeout, memory_mb=memory_mb, success_marker=marker))
    assert len(result.stdout) <= OUTPUT_LIMIT and len(result.stderr) <= OUTPUT_LIMIT, "output not bounded"
    assert marker not in result.stderr or "stderr" in template
    return result, time.monotonic() - t0


# Correct programs that print a lot: every one must PASS (the reference harness discards output too).
PASSING = {
    "stdout_100mib_lines": "import sys\nline = 'A' * 1023 + '\\n'\nfor _ in range(100 * 1024): sys.stdout.write(line)\n"
                           "print('MARKER')\n",
    "stderr_100mib": "import sys\nchunk = 'E' * (1 << 20)\nfor _ in range(100): sys.stderr.write(chunk)\nprint('MARKER')\n",
    "both_streams_at_once": "import os, threading\n"
                            "def flood(fd):\n    c = b'x' * 65536\n    for _ in range(1024): os.write(fd, c)\n"
                            "ts = [threading.Thread(target=flood, args=(fd,)) for fd in (1, 2)]\n"
                            "[t.start() for t in ts]; [t.join() for t in ts]\nos.write(1, b'\\nMARKER\\n')\n",
    "no_newlines_64mib": "import os\nc = b'N' * (1 << 20)\nfor _ in range(64): os.write(1, c)\nos.write(1, b'\\nMARKER\\n')\n",
    "binary_32mib": "import os, random\nr = random.Random(1)\nc = bytes(r.getrandbits(8) for _ in range(1 << 16))\n"
                    "for _ in range(512): os.write(1, c)\nos.write(1, b'\\nMARKER\\n')\n",
    "marker_early_then_flood": "import os\nos.write(1, b'MARKER\\n')\nc = b'z' * (1 << 20)\n"
                               "for _ in range(64): os.write(1, c)\n",
    "marker_crlf_after_flood": "import os\nos.write(1, b'q' * (8 << 20))\nos.write(1, b'\\r\\nMARKER\\r\\n')\n",
    "recursive_print": "import sys\nsys.setrecursionlimit(10000)\n"
                       "def f(n):\n    print('visiting', n, 'with a long line of context ' * 8)\n"
                       "    return 0 if n == 0 else 1 + f(n - 1)\n"
                       "for _ in range(40):\n    assert f(2000) == 2000\nprint('MARKER')\n",
    "child_floods_after_exit": "import os\nif os.fork() == 0:\n    c = b'c' * 65536\n    while True:\n"
                               "        os.write(1, c)\nos.write(1, b'\\nMARKER\\n')\nos._exit(0)\n",
}

# Programs that may not pass: the marker is spliced, on the wrong stream, mid-line, or the exit is nonzero.
FAILING = {
    "marker_mid_line_after_flood": "import os\nos.write(1, b'x' * (20 << 20))\nos.write(1, b'MARKER\\n')\n",
    "marker_split_by_flood": "import os\nm = b'MARKER'\nos.write(1, b'\\n' + m[:7])\nos.write(1, b'y' * (20 << 20))\n"
                             "os.write(1, m[7:] + b'\\n')\n",
    "marker_only_on_stderr": "import sys\nfor _ in range(100000): sys.stderr.write('MARKER\\n')\n",
    "marker_with_suffix": "import os\nos.write(1, b'k' * (4 << 20))\nos.write(1, b'\\nMARKERX\\n')\n",
    "flood_then_exit_1": "import os\nos.write(1, b'\\nMARKER\\n')\nos.write(1, b'w' * (64 << 20))\nos._exit(1)\n",
    "child_writes_marker_after_parent_fails": "import os, time\nif os.fork() == 0:\n    time.sleep(0.3)\n"
                                              "    os.write(1, b'\\nMARKER\\n')\n    os._exit(0)\nos._exit(3)\n",
}


@pytest.mark.parametrize("name", sorted(PASSING))
def test_output_flood_does_not_decide_the_verdict(sb, name):
    result, elapsed = _run(sb, PASSING[name])
    assert result.status is Status.PASSED, (name, result.status, result.reason, result.stderr[-300:])
    assert elapsed < 15, f"{name}: {elapsed:.1f}s"


@pytest.mark.parametrize("name", sorted(FAILING))
def test_flood_cannot_fake_the_marker(sb, name):
    result, _ = _run(sb, FAILING[name])
    assert result.status is Status.FAILED, (name, result.status, result.reason)


def test_kept_output_is_head_and_tail(sb):
    result, _ = _run(sb, "import os\nos.write(1, b'HEAD-START\\n')\nos.write(1, b'm' * (32 << 20))\n"
                         "os.write(1, b'\\nTAIL-END\\nMARKER\\n')\nos.write(2, b'e' * (9 << 20) + b'ERR-END')\n")
    assert result.passed
    assert result.stdout.startswith("HEAD-START\n") and "TAIL-END\n" in result.stdout[-200:]
    assert "[truncated: " in result.stdout and "bytes of output discarded" in result.stdout
    assert result.stderr.endswith("ERR-END")


def test_output_heavy_then_timeout_is_timeout(sb):
    result, elapsed = _run(sb, "import os\nc = b't' * 65536\nwhile True:\n    os.write(1, c)\n", timeout=2)
    assert result.status is Status.TIMEOUT, (result.status, result.reason)
    assert elapsed < 10


def test_file_size_limit_still_holds(sb):
    """Output is free; files written to disk are still bounded (RLIMIT_FSIZE: that is containment)."""
    result, _ = _run(sb, "with open('big', 'wb') as f:\n    f.write(b'f' * (64 << 20))\nprint('MARKER')\n")
    assert result.status is Status.FAILED and "file size limit" in result.reason, result.reason
