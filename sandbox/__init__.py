"""Run untrusted programs (Python, C++, Java) and get a verdict.

    from sandbox import create_sandbox, Job, Status
    with create_sandbox("docker") as sb:    # or "local" (NOT a security boundary), or "ray" (a cluster)
        result = sb.run(Job("print(1 + 1)", timeout=5))
        results = sb.run_many(jobs, progress=lambda r: ...)

Stands alone: imports nothing from wizardcoder. Backends are imported lazily by create_sandbox().
"""

from .base import Sandbox
from .factory import create_sandbox
from .types import LANGUAGES, Job, Result, SandboxError, SandboxUnavailable, Status, canonical_language

__all__ = ["LANGUAGES", "Job", "Result", "Sandbox", "SandboxError", "SandboxUnavailable", "Status",
           "canonical_language", "create_sandbox"]
