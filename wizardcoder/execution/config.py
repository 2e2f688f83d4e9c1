"""`SandboxConfig`: the `sandbox:` section of evolve and eval configs: where programs run, and their limits.

Limits, one home each (ARCHITECTURE.md, "Where each limit lives"):

- `sandbox.timeout`: seconds per program run, wall and CPU, for every program evolve runs (eval runs under
  `time_limit.*`, in `eval/timelimits.py`; a changed `sandbox.timeout` there is a fixed limit for every problem);
- `sandbox.compile_timeout`: g++ / javac, apart from and before `timeout`;
- `sandbox.memory_mb`: every program, evolve's and eval's;
- the host waits `sandbox/base.py` `HOST_GRACE` seconds beyond a job's own limits before it kills the job
  from outside (a hung container), so that the in-sandbox limits decide every verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from wizardcoder.config import Settings, setting

BACKENDS = ("auto", "docker", "local", "ray")


@dataclass
class SandboxConfig(Settings):
    SECTION = "sandbox"

    backend: str = setting(
        "auto", choices=BACKENDS,
        help="where programs run: docker; local (process backend, no security boundary); ray (a Ray cluster, "
             "one Docker pool per node); auto: docker when an engine and the image are there, else local with "
             "a warning")
    workers: int | None = setting(None, ge=1, fingerprinted=False,
                                  help="programs run at once (ray: per node); null: one per CPU core")
    ray_address: str | None = setting(None, fingerprinted=False,
                                      help="backend ray: the cluster, host:port; null: $RAY_ADDRESS")
    image: str = setting("wizardcoder-sandbox:latest", help="the Docker image programs run in")
    timeout: float = setting(
        10.0, gt=0,
        help="seconds per program run (wall and CPU), not counting compilation; every program evolve runs "
             "(eval: time_limit.*)")
    memory_mb: int = setting(
        512, ge=16,
        help="MiB per program: Python and C++ address space (RLIMIT_AS); Java heap (-Xmx) with RLIMIT_DATA "
             "memory_mb + 256 (the main thread's stack and the JVM's own memory)")
    compile_timeout: float = setting(
        60.0, gt=0, fingerprinted=False,
        help="seconds (wall and CPU) for g++ / javac, before and apart from timeout, with RLIMIT_DATA "
             "max(memory_mb, 768) MiB: a compiler slowed by a busy machine must not turn correct programs into "
             "timeouts; a C++/Java job takes at most compile_timeout + timeout")
