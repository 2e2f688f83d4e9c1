"""Write the final instruction dataset: `dataset.jsonl` (streamed) and `dataset/` (HF `save_to_disk`).

Each row: id, instruction, output (the solution as a fenced code block in its language), language,
seed_id, round, method, parent_id, tests, pass_rate and n_candidates, repaired, repair_turns and
reason_before_repair (evolved rows; null for seeds). A record may carry `output` already; otherwise it is built
from `solution` + `language`. Memory stays flat: the JSONL is written row by row and the Arrow dataset is
built from that file (in a temporary cache under `out_dir`, removed afterwards).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sandbox import canonical_language
from wizardcoder.errors import UserError

FIELDS = ("id", "instruction", "output", "language", "seed_id", "round", "method", "parent_id", "tests",
          "pass_rate", "n_candidates", "repaired", "repair_turns", "reason_before_repair")


def features():
    from datasets import Features, Value

    return Features({
        "id": Value("string"), "instruction": Value("string"), "output": Value("string"),
        "language": Value("string"), "seed_id": Value("string"), "round": Value("int64"),
        "method": Value("string"), "parent_id": Value("string"), "tests": Value("string"),
        "pass_rate": Value("float64"), "n_candidates": Value("int64"), "repaired": Value("bool"),
        "repair_turns": Value("int64"), "reason_before_repair": Value("string"),
    })


def fenced(code: str, language: str) -> str:
    """`code` as a Markdown code block tagged with its language (a longer fence if the code holds ```)."""
    body = code.strip("\n")
    fence = "```"
    while fence in body:
        fence += "`"
    return f"{fence}{canonical_language(language)}\n{body}\n{fence}"


def to_row(record: dict[str, Any]) -> dict[str, Any]:
    """One dataset row from a pipeline record; a UserError names the record and the missing field."""
    rid = record.get("id")
    if rid in (None, ""):
        raise UserError(f"dataset record without an 'id': {str(record)[:200]}")
    for key in ("instruction", "language"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            raise UserError(f"dataset record {rid}: field {key!r} is missing or empty")
    output = record.get("output")
    if not isinstance(output, str) or not output.strip():
        solution = record.get("solution")
        if not isinstance(solution, str) or not solution.strip():
            raise UserError(f"dataset record {rid}: needs an 'output' or a 'solution'")
        output = fenced(solution, record["language"])
    parent = record.get("parent_id")
    return {
        "id": str(rid),
        "instruction": record["instruction"].strip(),
        "output": output,
        "language": record["language"],
        "seed_id": str(record.get("seed_id") if record.get("seed_id") is not None else rid),
        "round": int(record.get("round") or 0),
        "method": str(record.get("method") or "seed"),
        "parent_id": None if parent is None else str(parent),
        "tests": str(record.get("tests") or ""),
        # evolved tasks: share of the sampled solutions passing the kept tests, and how many were sampled
        "pass_rate": None if record.get("pass_rate") is None else float(record["pass_rate"]),
        "n_candidates": None if record.get("n_candidates") is None else int(record["n_candidates"]),
        # evolved tasks: the kept pair came from a repair turn; follow-ups asked; why the samples had failed
        "repaired": None if record.get("repaired") is None else bool(record["repaired"]),
        "repair_turns": None if record.get("repair_turns") is None else int(record["repair_turns"]),
        "reason_before_repair": record.get("reason_before_repair"),
    }


def write_dataset(records: Iterable[dict[str, Any]], out_dir: str | Path) -> dict[str, Any]:
    """Write `out_dir/dataset.jsonl` and `out_dir/dataset/`; return counts and paths."""
    import datasets

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl_path = out_dir / "dataset.jsonl"
    ds_path = out_dir / "dataset"
    by_language: Counter[str] = Counter()
    by_round: Counter[int] = Counter()
    by_method: Counter[str] = Counter()
    seen_ids: set[str] = set()
    n = 0
    tmp_jsonl = jsonl_path.with_suffix(".jsonl.tmp")
    with tmp_jsonl.open("w", encoding="utf-8") as fh:
        for record in records:
            row = to_row(record)
            if row["id"] in seen_ids:
                raise UserError(f"dataset record id {row['id']!r} appears twice; ids must be unique")
            seen_ids.add(row["id"])
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
            by_language[row["language"]] += 1
            by_round[row["round"]] += 1
            by_method[row["method"]] += 1
    tmp_jsonl.replace(jsonl_path)

    cache = out_dir / ".dataset_cache"
    if ds_path.exists():
        shutil.rmtree(ds_path)
    bars_were_on = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # library code stays quiet; the CLI shows its own progress
    try:
        if n == 0:
            ds = datasets.Dataset.from_dict({k: [] for k in FIELDS}, features=features())
        else:
            # rows in batches of 1,000 (the json loader parses 10 MB blocks into Arrow pools that stay)
            ds = datasets.Dataset.from_generator(_jsonl_rows, features=features(), cache_dir=str(cache),
                                                 gen_kwargs={"path": str(jsonl_path)})
        # one shard at least: datasets cannot load an empty dataset saved with zero shards
        ds.save_to_disk(str(ds_path), num_shards=None if n else 1)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if bars_were_on:
            datasets.enable_progress_bars()
    return {
        "records": n,
        "by_language": dict(sorted(by_language.items())),
        "by_round": {str(k): v for k, v in sorted(by_round.items())},
        "by_method": dict(sorted(by_method.items())),
        "dataset_path": str(ds_path),
        "jsonl_path": str(jsonl_path),
    }


def _jsonl_rows(path: str):
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


__all__ = ["FIELDS", "fenced", "to_row", "write_dataset"]
