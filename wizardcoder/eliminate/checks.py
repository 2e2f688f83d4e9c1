"""What the eliminator's execution check takes and gives: an `ExecutionCheck` (a task's solution and
tests) in, a `Verdict` out; a language module turns a check into a `Built` program (or a static verdict):
`wizardcoder.languages`.

A verdict's reason is a `wizardcoder.reasons.Reason`: passed, no_asserts, tests_cannot_fail, failed,
timeout, compile_error or infra_error. "infra_error" means the sandbox broke (its ERROR status): it says
nothing about the sample and must never be counted as a bad one.
"""

from __future__ import annotations

from dataclasses import dataclass

NOT_RUN = "not_run"  # Verdict.status of a check decided without running it


@dataclass(frozen=True)
class Verdict:
    key: str
    ok: bool
    reason: str  # a Reason (a plain str when read back from a file)
    status: str
    duration: float
    stdout_tail: str
    stderr_tail: str

    def to_dict(self) -> dict:
        return {"key": self.key, "ok": self.ok, "reason": self.reason, "status": self.status,
                "duration": self.duration, "stdout_tail": self.stdout_tail, "stderr_tail": self.stderr_tail}
