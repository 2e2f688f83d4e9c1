"""What a file or a folder holds, as a small JSON-able value for run fingerprints.

A run directory is keyed by what changes its results. A path string is not enough: a model retrained
into the same folder, or a seed file edited in place, must key a new run. Large weights are keyed by
size + modification time (hashing gigabytes on every start would cost minutes); small files that
decide results (configs, adapters, seed files) by a SHA-256 of their bytes, read in chunks.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20
# files of a model folder that are hashed whole (the rest, i.e. weights, by size + mtime)
_SMALL_SUFFIXES = {".json", ".txt", ".model", ".yaml", ".yml", ".jinja", ".py"}


@functools.lru_cache(maxsize=256)
def _sha256(path: str, size: int, mtime_ns: int, ctime_ns: int, inode: int) -> str:  # a changed file is read again
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes (streamed; cached in this process while the file is untouched: any write
    changes its ctime, which no tool can set back)."""
    st = Path(path).stat()
    return _sha256(str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(f for f in root.rglob("*") if f.is_file()
                  and not any(part.startswith(".") for part in f.relative_to(root).parts))


def local_path(value: str | Path | None) -> str | None:
    """`value` as an absolute, resolved path when it names a local file or folder (so `x`, `./x`, `/abs/x` and
    a symlink to it key the same run); else unchanged (a hub name, an endpoint's model name)."""
    if not value:
        return None if value is None else str(value)
    path = Path(value).expanduser()
    return str(path.resolve()) if path.exists() else str(value)


def path_identity(path: str | Path | None, *, hash_all: bool = False) -> dict[str, Any] | None:
    """{relative file: [size, (mtime_ns or sha256)]} of a local file or folder; None when `path` is not a local
    path (a hub name, an endpoint's model name). Configs and other small files are hashed; weights are
    hashed too with `hash_all` (adapters: small, and retrained in place), else keyed by size + mtime."""
    if not path:
        return None
    root = Path(path).expanduser()
    if not root.exists():
        return None
    out: dict[str, Any] = {}
    for f in _files(root):
        st = f.stat()
        name = f.name if f == root else str(f.relative_to(root))
        if hash_all or f.suffix.lower() in _SMALL_SUFFIXES:
            out[name] = [st.st_size, file_sha256(f)]
        else:
            out[name] = [st.st_size, st.st_mtime_ns]
    return out


def content_sha256(path: str | Path) -> str:
    """One SHA-256 over every file of a file or folder (names and bytes): what a seed source holds."""
    root = Path(path).expanduser()
    digest = hashlib.sha256()
    for f in _files(root):
        digest.update(str(f.relative_to(root) if f != root else "").encode() + b"\0")
        digest.update(file_sha256(f).encode())
    return digest.hexdigest()


__all__ = ["content_sha256", "file_sha256", "path_identity"]
