"""One process per run directory: an advisory lock (`fcntl.flock`) held for the whole stage.

    with run_lock(run_dir, "evolve"):
        ...   # a second evolve / eval / train on run_dir now fails at once (UserError, exit 2)

The kernel drops an flock when the last descriptor of its open file goes away, so a lock never
outlives its process, kill -9 included. Children forked without exec (dataloader workers, process
pools) close their copy at fork, so they cannot keep it alive either; exec'd children never get it
(descriptors are non-inheritable). The lock file stays in place (deleting it would let a third
process lock a new file while a second still holds the old one); it holds the holder's pid, host,
command and start time, for the error message of whoever comes next, and marks the folder as that
stage's run directory: no stage writes its run into another's (`check_placement`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from wizardcoder.errors import UserError

LOCK_NAME = ".wizardcoder.lock"


class RunDirLocked(UserError):
    """Another process holds the run directory."""


def _holder_text(fd: int) -> str:
    """The holder's description, read from the lock file (it may be a moment late in writing it)."""
    for _ in range(20):
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 65536)
        try:
            info = json.loads(raw)
            break
        except ValueError:
            time.sleep(0.025)
    else:
        return "another process (it has not written its details yet)"
    return (f"{info.get('stage', 'wizardcoder')} pid {info.get('pid')} on host {info.get('host')}, started "
            f"{info.get('started')}: {info.get('command')}")


def _command_line() -> str:
    """This process's command line as typed (`python -m wizardcoder evolve ...`), where the OS tells it."""
    try:
        argv = Path("/proc/self/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        argv = [sys.executable, *sys.argv]
    return shlex.join(argv)


def stage_of(run_dir: str | Path) -> str | None:
    """The stage whose run directory `run_dir` is ("evolve", "eval", "train"; its lock file says), or None."""
    try:
        return json.loads((Path(run_dir) / LOCK_NAME).read_text()).get("stage") or None
    except (OSError, ValueError, AttributeError):
        return None


def check_placement(run_dir: str | Path, stage: str, *, itself: bool = True) -> None:
    """A UserError (exit 2) when `run_dir` is (`itself`), or lies inside, a run directory of another stage (an
    `eval --output` inside an evolve run), or inside another run of the same stage: their files would mix."""
    here = Path(os.path.abspath(run_dir))
    for folder in (here, *here.parents) if itself else here.parents:
        owner = stage_of(folder)
        if owner is None or (folder == here and owner == stage):
            continue
        where = "is" if folder == here else f"is inside {folder}, which is"
        raise UserError(f"{run_dir} {where} the run directory of a `wizardcoder {owner}` run: this {stage} would "
                        f"write its files among that run's. Give this {stage} its own --output (e.g. "
                        f"runs/{stage}/<name>), outside any other run directory.")


@contextlib.contextmanager
def run_lock(run_dir: str | Path, stage: str) -> Iterator[Path]:
    """Hold `run_dir`'s lock for the `with` block; RunDirLocked (exit 2) at once if someone else holds it, a
    UserError when `run_dir` lies in another run's directory (`check_placement`)."""
    run_dir = Path(run_dir)
    check_placement(run_dir, stage, itself=False)  # before mkdir: nothing is made inside another run
    path = run_dir / LOCK_NAME
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UserError(f"cannot use {run_dir} as the {stage} run directory: {exc.strerror or exc} "
                        "(give --output a folder you can write to)") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder_text(fd)
        os.close(fd)
        raise RunDirLocked(
            f"{run_dir} is in use by {holder}. Two processes on one run directory would corrupt it: wait for "
            f"that one to finish (or stop it), or give this {stage} another --output.") from None
    except BaseException:
        os.close(fd)
        raise
    try:  # the lock file still says whose directory this was (a holder above was named first)
        check_placement(run_dir, stage)
    except BaseException:
        os.close(fd)
        raise
    closed = False

    def close_in_child() -> None:  # a forked child must not keep the lock after its parent is gone
        if not closed:
            with contextlib.suppress(OSError):
                os.close(fd)

    os.register_at_fork(after_in_child=close_in_child)
    try:
        info = {"stage": stage, "pid": os.getpid(), "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": _command_line()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield path
    finally:
        closed = True
        os.close(fd)  # releases the lock


__all__ = ["LOCK_NAME", "RunDirLocked", "check_placement", "run_lock", "stage_of"]
