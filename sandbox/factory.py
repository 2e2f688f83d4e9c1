"""create_sandbox(name, **options): backend by short name, imported lazily, with the fix in the error."""

from __future__ import annotations

import importlib

from .base import Sandbox
from .types import SandboxError, SandboxUnavailable

BACKENDS = {
    "docker": ("sandbox.docker", "DockerSandbox"),
    "local": ("sandbox.local", "LocalSandbox"),
    "ray": ("sandbox.ray_backend", "RaySandbox"),
}


def create_sandbox(name: str = "docker", workers: int | None = None, **options) -> Sandbox:
    """A ready sandbox backend: "docker" (isolated; needs the engine and the image), "local" (no
    security boundary) or "ray" (a Ray cluster, one Docker pool per node; `address=` or RAY_ADDRESS).
    Raises SandboxUnavailable with the fix when the backend cannot run here."""
    key = str(name).strip().lower()
    if key not in BACKENDS:
        raise SandboxError(f"unknown sandbox backend {name!r}; valid: {', '.join(sorted(BACKENDS))}")
    module_name, class_name = BACKENDS[key]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if key == "docker" and getattr(exc, "name", "") and exc.name.split(".")[0] == "docker":
            raise SandboxUnavailable(
                "the docker backend needs the Docker SDK for Python: pip install 'wizardcoder[docker]' "
                "(or use --sandbox local, which is no security boundary)") from exc
        raise
    cls = getattr(module, class_name)
    try:
        return cls(workers=workers, **options)
    except TypeError as exc:
        if "unexpected keyword argument" in str(exc):
            raise SandboxError(f"{key} sandbox: {exc}") from exc
        raise


__all__ = ["BACKENDS", "create_sandbox"]
