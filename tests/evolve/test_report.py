"""report.md and the printed summary: every figure is a number or says why there is none (never `None`,
`nan` or a 0.0 standing for "nothing measured"), and the summary's figures are report.md's, labelled alike."""

from __future__ import annotations

import json
import re

from wizardcoder.config import load_config
from wizardcoder.data.store import write_json_atomic
from wizardcoder.evolve.command import print_summary
from wizardcoder.evolve.config import EvolveConfig
from wizardcoder.evolve.report import RoundStats, run_stats, write_report
from wizardcoder.evolve.rundir import RunDir
from wizardcoder.reasons import Reason, TaskVerdict
from wizardcoder.records import TaskRecord

BAD = re.compile(r"\bNone\b|\bnan\b|\binf\b")


def _run(tmp_path, records: list[tuple[str, str, str]], rounds: int = 1):
    """A run directory whose round 1 saw `records` (verdict, evolved instruction, parent instruction) and
    whose later rounds hit only infrastructure errors (nothing evolved); the round markers hold the stats
    `RoundStats` counts from them, as a finished round's do."""
    cfg = load_config(EvolveConfig, None, [f"output.dir={tmp_path}", f"evolve.rounds={rounds}",
                                           "output.report=false"])
    run = RunDir(tmp_path)
    parents = [parent for _, _, parent in records] or ["Reverse a string."]
    run.pool_path(0).parent.mkdir(parents=True)
    run.pool_path(0).write_text("".join(json.dumps({"instruction": p}) + "\n" for p in parents))
    for r in range(1, rounds + 1):
        stats = RoundStats(r, cfg)
        stats.pool_in = len(parents)
        for i, (verdict, instruction, parent) in enumerate(records):
            if r > 1:
                verdict, instruction = TaskVerdict.INFRA_ERROR, parent
            else:
                stats.row("evolve", {"method": "add_constraints"})
            record = TaskRecord(id=f"s{i}.r1", seed_id=f"s{i}", seed_index=i, round=1, method="add_constraints",
                                parent_id=f"s{i}", instruction=instruction, verdict=verdict,
                                reason=Reason.FAILED if verdict == TaskVerdict.DROPPED else verdict)
            stats.add(record, {"instruction": parent})
        write_json_atomic(run.round_marker(r), stats.as_dict())
    return run, run_stats(run, cfg, {"rows": 0, "seeds": 0, "evolved": 0, "dropped": {}})


def test_a_run_that_kept_nothing_renders_no_none_nor_nan(tmp_path, capsys):
    """The issue's line was "Whole run, per kept task: None LLM tokens, None sandbox seconds."; a round with
    nothing evolved had "0%" and "0.0 words" for figures that were never measured."""
    run, stats = _run(tmp_path, [(TaskVerdict.DROPPED, "Reverse a string without slicing.", "Reverse a string.")],
                      rounds=2)
    report = write_report(run, stats).read_text()
    assert not BAD.search(report), BAD.search(report)
    assert "Whole run: no task was kept, so there is no cost per kept task." in report
    # nothing evolved in round 2: no pass rate and no mean length of evolved tasks (the pool's is 3 words)
    assert "| 2 | 1 | 0 | 0 | - | 1 | - | 3.0 | 0 | - |" in report.splitlines()
    print_summary(stats, 3.0)
    out = capsys.readouterr().out
    assert not BAD.search(out), out


def test_the_summary_words_are_report_mds_evolved_mean(tmp_path, capsys):
    """The summary printed the pool's mean (36.6 in the issue) where report.md showed the evolved tasks' (110.4)."""
    records = [(TaskVerdict.PASSED, " ".join(["word"] * 10), "three words here"),
               (TaskVerdict.DROPPED, " ".join(["word"] * 20), "three words here")]
    run, stats = _run(tmp_path, records)
    stats["dataset"]["dropped"] = {Reason.NEAR_DUPLICATE: 3}  # in memory the keys are Reasons
    report = write_report(run, stats).read_text()
    row = next(line for line in report.splitlines() if line.startswith("| 1 |")).split("|")
    header = next(line for line in report.splitlines() if line.startswith("| round | pool |")).split("|")
    assert row[header.index(" mean words (evolved) ")].strip() == "15.0"
    assert row[header.index(" mean words (pool) ")].strip() == "6.5"
    print_summary(stats, 3.0)
    out = capsys.readouterr().out
    assert "words (evolved)" in out
    assert re.search(r"\b1\s+2\s+2\s+1\s+50%\s+0\s+15\.0\b", out), out
    assert "6.5" not in out
    assert "per kept task: " in out and not BAD.search(out)
    assert "dropped at build: near_duplicate 3)" in out  # not a dict's repr ({<Reason.NEAR_DUPLICATE: ...>: 3})


def test_the_drop_reasons_stay_on_one_line_when_the_summary_goes_to_a_file(tmp_path, capsys):
    """Piped to a log (no terminal, so rich assumed 80 columns), the embedded model's run printed the drop
    column 7 characters wide: 'truncat' / 'ed 7,' / 'no_asse' / 'rts 1'."""
    _, stats = _run(tmp_path, [(TaskVerdict.DROPPED, "Reverse a string without slicing.", "Reverse a string.")])
    stats["rounds"][0]["dropped"] = {Reason.TRUNCATED: 7, Reason.NO_ASSERTS: 1, Reason.FAILED: 2}
    print_summary(stats, 3.0)
    out = capsys.readouterr().out
    assert "truncated 7, failed 2, no_asserts 1" in out, out
