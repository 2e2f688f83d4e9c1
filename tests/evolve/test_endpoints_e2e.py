"""`wizardcoder evolve` against real OpenAI-compatible servers: one prompt refused for good (HTTP 400), and two
endpoints of which one is killed mid-run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from wizardcoder.data.store import read_jsonl
from wizardcoder.testing.fake_server import FakeOpenAIServer, Fault, body_text
from wizardcoder.testing.scripted_evolve import scripted_reply

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "wizardcoder" / "evolve" / "seeds" / "python.jsonl"


def _evolve(url: str | list[str], out: Path, *extra: str, limit: int = 4, rounds: int = 1
            ) -> subprocess.CompletedProcess:
    urls = [url] if isinstance(url, str) else url
    cmd = [sys.executable, "-m", "wizardcoder.cli", "evolve", "--lang", "python", "--limit", str(limit),
           "--rounds", str(rounds), "--sandbox", "local", "--output", str(out), "--no-progress",
           *[arg for u in urls for arg in ("--base-url", u)], "--model", "fake-model",
           "dataset.decontaminate=false", "llm.max_retries=0", "evolve.infra_retries=0", *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=300)


def _reply(body):
    return scripted_reply(body)  # the whole conversation: repair turns too


def test_a_refused_prompt_drops_its_task_and_no_rerun_sends_it_again(tmp_path):
    seeds = [json.loads(line) for line in SEEDS.read_text().splitlines()[:4]]
    refused, flaky = seeds[0]["instruction"][:50], seeds[1]["instruction"][:50]
    outage = {"on": True}

    def faults(body, attempt):  # the second seed's call hits a 503 in the first run only (infrastructure)
        return Fault.server_error(503) if outage["on"] and flaky in body_text(body) else None

    out = tmp_path / "run"
    with FakeOpenAIServer(_reply, faults=faults, reject_marker=refused) as server:
        first = _evolve(server.url, out)
        assert first.returncode == 1, first.stderr[-3000:]  # the 503 stops the run; the 400 does not
        assert "infrastructure" in first.stderr
        outage["on"] = False
        second = _evolve(server.url, out)
        assert second.returncode == 0, second.stderr[-3000:]
        asked = {text: n for text, n in server.attempts.items() if refused in text}
        flaky_asked = sum(n for text, n in server.attempts.items() if flaky in text)

    assert list(asked.values()) == [1]  # refused once, never retried, never asked again by the rerun
    assert flaky_asked >= 2  # the infrastructure failure was asked again
    records = list(read_jsonl(out / "records.jsonl"))
    by_seed = {r["seed_id"]: r for r in records}
    assert by_seed[seeds[0]["id"]]["verdict"] == "dropped"
    assert by_seed[seeds[0]["id"]]["reason"] == "request_rejected"
    assert len(by_seed) == 4
    raw = [row for row in read_jsonl(out / "raw" / "round_001" / "evolve.jsonl") if row.get("rejected")]
    assert len(raw) == 1 and "maximum context length" in raw[0]["rejected"]
    assert [r["id"] for r in read_jsonl(out / "pool" / "round_001.jsonl")].count(seeds[0]["id"]) == 1  # parent kept
    stats = json.loads((out / "stats.json").read_text())
    assert stats["rounds"][0]["dropped"]["request_rejected"] == 1
    assert stats["rounds"][0]["llm_failed_calls"] == 1
    usage = stats["llm"]["usage"]
    assert usage["rejected"] == 0 and usage["failures"] == 0  # the rerun asked neither the refused call again...
    assert usage["endpoints"][server.url]["requests"] >= 1  # ...and reports its calls per endpoint


def test_two_endpoints_one_killed_mid_run_give_the_lone_endpoints_dataset(tmp_path):
    with FakeOpenAIServer(_reply, latency=0.02) as lone:
        reference = _evolve(lone.url, tmp_path / "reference", limit=8, rounds=1)
        assert reference.returncode == 0, reference.stderr[-3000:]
    killed_after = 3
    with FakeOpenAIServer(_reply, latency=0.02) as a, FakeOpenAIServer(_reply, latency=0.02) as b:
        def kill_a() -> None:  # the kill switch, once `a` has answered a few calls
            deadline = time.monotonic() + 120
            while a.statuses[200] < killed_after and time.monotonic() < deadline:
                time.sleep(0.005)
            a.stop()

        killer = threading.Thread(target=kill_a)
        killer.start()
        run = _evolve([a.url, b.url], tmp_path / "two", "llm.max_retries=2", limit=8, rounds=1)
        killer.join()
        assert run.returncode == 0, run.stderr[-3000:]
        assert b.requests > 0
        assert f"endpoint {a.url}: down: out of rotation" in run.stdout  # the summary: each endpoint as it ends
        assert f"endpoint {b.url}: healthy;" in run.stdout
    assert (tmp_path / "two" / "dataset.jsonl").read_bytes() == (tmp_path / "reference" / "dataset.jsonl").read_bytes()
    stats = json.loads((tmp_path / "two" / "stats.json").read_text())
    ref_stats = json.loads((tmp_path / "reference" / "stats.json").read_text())
    for got, want in zip(stats["rounds"], ref_stats["rounds"]):
        for timing in ("seconds", "sandbox_seconds", "sandbox_seconds_per_kept"):  # wall-clock, not results
            got.pop(timing), want.pop(timing)
        assert got == want  # nothing lost, nothing asked twice
    per = stats["llm"]["usage"]["endpoints"]
    assert per[a.url]["requests"] >= killed_after // 2 and per[a.url]["taken_out"] == 1
    assert per[a.url]["state"] == "down" and "connection refused" in per[a.url]["reason"].lower()  # not "healthy"
    assert per[b.url]["state"] == "healthy"
    assert per[a.url]["requests"] + per[b.url]["requests"] == stats["llm"]["usage"]["requests"]
    assert stats["llm"]["usage"]["failures"] == 0
