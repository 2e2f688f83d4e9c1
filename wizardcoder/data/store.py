"""The run store: append-only JSON-lines files and atomic JSON, what makes every stage's run resumable.

A killed run (kill -9 at any instant) loses at most the line it was writing: every append is one
`write` of a whole line followed by flush + fsync, and opening a store cuts a torn last line off
before anything is appended after it. Whole files (a round's pool) are written to a temporary name
and renamed; markers and stats are written the same way, so they exist whole or not at all.
Evolve's run directory (`evolve/rundir.py`) and eval's samples and results files both use it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wizardcoder.errors import UserError

log = logging.getLogger(__name__)


class JsonlStore:
    """An append-only JSON-lines file. Reading tolerates a torn last line; appending repairs it first.

    Every row is written and flushed at once (a kill -9 loses nothing). With `fsync`, the file is synced
    after each row, or, with `fsync_interval` > 0, at most that often and when it is closed: a power
    loss then costs at most that many seconds of the latest rows, and a stream of rows does not wait for
    the disk on each one (evolve: its rows are keyed answers a rerun asks for again).
    """

    def __init__(self, path: str | Path, fsync: bool = True, fsync_interval: float = 0.0):
        self.path = Path(path)
        self.fsync = fsync
        self.fsync_interval = fsync_interval
        self._fh = None
        self._synced = 0.0
        self._dirty = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return read_jsonl(self.path)

    def open(self) -> JsonlStore:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            repair_torn_tail(self.path)
            self._fh = open(self.path, "a", encoding="utf-8")
        return self

    def append(self, row: dict[str, Any]) -> None:
        if self._fh is None:
            self.open()
        assert self._fh is not None
        self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._fh.flush()
        self._dirty = True
        if self.fsync and time.monotonic() - self._synced >= self.fsync_interval:
            self._sync()

    def _sync(self) -> None:
        assert self._fh is not None
        os.fsync(self._fh.fileno())
        self._synced = time.monotonic()
        self._dirty = False

    def close(self) -> None:
        if self._fh is not None:
            if self.fsync and self._dirty:
                self._sync()
            self._fh.close()
            self._fh = None

    def __enter__(self) -> JsonlStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSON-lines file, streamed; a missing file is empty; a torn (unterminated) last line
    is skipped with a warning (a run killed mid-write leaves one)."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.endswith("\n"):
                log.warning("%s:%d: ignoring a torn last line (an interrupted write)", path, lineno)
                return
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{lineno}: corrupt record ({exc.msg}); delete the run directory "
                                "to start over") from exc


def iter_jsonl_offsets(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(byte offset, row) for each complete row of a JSON-lines file (`RowReader` reads it back)."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, "rb") as fh:
        offset = 0
        for line in fh:
            if not line.endswith(b"\n"):
                return  # a torn last line
            if line.strip():
                yield offset, json.loads(line)
            offset += len(line)


class RowReader:
    """Rows read back by byte offset (as `iter_jsonl_offsets` gives them) from one or more JSON-lines files:
    `at(offset)` in the first file, `at(offset, file=i)` in the i-th. Each file is opened on first use and
    held until `close()` (or the end of a `with` block): a resumed run reads many rows, one seek each."""

    def __init__(self, *paths: str | Path):
        self._paths = paths
        self._handles: dict[int, Any] = {}

    def at(self, offset: int, file: int = 0) -> dict[str, Any]:
        fh = self._handles.get(file)
        if fh is None:
            fh = self._handles[file] = open(self._paths[file], "rb")  # noqa: SIM115 - closed by close()
        fh.seek(offset)
        return json.loads(fh.readline())

    def close(self) -> None:
        for fh in self._handles.values():
            fh.close()
        self._handles.clear()

    def __enter__(self) -> RowReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def repair_torn_tail(path: Path) -> None:
    """Cut an unterminated last line off `path` (left by a kill mid-write)."""
    if not path.exists():
        return
    size = path.stat().st_size
    if size == 0:
        return
    with open(path, "rb+") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        # scan back for the last newline
        block = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            idx = chunk.rfind(b"\n")
            if idx != -1:
                truncate_to = start + idx + 1
                break
            pos = start
        else:
            truncate_to = 0
        log.warning("%s: cutting a torn last line (%d bytes) left by an interrupted write", path, size - truncate_to)
        fh.truncate(truncate_to)
        fh.flush()
        os.fsync(fh.fileno())


def truncate(path: Path, size: int) -> None:
    """Cut `path` back to `size` bytes (undo a partly written step before redoing it)."""
    if path.exists() and path.stat().st_size > size:
        with open(path, "rb+") as fh:
            fh.truncate(size)
            fh.flush()
            os.fsync(fh.fileno())


def write_json_atomic(path: Path, data: Any) -> None:
    """`path` holds the old JSON or the new, never a part; writers in other processes or threads (a cache
    shared by runs) each write their own temporary file, and the last rename wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}-{threading.get_ident()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False, default=str)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def read_json(path: Path) -> Any | None:
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicJsonlWriter:
    """Write a whole JSON-lines file under a temporary name; `commit()` renames it into place."""

    def __init__(self, path: Path):
        self.path = path
        self.tmp = path.with_name(path.name + ".tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.tmp, "w", encoding="utf-8")
        self.count = 0

    def write(self, row: dict[str, Any]) -> None:
        self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.count += 1

    def commit(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self.tmp, self.path)
        _fsync_dir(self.path.parent)

    def abort(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self.tmp.unlink(missing_ok=True)


class JsonlLog(JsonlStore):
    """A `JsonlStore` opened at once, whose rows are also kept in `records` (eval's samples and
    results: read back whole on resume, appended to as the run goes)."""

    def __init__(self, path: str | Path, fsync: bool = True):
        super().__init__(path, fsync)
        self.open()  # cuts a torn last line before reading
        self.records: list[dict[str, Any]] = list(read_jsonl(self.path))

    def append(self, row: dict[str, Any]) -> None:
        super().append(row)
        self.records.append(row)
