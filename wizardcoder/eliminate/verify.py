"""Execution verdicts: run each evolved task's solution against its tests in the sandbox.

    from wizardcoder.eliminate.verify import ExecutionCheck, verify
    for verdict in verify(sandbox, checks, cfg):   # same order as `checks`, streamed in chunks
        ...

Reasons (`wizardcoder.reasons.Reason`): passed, no_asserts, tests_cannot_fail, failed, timeout,
compile_error, infra_error. "infra_error" means the sandbox broke (its ERROR status): it says nothing about
the sample and must never be counted as a bad one.

How a program is built, per language, is in `wizardcoder.languages` (python, cpp, java; the C-like
lexer they share): each `build(check, mutation) -> Built`. Programs end with a success marker, a fresh nonce per
check printed at the very end, so exiting 0 before the tests never passes. The tests must be shown able
to fail: where the mutation check is on, one that could not be done (no mutant, a mutant that does not
compile, a mutant that failed before the tests started) is "tests_cannot_fail" too.

A streaming caller whose next checks depend on verdicts it is waiting for (evolve's repair turns) puts `FLUSH`
among its checks: every check before it then gets its verdict before the next one is read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sandbox import Job, Result, Status, canonical_language
from wizardcoder import languages
from wizardcoder.eliminate import EliminateConfig
from wizardcoder.eliminate.checks import NOT_RUN, Verdict
from wizardcoder.execution import output_tail
from wizardcoder.execution.config import SandboxConfig
from wizardcoder.languages.base import Built, ExecutionCheck, UnknownLanguage
from wizardcoder.reasons import Reason

log = logging.getLogger(__name__)


class _Flush:
    def __repr__(self) -> str:
        return "FLUSH"


FLUSH = _Flush()  # among the checks: run everything handed over so far, mutation checks included, now

def build(check: ExecutionCheck, cfg: EliminateConfig) -> Built:
    """The program (and mutant) for one check, or the static verdict."""
    language = canonical_language(check.language)
    if not check.solution.strip():
        return Built(static_reason=Reason.FAILED, static_detail="empty solution")
    if not check.tests.strip():
        return Built(static_reason=Reason.NO_ASSERTS, static_detail="no tests")
    if language not in languages.LANGUAGES:
        raise UnknownLanguage(f"check {check.key}: unknown language {check.language!r} ({', '.join(languages.LANGUAGES)})")
    return languages.get(language).build(check, language in cfg.mutation_check)


def _reason_of(result: Result) -> Reason:
    if result.status is Status.ERROR:
        return Reason.INFRA_ERROR
    if result.status is Status.TIMEOUT:
        return Reason.TIMEOUT
    if result.status is Status.PASSED:
        return Reason.PASSED
    if result.reason == "compile_error":  # the sandbox's own word
        return Reason.COMPILE_ERROR
    return Reason.FAILED


def _inconclusive(built: Built, mutant: Result | None) -> str | None:
    """Why the mutation check proved nothing, or None when it did (the mutant passed or failed its tests).
    The tests must be shown able to fail: a check that could not be done counts as "they cannot"."""
    broken = f"the solution with {', '.join(built.mutated)} broken"
    if built.mutant is None:
        return built.no_mutant or "no broken copy of the solution could be built"
    if mutant is None or mutant.status in (Status.PASSED, Status.ERROR):
        return None
    if mutant.reason == "compile_error":  # our mutant is at fault, not the tests
        return f"{broken} did not compile"
    if built.started_marker and built.started_marker not in mutant.stdout:
        return (f"{broken} failed before the tests started (in the solution's own module-level code: "
                f"{mutant.reason or mutant.status.value})")
    return None


def _verdict(check: ExecutionCheck, built: Built, result: Result | None, mutant: Result | None,
             cfg: EliminateConfig) -> Verdict:
    limit = cfg.tail_chars
    if result is None:
        return Verdict(check.key, False, built.static_reason or Reason.FAILED, NOT_RUN, 0.0, "",
                       output_tail(built.static_detail, limit))
    reason = _reason_of(result)
    duration = result.duration
    stderr = result.stderr if reason != Reason.COMPILE_ERROR or result.stderr else result.reason
    wanted = canonical_language(check.language) in cfg.mutation_check
    if reason == Reason.PASSED and wanted:
        duration += mutant.duration if mutant is not None else 0.0
        why = _inconclusive(built, mutant)
        if why is not None:
            reason = Reason.TESTS_CANNOT_FAIL
            stderr = (f"the mutation check could not be done ({why}): the tests were not shown able to fail\n"
                      + stderr)
        elif mutant is not None and mutant.status is Status.ERROR:
            reason = Reason.INFRA_ERROR
            stderr = f"mutation check: sandbox error: {mutant.reason}"
        elif mutant is not None and mutant.status is Status.PASSED:
            reason = Reason.TESTS_CANNOT_FAIL
            stderr = (f"the tests still pass with {', '.join(built.mutated)} returning a default value "
                      "(`return None` / `return {};` / 0, false, null): they cannot fail\n" + stderr)
    if reason not in (Reason.PASSED, Reason.COMPILE_ERROR) and result.reason and result.reason not in stderr:
        stderr = (stderr + "\n" if stderr else "") + f"[sandbox: {result.reason}]"
    return Verdict(check.key, reason == Reason.PASSED, reason, result.status.value, duration,
                   output_tail(result.stdout, limit, {built.marker: "", built.started_marker: ""}),
                   output_tail(stderr, limit))


@dataclass
class _Chunk:
    checks: list[ExecutionCheck]
    built: list[Built]
    results: list[Result | None]
    mutants: list[Result | None]
    to_mutate: list[int]


def _job(built: Built, language: str, limits: SandboxConfig, mutant: bool = False) -> Job:
    return Job(built.mutant if mutant else built.program, language=language, timeout=limits.timeout,
               memory_mb=limits.memory_mb, files=built.files, success_marker=built.marker,
               requires=built.requires)


def _build_safely(check: ExecutionCheck, cfg: EliminateConfig) -> Built:
    try:
        return build(check, cfg)
    except RecursionError:
        return Built(static_reason=Reason.COMPILE_ERROR, static_detail="program too deeply nested to parse")
    except UnknownLanguage:
        raise  # the caller's mistake, not the sample's
    except Exception as exc:  # a bug of ours must not end a long run nor blame the sample
        log.exception("could not build the program for check %s", check.key)
        return Built(static_reason=Reason.INFRA_ERROR,
                      static_detail=f"wizardcoder could not build the program: {exc!r}")


def verify(sandbox, checks: Iterable[ExecutionCheck], cfg: EliminateConfig | None = None,
           progress: Callable[[Verdict], None] | None = None, limits: SandboxConfig | None = None
           ) -> Iterator[Verdict]:
    """Verdicts for `checks`, in input order, computed `cfg.chunk_size` at a time (flat memory).

    Each `sandbox.run_many` call holds the programs of one chunk plus the mutation-check programs of the
    previous chunk (those that passed), so the mutation runs never get a round trip of their own; a
    chunk's verdicts are yielded as soon as they are complete. `progress(verdict)` is called for each
    verdict as it is yielded. A sandbox that raises (e.g. closed) propagates; ERROR results become
    "infra_error" verdicts. `limits` (the `sandbox:` section) gives each program its time and memory.
    """
    cfg = cfg or EliminateConfig()
    limits = limits or SandboxConfig()
    pending: _Chunk | None = None  # ran, waiting for its mutation runs
    for checks_now, flush in _chunks(checks, cfg.chunk_size):
        built = [_build_safely(c, cfg) for c in checks_now]
        runnable = [i for i, b in enumerate(built) if b.program is not None]
        results = _run_with_mutants(sandbox, pending, [_job(built[i], checks_now[i].language, limits)
                                                       for i in runnable], limits)
        if pending is not None:
            yield from _finish(pending, cfg, progress)
        current = _Chunk(checks_now, built, [None] * len(checks_now), [None] * len(checks_now), [])
        for i, res in zip(runnable, results):
            current.results[i] = res
        current.to_mutate = [i for i in runnable
                             if built[i].mutant is not None and current.results[i].status is Status.PASSED]
        pending = current if current.to_mutate else None
        if pending is None:
            yield from _finish(current, cfg, progress)
        elif flush:  # its mutation runs now, on their own
            _run_with_mutants(sandbox, pending, [], limits)
            yield from _finish(pending, cfg, progress)
            pending = None
    if pending is not None:  # the last chunk's mutation runs, on their own
        _run_with_mutants(sandbox, pending, [], limits)
        yield from _finish(pending, cfg, progress)


def _chunks(checks: Iterable[ExecutionCheck | _Flush], size: int) -> Iterator[tuple[list[ExecutionCheck], bool]]:
    """(up to `size` checks, whether a FLUSH ended them), read lazily."""
    chunk: list[ExecutionCheck] = []
    for check in checks:
        if check is FLUSH:
            yield chunk, True
            chunk = []
            continue
        chunk.append(check)  # type: ignore[arg-type]
        if len(chunk) == size:
            yield chunk, False
            chunk = []
    if chunk:
        yield chunk, False


def _run_with_mutants(sandbox, pending: _Chunk | None, jobs: list[Job], limits: SandboxConfig) -> list[Result]:
    """The results of `jobs`, from one `run_many` call that also runs the mutants of `pending` (stored in it)."""
    mutant_jobs = [_job(pending.built[i], pending.checks[i].language, limits, mutant=True)
                   for i in pending.to_mutate] if pending else []
    answers = sandbox.run_many(mutant_jobs + jobs) if (jobs or mutant_jobs) else []
    for i, res in zip(pending.to_mutate if pending else (), answers[:len(mutant_jobs)]):
        pending.mutants[i] = res
    return answers[len(mutant_jobs):]


def _finish(chunk: _Chunk, cfg: EliminateConfig, progress) -> Iterator[Verdict]:
    for i, check in enumerate(chunk.checks):
        verdict = _verdict(check, chunk.built[i], chunk.results[i], chunk.mutants[i], cfg)
        if progress is not None:
            progress(verdict)
        yield verdict


__all__ = ["FLUSH", "ExecutionCheck", "Verdict", "build", "verify"]

