"""stats.json of a resumed run tells this session's figures from the whole run's, labelled: `llm.usage.requests`
counted the last process only while `rounds[].llm_calls` spanned every session, and `seconds` the last session."""

from __future__ import annotations

import json

import pytest

from sandbox import create_sandbox
from wizardcoder.config import load_config
from wizardcoder.evolve import EvolveConfig, run_evolve
from wizardcoder.evolve.command import print_summary
from wizardcoder.testing.fake_llm import FakeClient
from wizardcoder.testing.scripted_evolve import scripted_reply


def _cfg(out, rounds: int) -> EvolveConfig:
    return load_config(EvolveConfig, None, [f"output.dir={out}", "seeds.limit=6", f"evolve.rounds={rounds}",
                                            "dataset.decontaminate=false", "output.report=false",
                                            "evolve.solve_samples=1"])


class Dies:
    """The scripted model, killed (an exception, as a kill would stop the process) after `after` answers."""

    def __init__(self, after: int):
        self.after, self.calls = after, 0

    def __call__(self, request):
        if self.calls >= self.after:
            raise KeyboardInterrupt("killed")
        self.calls += 1
        return scripted_reply(request)


def test_a_resumed_runs_stats_tell_this_session_from_the_whole_run(tmp_path, capsys):
    out = tmp_path / "run"
    clients = [FakeClient(scripted_reply), FakeClient(Dies(after=3)), FakeClient(scripted_reply)]
    with create_sandbox("local") as sandbox:
        run_evolve(_cfg(out, 1), client=clients[0], sandbox=sandbox)  # round 1
        with pytest.raises(KeyboardInterrupt):
            run_evolve(_cfg(out, 2), client=clients[1], sandbox=sandbox)  # killed inside round 2
        result = run_evolve(_cfg(out, 2), client=clients[2], sandbox=sandbox)  # finishes round 2
    stats = json.loads((out / "stats.json").read_text())
    this, whole = stats["this_session"], stats["whole_run"]
    requests = [c.usage.requests for c in clients]
    assert whole["sessions"] == 3
    assert this["llm"]["requests"] == requests[2] == stats["llm"]["usage"]["requests"] > 0
    assert this["rounds_finished"] == [2]
    # the killed session saved no usage (it finished no round); its answers are on file all the same
    assert whole["llm"]["requests"] == requests[0] + requests[2]
    assert whole["llm_calls"] == sum(r["llm_calls"] for r in stats["rounds"]) == requests[0] + requests[1] + requests[2]
    assert whole["prompt_tokens"] == stats["totals"]["prompt_tokens"]
    assert whole["seconds"] >= this["seconds"] > 0
    print_summary(result.stats, 1.0)
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("this session:"))
    assert f"{requests[2]} LLM requests; whole run (3 sessions)" in line


def test_a_run_in_one_session_says_so(tmp_path):
    out = tmp_path / "run"
    client = FakeClient(scripted_reply)
    with create_sandbox("local") as sandbox:
        run_evolve(_cfg(out, 1), client=client, sandbox=sandbox)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["whole_run"]["sessions"] == 1
    assert stats["whole_run"]["llm"]["requests"] == stats["this_session"]["llm"]["requests"] == client.usage.requests
