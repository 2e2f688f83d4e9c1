"""Load seed tasks from anywhere a user keeps them, mapping their field names onto ours.

Sources (`seeds.path`):

- unset: the built-in seed set (`wizardcoder/evolve/seeds/python.jsonl`, verified tasks with tests);
- a `.jsonl` file (streamed line by line), a `.json` file (a list of objects, or an object holding one),
  a `.csv` / `.parquet` file;
- a directory written by `datasets`' `save_to_disk` (a Dataset, or a DatasetDict: `seeds.split`);
- a hub dataset name (`owner/name`), loaded with `datasets.load_dataset` (needs the network).

Fields default to Code Alpaca's (`instruction`, `input`, `output`); `id`, `tests`, `entry_point` are
used where present. A missing required field is an error naming the file, the line and the key.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from wizardcoder.data.jsonl import iter_jsonl
from wizardcoder.errors import UserError
from wizardcoder.evolve.config import SeedsConfig
from wizardcoder.records import Seed

log = logging.getLogger(__name__)

BUILTIN = "builtin"
OUR_FIELDS = ("id", "instruction", "input", "output", "tests", "entry_point")


def builtin_seed_file(lang: str = "python") -> Path:
    """The shipped seed set for `lang` (the Python set serves every language: the tasks are portable)."""
    root = importlib.resources.files("wizardcoder.evolve") / "seeds"
    for name in (f"{lang}.jsonl", "python.jsonl"):
        candidate = root / name
        if candidate.is_file():
            return Path(str(candidate))
    raise UserError("the built-in seed set is missing from this installation (wizardcoder/evolve/seeds/)")


def describe_source(cfg: SeedsConfig) -> str:
    return cfg.path if cfg.path else BUILTIN


def load_seeds(cfg: SeedsConfig, lang: str = "python") -> Iterator[Seed]:
    """Stream the seeds `cfg` names, at most `cfg.limit`, with unique ids."""
    rows, source = _rows(cfg, lang)
    seen: set[str] = set()
    limit = cfg.limit
    count = 0
    for where, row in rows:
        if limit is not None and count >= limit:
            break
        seed = _to_seed(row, where, count, cfg)
        if seed.id in seen:
            raise UserError(f"{where}: duplicate seed id {seed.id!r}; ids must be unique "
                            f"(map another column with seeds.fields.id=<column>, or drop the id column)")
        seen.add(seed.id)
        count += 1
        yield seed
    if count == 0:
        raise UserError(f"{source}: no seed tasks found")


def _rows(cfg: SeedsConfig, lang: str) -> tuple[Iterable[tuple[str, Any]], str]:
    """(location, row) pairs: location is "file:line" or "dataset[row]" for error messages."""
    if not cfg.path:
        path = builtin_seed_file(lang)
        return _jsonl_rows(path), str(path)
    path = Path(cfg.path).expanduser()
    if path.is_dir():
        return _saved_dataset_rows(path, cfg.split), str(path)
    if path.is_file():
        suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
        if suffix in (".jsonl", ".jsonl.gz"):
            return _jsonl_rows(path), str(path)
        if suffix == ".json":
            return _json_rows(path), str(path)
        if suffix in (".csv", ".parquet"):
            return _datasets_file_rows(path, suffix[1:]), str(path)
        raise UserError(f"{path}: unknown seed file type {suffix!r}; use .jsonl, .json, .csv, .parquet, "
                        "a save_to_disk directory or a hub dataset name")
    if path.suffix in (".jsonl", ".json", ".csv", ".parquet", ".gz") or cfg.path.startswith((".", "/", "~")):
        raise UserError(f"seed file not found: {cfg.path} (seeds.path / --seeds)")
    return _hub_rows(cfg.path, cfg.split), cfg.path


def _jsonl_rows(path: Path) -> Iterator[tuple[str, Any]]:
    for lineno, row in iter_jsonl(path):
        yield f"{path}:{lineno}", row


def _json_rows(path: Path) -> Iterator[tuple[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise UserError(f"{path}: expected a list of task objects (or an object holding exactly one list)")
        data = lists[0]
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a list of task objects, got {type(data).__name__}")
    for i, row in enumerate(data):
        yield f"{path}[{i}]", row


def _dataset_rows(dataset: Any, name: str) -> Iterator[tuple[str, Any]]:
    for i, row in enumerate(dataset):
        yield f"{name}[{i}]", row


def _pick_split(dataset: Any, split: str, name: str) -> Any:
    from datasets import DatasetDict

    if isinstance(dataset, DatasetDict):
        if split not in dataset:
            raise UserError(f"{name}: no split {split!r}; it has {', '.join(dataset)} (set seeds.split)")
        return dataset[split]
    return dataset


def _saved_dataset_rows(path: Path, split: str) -> Iterator[tuple[str, Any]]:
    from datasets import load_from_disk

    try:
        dataset = load_from_disk(str(path))
    except FileNotFoundError as exc:
        raise UserError(f"{path}: a directory, but not one written by datasets' save_to_disk ({exc})") from exc
    yield from _dataset_rows(_pick_split(dataset, split, str(path)), str(path))


def _datasets_file_rows(path: Path, kind: str) -> Iterator[tuple[str, Any]]:
    from datasets import load_dataset

    dataset = load_dataset(kind, data_files=str(path), split="train")
    yield from _dataset_rows(dataset, str(path))


def _hub_rows(name: str, split: str) -> Iterator[tuple[str, Any]]:
    from datasets import load_dataset

    try:
        dataset = load_dataset(name, split=split, streaming=True)
    except Exception as exc:  # datasets raises many types for "not found" / offline
        raise UserError(f"seeds: could not load hub dataset {name!r} (split {split!r}): "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}. "
                        "Offline? Save it with datasets' save_to_disk or export JSONL, then pass that path.") from exc
    yield from _dataset_rows(dataset, name)


def _to_seed(row: Any, where: str, index: int, cfg: SeedsConfig) -> Seed:
    if not isinstance(row, dict):
        raise UserError(f"{where}: a seed must be an object with an instruction, got {type(row).__name__}")
    column = cfg.column("instruction")
    instruction = row.get(column)
    if not isinstance(instruction, str) or not instruction.strip():
        have = ", ".join(sorted(map(str, row))) or "none"
        problem = "missing key" if column not in row else "empty or non-text value for key"
        raise UserError(f"{where}: {problem} {column!r} (the instruction; keys here: {have}); "
                        f"map the right one with seeds.fields.instruction=<key>")

    def text(name: str) -> str:
        value = row.get(cfg.column(name))
        return "" if value is None else str(value)

    seed_id = text("id").strip() or f"seed-{index:06d}"
    used = {cfg.column(name) for name in OUR_FIELDS}
    meta = {k: v for k, v in row.items() if k not in used and _jsonable(v)}
    return Seed(id=seed_id, index=index, instruction=instruction, input=text("input"), output=text("output"),
                tests=text("tests"), entry_point=text("entry_point").strip() or None, meta=meta)


def _jsonable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None

