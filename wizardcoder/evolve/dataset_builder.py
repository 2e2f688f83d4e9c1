"""After the last round: the run's passing tasks (and seeds) become the dataset.

Pass 1 keeps only what ordering, decontamination and dedupe need (not solutions and tests); pass 2
reads the kept rows back from their files by offset while the dataset is written, so memory holds
the instructions, not the code.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from wizardcoder.data.store import (
    AtomicJsonlWriter,
    RowReader,
    iter_jsonl_offsets,
    read_json,
    write_json_atomic,
)
from wizardcoder.evolve.config import EvolveConfig
from wizardcoder.evolve.rundir import RunDir
from wizardcoder.evolve.seeds import has_builtin_seeds
from wizardcoder.reasons import TaskVerdict, contaminated
from wizardcoder.records import TaskRecord


def build_dataset(run: RunDir, cfg: EvolveConfig, progress) -> dict[str, Any]:
    """The dataset of the run's passing tasks (and seeds, as configured): decontaminated, deduplicated,
    in seed order; written once (dataset.done.json records it)."""
    rounds = cfg.evolve.rounds
    marker = read_json(run.dataset_marker)
    if marker is not None and marker.get("rounds") == rounds and run.dataset_jsonl.exists():
        return marker
    if marker is not None:  # another build's: gone before this one replaces its files, or a kill leaves it lying
        run.dataset_marker.unlink()
    from wizardcoder.data.dataset_writer import write_dataset
    from wizardcoder.data.dedupe import dedupe

    include = cfg.evolve.include_seeds_in_dataset
    if include is None:
        include = bool(cfg.seeds.path) or has_builtin_seeds(cfg.evolve.lang)  # seeds of the run's language
    decon = None
    if cfg.dataset.decontaminate:
        from wizardcoder.data.decontaminate import Decontaminator

        decon = Decontaminator(cfg.dataset)
    # Pass 1 keeps only what ordering, decontamination and dedupe need (not solutions and tests);
    # pass 2 reads the kept rows back from their files by offset while the dataset is written.
    sources = [run.pool_path(0), run.records_path]
    drops: Counter[str] = Counter()
    light: list[dict[str, Any]] = []
    candidates = 0
    # each row decontamination drops, with the benchmark task and the words it shares (report.md links it)
    dropped_rows = AtomicJsonlWriter(run.decontaminated_path) if decon else None
    bar = progress("building the dataset", None)
    try:
        for source, path in enumerate(sources):
            for offset, row in iter_jsonl_offsets(path):
                if source == 0 and not (include and str(row.get("solution") or "").strip()):
                    continue
                if source == 1 and not (row.get("verdict") == TaskVerdict.PASSED and row.get("round", 0) <= rounds):
                    continue
                candidates += 1
                bar.advance()
                found = decon.check(row["instruction"], row.get("solution"), row.get("tests")) if decon else None
                if found:
                    drops[contaminated(found.suite)] += 1
                    dropped_rows.write({
                        "id": row["id"], "round": row.get("round", 0), "suite": found.suite,
                        "benchmark_task": found.task, "field": ("instruction", "solution", "tests")[found.field],
                        "ngram": found.ngram, "instruction": row["instruction"][:300]})
                    continue
                light.append({"instruction": row["instruction"], "key": TaskRecord.from_dict(row).sort_key,
                              "at": (source, offset), "round": row["round"]})
    except BaseException:
        if dropped_rows is not None:
            dropped_rows.abort()
        raise
    finally:
        bar.close()
    if dropped_rows is not None:
        dropped_rows.commit()
    light.sort(key=lambda entry: entry["key"])
    kept, dropped = dedupe(light, cfg.dataset)
    for _, reason in dropped:
        drops[reason] += 1
    del light, dropped
    with RowReader(*sources) as rows:
        written = write_dataset((_dataset_row(rows.at(offset, source), cfg.evolve.lang)
                                 for source, offset in (entry["at"] for entry in kept)), run.root)
    info = {
        "rounds": rounds, "candidates": candidates, "rows": len(kept),
        "seeds": sum(1 for e in kept if e["round"] == 0),
        "evolved": sum(1 for e in kept if e["round"] > 0),
        "dropped": dict(sorted(drops.items())),
        # which eval suites were checked, how many texts each (never a silent skip)
        "decontamination": {**decon.stats(), "dropped_rows": run.decontaminated_path.name} if decon else "off",
        "written": {k: (str(v) if isinstance(v, Path) else v) for k, v in dict(written or {}).items()},
    }
    write_json_atomic(run.dataset_marker, info)
    return info

def _dataset_row(row: dict[str, Any], lang: str) -> dict[str, Any]:
    """The fields the dataset keeps (write_dataset fences the solution as the `output`)."""
    return {
        "id": row["id"], "instruction": row["instruction"], "solution": row.get("solution") or "",
        "language": row.get("language") or lang, "seed_id": row["seed_id"], "round": row["round"],
        "method": row.get("method"), "parent_id": row.get("parent_id"), "tests": row.get("tests") or "",
        "pass_rate": row.get("pass_rate"), "n_candidates": row.get("n_candidates"),
        "repaired": row.get("repaired"), "repair_turns": row.get("repair_turns"),
        "reason_before_repair": row.get("reason_before_repair"),
    }
