"""The invocations ("sessions") that worked on an evolve run, so a resumed run's stats.json tells this session's
figures from the whole run's.

`sessions.json` in the run directory lists each session: when it started, its seconds and its LLM client's
usage (requests, tokens, retries, ...). A session saves its entry when it starts, after each round and at
the end, so a killed session still counts up to its last finished round. stats.json then holds

    "this_session": {"seconds", "llm": this client's usage, "rounds_finished": [...]}
    "whole_run":    {"sessions", "seconds", "llm": the sessions' usage summed,
                     "llm_calls", "llm_failed_calls", "prompt_tokens", "completion_tokens": the answers on file}

(the answers on file count every session, killed ones included; `llm` counts what the sessions saved).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from wizardcoder.data.store import read_json, write_json_atomic

_SUMMED = ("requests", "prompt_tokens", "completion_tokens", "retries", "failures", "rejected")


class SessionLedger:
    def __init__(self, path: Path):
        self.path = path
        self.sessions: list[dict[str, Any]] = read_json(path) or []
        self._start = time.monotonic()
        self.entry: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "seconds": 0.0, "llm": None,
                                      "rounds_finished": []}
        self.sessions.append(self.entry)
        self.save()

    def save(self, usage: dict[str, Any] | None = None, finished_round: int | None = None) -> None:
        self.entry["seconds"] = round(time.monotonic() - self._start, 3)
        if usage is not None:
            self.entry["llm"] = {k: v for k, v in usage.items() if k != "endpoints"}
        if finished_round is not None:
            self.entry["rounds_finished"].append(finished_round)
        write_json_atomic(self.path, self.sessions)

    def figures(self, usage: dict[str, Any] | None, totals: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """stats.json's "this_session" and "whole_run" (`totals`: the rounds' totals, from the files)."""
        self.save(usage)
        llm = dict.fromkeys(_SUMMED, 0)
        for session in self.sessions:
            for key in _SUMMED:
                llm[key] += int((session.get("llm") or {}).get(key) or 0)
        return {
            "this_session": {"seconds": self.entry["seconds"], "llm": self.entry["llm"],
                             "rounds_finished": self.entry["rounds_finished"]},
            "whole_run": {"sessions": len(self.sessions),
                          "seconds": round(sum(float(s.get("seconds") or 0) for s in self.sessions), 3),
                          "llm": llm,
                          **{k: totals.get(k, 0) for k in ("llm_calls", "llm_failed_calls", "prompt_tokens",
                                                            "completion_tokens")}},
        }


__all__ = ["SessionLedger"]
