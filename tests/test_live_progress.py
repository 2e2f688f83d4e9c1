"""What a user sees: a real CLI run recorded on a pseudo-terminal and replayed through a terminal emulator
(pyte). Log lines must print above the live display, never strand stale copies of the bars nor glue onto a
bar line; without a terminal the same run prints plain log lines (status lines included) and no bars."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from wizardcoder.testing.fake_server import FakeOpenAIServer
from wizardcoder.testing.scripted_evolve import scripted_reply

pyte = pytest.importorskip("pyte", reason="pyte (the dev extra) replays the recorded terminal")

REPO = Path(__file__).resolve().parents[1]
COLUMNS, LINES = 120, 400  # tall enough that nothing scrolls off the emulated screen
BAR = "━"


def _reply(body: dict) -> str:
    return scripted_reply(body)  # the whole conversation: repair turns too


def _argv(stage: str, url: str, out: Path) -> list[str]:
    common = ["--base-url", url, "--model", "fake-model", "--sandbox", "local", "--output", str(out),
              "llm.status_interval=0.2"]
    if stage == "eval":
        return ["eval", "humaneval", "--limit", "3", *common]
    return ["evolve", "--limit", "4", "--rounds", "2", *common, "dataset.decontaminate=false"]


def _record(argv: list[str], timeout: float = 240) -> tuple[int, bytes]:
    """Run `python -m wizardcoder ARGV` on a pseudo-terminal of COLUMNS x LINES; its exit code and every byte
    it wrote to the terminal."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm-256color", "COLUMNS": str(COLUMNS),
           "LINES": str(LINES)}
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CI"):
        env.pop(name, None)  # rich must judge the terminal by itself
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin, stdout and stderr
        try:
            os.execve(sys.executable, [sys.executable, "-m", "wizardcoder", *argv], env)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    data = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
        if time.monotonic() >= deadline:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), bytes(data)


def _screen(data: bytes) -> list[str]:
    screen = pyte.Screen(COLUMNS, LINES)
    pyte.ByteStream(screen).feed(data)
    return [line.rstrip() for line in screen.display if line.strip()]


@pytest.mark.parametrize("stage, bars, least_status", [
    # evolve runs for seconds: status records come (llm.status_interval=0.2); eval's 3 tasks may end before one
    ("evolve", ["loading seeds", "round 1: evolve", "round 1: solve", "round 2: evolve", "building the dataset"], 1),
    ("eval", ["generating", "executing"], 0),
])
def test_the_live_display_appears_once_with_the_log_lines_above_it(stage, bars, least_status, tmp_path):
    with FakeOpenAIServer(_reply, latency=0.05) as server:
        code, data = _record(_argv(stage, server.url, tmp_path / "run"))
    lines = _screen(data)
    shown = "\n".join(lines)
    assert code == 0, shown[-3000:]
    for bar in bars:
        assert sum(bar in line and BAR in line for line in lines) == 1, f"{bar!r} not exactly once:\n{shown}"
    glued = [line for line in lines if BAR in line and any(word in line for word in ("INFO", "WARNING", "wizardcoder."))]
    assert not glued, "log text glued to a bar line:\n" + "\n".join(glued)
    assert "LLM endpoint(s) reachable" in shown  # the log lines are there, above the display
    # the status line is the display's last line, never printed as a log line
    assert not [line for line in lines if "wizardcoder.status" in line], shown
    assert least_status <= sum(line.lstrip().startswith("LLM: ") for line in lines) <= 1, shown


def test_without_a_terminal_the_log_is_plain_lines_with_status_lines(tmp_path):
    with FakeOpenAIServer(_reply, latency=0.3) as server:
        run = subprocess.run([sys.executable, "-m", "wizardcoder", *_argv("evolve", server.url, tmp_path / "run")],
                             env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=240,
                             check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert BAR not in run.stderr and BAR not in run.stdout  # no bars drawn into a pipe
    assert "\x1b[" not in run.stderr  # no cursor movement
    assert "INFO wizardcoder.evolve.rounds: round 1/2" in run.stderr
    status = [line for line in run.stderr.splitlines() if line.startswith("INFO wizardcoder.status: LLM: ")]
    assert status and all("done" in line and "tokens/s" in line and server.url in line for line in status)
