"""Load seed tasks from anywhere a user keeps them, mapping their field names onto ours.

Sources (`seeds.path`):

- unset: the built-in seed set (`wizardcoder/evolve/seeds/`, verified tasks with tests);
- a `.jsonl` file (streamed line by line), a `.json` file (a list of objects, or an object holding one),
  a `.csv` / `.parquet` file;
- a directory written by `datasets`' `save_to_disk` (a Dataset, or a DatasetDict: `seeds.split`);
- a hub dataset name (`owner/name`), loaded with `datasets.load_dataset` (needs the network).

Fields default to Code Alpaca's (`instruction`, `input`, `output`); `id`, `tests`, `entry_point` are
used where present. A missing required field is an error naming the file, the line and the key.
Reading every kind of source is `wizardcoder.data.rows.read_rows`; this module maps and checks fields.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from wizardcoder.data.rows import Row, read_rows
from wizardcoder.errors import UserError
from wizardcoder.evolve.config import SeedsConfig
from wizardcoder.evolve.seeds import builtin_seed_file
from wizardcoder.records import Seed

log = logging.getLogger(__name__)

BUILTIN = "builtin"
OUR_FIELDS = ("id", "instruction", "input", "output", "tests", "entry_point")


def describe_source(cfg: SeedsConfig) -> str:
    return cfg.path if cfg.path else BUILTIN


def load_seeds(cfg: SeedsConfig, lang: str = "python") -> Iterator[Seed]:
    """Stream the seeds `cfg` names, at most `cfg.limit`, with unique ids."""
    rows, source = _rows(cfg, lang)
    seen: set[str] = set()
    limit = cfg.limit
    count = 0
    for row in rows:
        if limit is not None and count >= limit:
            break
        seed = _to_seed(row, row.where, count, cfg)
        if seed.id in seen:
            raise UserError(f"{row.where}: duplicate seed id {seed.id!r}; ids must be unique "
                            f"(map another column with seeds.fields.id=<column>, or drop the id column)")
        seen.add(seed.id)
        count += 1
        yield seed
    if count == 0:
        raise UserError(f"{source}: no seed tasks found")


def _rows(cfg: SeedsConfig, lang: str) -> tuple[Iterable[Row], str]:
    """The source's rows (each knows its "file:line" or "dataset[row]" for error messages) and its name."""
    source = cfg.path or str(builtin_seed_file(lang))
    rows = read_rows(source, what="seed file", fix="set seeds.path / --seeds", split=cfg.split,
                     split_setting="seeds.split", hub=True, stream=True)
    return rows, source


def _to_seed(row: Row, where: str, index: int, cfg: SeedsConfig) -> Seed:
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

