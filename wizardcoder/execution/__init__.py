"""Running programs, for every stage: opening the sandbox (its settings: `execution/config.py`), success
markers, chunked runs and the output tails records keep. The eliminator's checks (`eliminate/verify.py`)
and eval's samples (`eval/programs.py`) build their programs differently and run them through here.

`backend: auto` (the default) uses Docker when an engine and the image are there, else the local
process backend with a loud warning, because that backend is no security boundary. `docker` and
`local` mean exactly that; `docker` fails with the fix when it cannot start. `ray` spreads the programs
over a Ray cluster (`ray_address`, default RAY_ADDRESS), one Docker pool per node.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from sandbox import Job, Result, SandboxUnavailable, create_sandbox
from wizardcoder.errors import UserError
from wizardcoder.execution.config import SandboxConfig

log = logging.getLogger(__name__)

LOCAL_WARNING = (
    "\n" + "!" * 78 + "\n"
    "  No Docker engine or sandbox image is reachable: generated code will run with the LOCAL\n"
    "  process backend (rlimits + own session), which is NOT a security boundary.\n"
    "  Cause: {cause}\n"
    "  For real isolation: start Docker, then `bash sandbox/build_image.sh`.\n"
    + "!" * 78
)


def open_sandbox(cfg: SandboxConfig):
    """A started sandbox for `cfg`; the caller closes it (or uses `with`)."""
    options = {"workers": cfg.workers, "compile_timeout": cfg.compile_timeout}
    if cfg.backend == "ray":
        try:
            return create_sandbox("ray", address=cfg.ray_address, image=cfg.image, **options)
        except SandboxUnavailable as exc:
            raise UserError(f"sandbox.backend=ray: {exc}") from exc
    if cfg.backend in ("auto", "docker"):
        try:
            return create_sandbox("docker", image=cfg.image, **options)
        except SandboxUnavailable as exc:
            if cfg.backend == "docker":
                raise UserError(str(exc)) from exc
            log.warning(LOCAL_WARNING.format(cause=str(exc).splitlines()[0]))
    return create_sandbox("local", **options)


def new_marker() -> str:
    """A fresh success marker: a program prints it after its last test, so exiting 0 early never passes."""
    return f"WIZARDCODER-PASS-{secrets.token_hex(12)}"


def output_tail(text: str, limit: int, markers: Mapping[str | None, str] | None = None) -> str:
    """What a record keeps of a program's output: its last `limit` characters ("..." in front when cut; ""
    for 0), each marker in `markers` replaced by its label (a marker is a secret of one run; "" drops it)."""
    for marker, label in (markers or {}).items():
        if marker:
            text = text.replace(marker, label)
    if len(text) <= limit:
        return text
    return "..." + text[-limit:] if limit else ""


T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last one shorter), read lazily."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def run_in_chunks(sandbox: Any, jobs: Iterable[Job], size: int,
                  progress: Callable[[Result], None] | None = None) -> Iterator[Result]:
    """The results of `jobs`, in order, one `sandbox.run_many` call per `size` jobs: memory holds one
    chunk, and a killed run loses at most the chunk in flight."""
    for chunk in chunks(jobs, size):
        yield from sandbox.run_many(chunk, progress=progress)
