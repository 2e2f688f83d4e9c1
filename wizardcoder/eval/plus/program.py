"""The sandbox jobs of the EvalPlus suites: the harness program (values.py + oracles.py + harness.py,
pasted into one standard-library-only script), the check job of one sample, and reading its verdicts.

A check job's stdout holds, from the harness's parent process only (the candidate's children cannot
write there, see harness.py), one `<nonce> {"phase": ...}` line per phase judged, then the success
marker. `read_verdict` trusts nothing else: lines without the nonce are ignored, and a run without
the marker (killed, crashed, timed out) fails every phase it did not report.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sandbox import Job
from wizardcoder.eval.plus import values
from wizardcoder.execution import new_marker

_HOST_ONLY = re.compile(r"^try:  # pasted into one program.*?^    pass\n", re.MULTILINE | re.DOTALL)
SHOWN_INPUT = 300  # characters of a failing input kept in a result row


@functools.lru_cache(maxsize=1)
def harness_source() -> str:
    """values.py + oracles.py + harness.py as one script, without their host-side imports."""
    parts = []
    for name in ("values.py", "oracles.py", "harness.py"):
        text = resources.files("wizardcoder.eval.plus").joinpath(name).read_text(encoding="utf-8")
        stripped = _HOST_ONLY.sub("", text)
        if name != "values.py" and stripped == text:
            raise RuntimeError(f"{name}: its host-only import block is gone; the program would import wizardcoder")
        parts.append(f"# ---- {name}\n{_without_docstrings(stripped)}")
    return "\n\n".join(parts)


def _without_docstrings(source: str) -> str:
    """`source` re-emitted without docstrings and comments: every sandbox program compiles it."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def harness_version() -> str:
    """Changes whenever the harness does: part of the expected-output cache key."""
    return hashlib.sha256(harness_source().encode()).hexdigest()[:12]


def program(mode: str) -> str:
    return f"{harness_source()}\n\nmain({mode!r})\n"


def secret(nonce: str, marker: str) -> str:
    """The job file that carries the nonce and the marker (the harness removes it once read)."""
    return json.dumps({"nonce": nonce, "marker": marker})


def new_nonce() -> str:
    return "WIZARDCODER-PLUS-" + secrets.token_hex(12)


def encode_inputs(inputs: list) -> str:
    return json.dumps(values.encode(inputs))


@dataclass(frozen=True)
class CheckJob:
    """One sample's program and what is needed to read its stdout."""

    job: Any  # sandbox.Job
    nonce: str
    phases: tuple[str, ...]


def check_job(*, solution: str, entry_point: str, dataset: str, atol: float, rules: str, inputs_json: str,
              expected_json: str, phases: list[dict], timeout: float, memory_mb: int,
              hash_seed: int | None) -> CheckJob:
    """`phases`: [{"name", "start", "end", "limits", "budget"}] over the task's inputs (base then plus)."""
    nonce, marker = new_nonce(), new_marker()
    cfg = {"entry_point": entry_point, "dataset": dataset, "atol": atol, "rules": rules, "phases": phases,
           "hash_seed": hash_seed}
    job = Job(program=program("check"), language="python", timeout=timeout, memory_mb=memory_mb,
              files={"plus.json": json.dumps(cfg), "secret.json": secret(nonce, marker), "inputs.json": inputs_json,
                     "expected.json": expected_json, "solution.py": solution},
              success_marker=marker)
    return CheckJob(job=job, nonce=nonce, phases=tuple(p["name"] for p in phases))


def nonce_messages(stdout: str, nonce: str) -> Iterator[Any]:
    """The JSON values a job printed as `<nonce> <json>` lines, in order; any other line (the candidate's own
    output, a line cut short) is passed over."""
    prefix = nonce + " "
    for line in stdout.splitlines():
        if line.startswith(prefix):
            try:
                yield json.loads(line[len(prefix):])
            except ValueError:
                continue


def read_verdict(check: CheckJob, result) -> dict[str, dict]:
    """phase name -> {"status": pass|fail|timeout, "index", "reason", "got"} for every phase of the job. A
    phase the program did not report (it was killed, or an earlier phase failed) is "not_run" after a
    failure and "fail" otherwise, with the sandbox's reason."""
    reported: dict[str, dict] = {}
    for verdict in nonce_messages(result.stdout, check.nonce):
        if isinstance(verdict, dict) and verdict.get("phase") in check.phases and verdict["phase"] not in reported:
            reported[verdict["phase"]] = verdict
    complete = bool(result.passed)
    out: dict[str, dict] = {}
    failed = False
    for name in check.phases:
        v = reported.get(name)
        if failed:
            out[name] = {"status": "not_run", "reason": "an earlier phase failed"}
        elif v is None:
            status = getattr(result.status, "value", str(result.status))
            out[name] = {"status": "timeout" if status == "timeout" else "fail", "index": None,
                         "reason": f"the program did not finish this phase (sandbox: {status}"
                                   f"{', ' + result.reason if result.reason else ''})"}
            failed = True
        else:
            out[name] = {k: v.get(k) for k in ("status", "index", "reason", "got") if k in v}
            failed = v.get("status") != "pass"
    if not complete and not failed:  # every phase said pass but the marker never came: not a pass
        last = check.phases[-1]
        out[last] = {"status": "fail", "index": None, "reason": f"the program did not end cleanly ({result.reason})"}
    return out


def shown(value: Any, limit: int = SHOWN_INPUT) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"
