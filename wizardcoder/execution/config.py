"""`SandboxConfig`: the `sandbox:` section of evolve and eval configs (where programs run, and their limits)."""

from __future__ import annotations

from dataclasses import dataclass

BACKENDS = ("auto", "docker", "local", "ray")


@dataclass
class SandboxConfig:
    backend: str = "auto"  # auto | docker | local | ray
    workers: int | None = None  # concurrent programs (ray: per node); None = one per CPU core
    ray_address: str | None = None  # backend ray: the cluster, host:port; None = RAY_ADDRESS
    image: str = "wizardcoder-sandbox:latest"
    # every program a stage runs (evolve's checks, eval's samples) gets these limits
    timeout: float = 10.0  # seconds per program run (wall and CPU), not counting compilation
    # Python, C++ binaries: address space (RLIMIT_AS); Java: heap (-Xmx), and RLIMIT_DATA = memory_mb + 256
    # (the main thread's 64 MiB stack and the JVM's own memory), so native allocations are bounded too
    memory_mb: int = 512
    # g++ / javac get their own limits: compile_timeout seconds (wall and CPU), before and apart from
    # `timeout`, and RLIMIT_DATA max(memory_mb, 768) MiB (g++ -O2 on <bits/stdc++.h> needs ~320). Apart,
    # because a compiler slowed by a busy machine must not turn correct programs into timeouts (verdicts
    # that change with load); a C++/Java job takes at most compile_timeout + timeout.
    compile_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"sandbox.backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.timeout <= 0:
            raise ValueError(f"sandbox.timeout must be > 0 seconds, got {self.timeout}")
        if self.compile_timeout <= 0:
            raise ValueError(f"sandbox.compile_timeout must be > 0 seconds, got {self.compile_timeout}")
        if self.memory_mb < 16:
            raise ValueError(f"sandbox.memory_mb must be >= 16, got {self.memory_mb}")
