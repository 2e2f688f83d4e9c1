"""The sandbox's value types: a frozen `Job` in, a frozen `Result` out, and the errors.

`Status` keeps "the program failed" (FAILED, TIMEOUT) apart from "the sandbox broke" (ERROR): an
ERROR result says nothing about the program and must be retried or abort the run, never be counted
as a bad sample.
"""

from __future__ import annotations

import enum
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

OUTPUT_LIMIT = 64 * 1024  # characters of stdout / stderr kept per result (per stream)
LANGUAGES = ("python", "cpp", "java")
LANGUAGE_ALIASES = {"py": "python", "python3": "python", "c++": "cpp", "cxx": "cpp", "cc": "cpp"}


def canonical_language(name: str) -> str:
    """`name` as one of LANGUAGES when it is one or an alias of one ("py", "c++", ...), else lowercased."""
    return LANGUAGE_ALIASES.get(name.lower(), name.lower())


class SandboxError(Exception):
    """The sandbox could not do what was asked (bad backend name, closed sandbox, ...)."""


class SandboxUnavailable(SandboxError):
    """A backend cannot run here (Docker engine/SDK/image missing); the message says how to fix it."""


class Status(str, enum.Enum):
    PASSED = "passed"    # exit code 0 and the success marker (if any) on its own line in stdout
    FAILED = "failed"    # nonzero exit, compile error, crash, OOM, missing success marker
    TIMEOUT = "timeout"  # wall-clock or CPU time limit exceeded
    ERROR = "error"      # the SANDBOX broke: says nothing about the program

    def __str__(self) -> str:
        return self.value


def truncate(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """`text` cut to at most `limit` characters, ending with a "[truncated]" note (idempotent)."""
    if len(text) <= limit:
        return text
    keep = max(0, limit - 64)
    return text[:keep] + f"\n[truncated: {len(text) - keep} more characters]"


@dataclass(frozen=True)
class Job:
    """One program to run. `files` are extra files written next to the program (relative paths); `requires`
    names Python packages the program needs beside the standard library (those a worker reports in its ready
    frame: pytest): a sandbox without one answers ERROR, never a verdict."""

    program: str
    language: str = "python"
    timeout: float = 10.0
    memory_mb: int = 512
    files: Mapping[str, str] = field(default_factory=dict)
    stdin: str = ""
    success_marker: str | None = None
    requires: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        language = canonical_language(self.language)
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {self.language!r}; valid: {', '.join(LANGUAGES)}")
        object.__setattr__(self, "language", language)
        if not isinstance(self.program, str):
            raise TypeError("Job.program must be a str")
        if not self.timeout > 0:
            raise ValueError(f"Job.timeout must be > 0, got {self.timeout!r}")
        if not int(self.memory_mb) > 0:
            raise ValueError(f"Job.memory_mb must be > 0, got {self.memory_mb!r}")
        files = dict(self.files or {})
        for name, content in files.items():
            norm = posixpath.normpath(name)
            if not name or name.startswith("/") or norm == ".." or norm.startswith("../") or norm == ".":
                raise ValueError(f"Job.files: {name!r} must be a relative path inside the job directory")
            if not isinstance(content, str):
                raise TypeError(f"Job.files[{name!r}] must be a str")
        object.__setattr__(self, "files", files)
        if self.success_marker is not None and ("\n" in self.success_marker or not self.success_marker):
            raise ValueError("Job.success_marker must be a non-empty single line")
        object.__setattr__(self, "requires", tuple(self.requires))

    def __hash__(self) -> int:
        return hash((self.program, self.language, self.timeout, self.memory_mb,
                     tuple(sorted(self.files.items())), self.stdin, self.success_marker, self.requires))


@dataclass(frozen=True)
class Result:
    """What happened. `reason` explains any non-PASSED status (e.g. "compile_error", "oom")."""

    status: Status
    exit_code: int | None
    stdout: str
    stderr: str
    duration: float
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "stdout", truncate(self.stdout or ""))
        object.__setattr__(self, "stderr", truncate(self.stderr or ""))

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "exit_code": self.exit_code, "stdout": self.stdout,
                "stderr": self.stderr, "duration": self.duration, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        return cls(status=Status(data["status"]), exit_code=data.get("exit_code"),
                   stdout=data.get("stdout", ""),
                   stderr=data.get("stderr", ""), duration=float(data.get("duration", 0.0)),
                   reason=data.get("reason", ""))

    @classmethod
    def error(cls, reason: str, duration: float = 0.0) -> Result:
        """An infrastructure failure (never a verdict on the program)."""
        return cls(Status.ERROR, None, "", "", duration, reason)
