"""Read user rows from wherever a user keeps them: one reader for seeds, training data and eval suites.

`read_rows(source)` yields one `Row` (a dict that knows where it came from) per record of:

- a `.jsonl` file (streamed line by line; `.jsonl.gz` too), a `.json` file (a list of objects, an object
  holding one such list, a single object, or JSON lines; `.json.gz` too);
- a `.csv` or `.parquet` file (read with `datasets`);
- a directory written by `datasets`' `save_to_disk` (a Dataset, or a DatasetDict: `split`), an evolve
  run directory (its `dataset/`), or a folder holding exactly one `.jsonl` file;
- a hub dataset name (`owner/name`, `owner/name:config`) where the caller allows it (needs the network).

JSON and JSONL are parsed here rather than by `datasets`: a bad line is then named `file:line`, and
records need not share one Arrow schema. Callers keep their own field mapping and validation; every
error here is a `UserError` naming the file (and line) or the setting, and the fix.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from wizardcoder.data.jsonl import iter_jsonl
from wizardcoder.errors import UserError

# file ending -> how it is read
FORMATS = {".jsonl": "jsonl", ".jsonl.gz": "jsonl", ".json": "json", ".json.gz": "json",
           ".csv": "csv", ".parquet": "parquet"}
_SAVED_DATASET_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
_HUB_NAME = re.compile(r"[\w.-]+(/[\w.-]+)?(:[\w.-]+)?")


class Row(dict):
    """One record; `where` locates it for error messages: "file:line" (JSONL) or "source[index]"."""

    __slots__ = ("where",)

    def __init__(self, where: str, fields: dict[str, Any]):
        super().__init__(fields)
        self.where = where


def read_rows(source: str | Path, *, what: str = "data file", fix: str = "", split: str | None = None,
              split_setting: str | None = None, hub: bool = False, stream: bool = False) -> Iterator[Row]:
    """The records of `source`, in order.

    `what` names the source in errors ("seed file"), `fix` says how to point at another one
    ("set seeds.path / --seeds"). `split` picks a DatasetDict's split (None: "train" if there, else the
    first); `split_setting` is the setting that chooses it. `hub` lets a name that is no local path load
    from the hub, `stream` without downloading it whole.
    """
    text = str(source)
    path = Path(text).expanduser()
    if path.is_dir():
        yield from _directory_rows(path, what, fix, split, split_setting)
    elif path.is_file():
        yield from _file_rows(path, what, fix, hub)
    elif hub and _looks_like_hub_name(text):
        yield from _hub_rows(text, split, split_setting, stream, fix)
    else:
        raise UserError(f"{what} not found: {text} (no such file or directory){_then(fix)}")


def _supported_sources(hub: bool) -> str:
    kinds = ".jsonl, .json (either also .gz), .csv, .parquet, a save_to_disk directory"
    return kinds + (" or a hub dataset name" if hub else "")


def _then(fix: str) -> str:
    return f"; {fix}" if fix else ""


def _file_kind(path: Path) -> str | None:
    name = path.name.lower()
    return next((kind for ending, kind in FORMATS.items() if name.endswith(ending)), None)


def _looks_like_hub_name(text: str) -> bool:
    lowered = text.lower()
    return (not text.startswith((".", "/", "~")) and not lowered.endswith((*FORMATS, ".gz"))
            and _HUB_NAME.fullmatch(text) is not None)


def _file_rows(path: Path, what: str, fix: str, hub: bool) -> Iterator[Row]:
    kind = _file_kind(path)
    if kind is None:
        suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
        raise UserError(f"{path}: unknown {what} type {suffix!r}; use {_supported_sources(hub)}{_then(fix)}")
    if kind == "jsonl" and _first_character(path) != "[":
        yield from _jsonl_rows(path)
    elif kind in ("json", "jsonl"):
        yield from _json_rows(path)
    else:
        yield from _datasets_file_rows(path, kind)


def _open_text(path: Path):
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    return opener(path, "rt", encoding="utf-8")


def _first_character(path: Path) -> str:
    """The first non-blank character: "[" marks a JSON array even in a file named .jsonl."""
    with _open_text(path) as fh:
        while chunk := fh.read(4096):
            if chunk.strip():
                return chunk.strip()[0]
    return ""


def _jsonl_rows(path: Path) -> Iterator[Row]:
    for lineno, value in iter_jsonl(path):
        yield _row(value, f"{path}:{lineno}")


def _json_rows(path: Path) -> Iterator[Row]:
    with _open_text(path) as fh:
        text = fh.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # several JSON values, one a line: JSON lines in a .json file
            yield from _jsonl_rows(path)
            return
        raise UserError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if isinstance(data, dict):
        data = _records_in_object(data, path)
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a list of objects (records), got {type(data).__name__}")
    for i, value in enumerate(data):
        yield _row(value, f"{path}[{i}]")


def _records_in_object(data: dict[str, Any], path: Path) -> list[Any]:
    """An object holding one list of objects ({"data": [...]}) gives that list; any other object is one record."""
    lists = [key for key, value in data.items()
             if isinstance(value, list) and all(isinstance(item, dict) for item in value)]
    if not lists:
        return [data]
    if len(lists) > 1:
        raise UserError(f"{path}: an object holding several lists of records ({', '.join(map(repr, lists))}); "
                        "keep one list, or write a list of objects or one JSON object per line")
    return data[lists[0]]


def _row(value: Any, where: str) -> Row:
    if not isinstance(value, dict):
        raise UserError(f"{where}: expected an object (a record with named fields), got {type(value).__name__}; "
                        "write one JSON object per line, or a list of objects")
    return Row(where, value)


def _dataset_rows(dataset: Iterable[dict[str, Any]], name: str) -> Iterator[Row]:
    for i, fields in enumerate(dataset):
        yield Row(f"{name}[{i}]", fields)


def _datasets_file_rows(path: Path, kind: str) -> Iterator[Row]:
    from datasets import load_dataset

    try:
        dataset = load_dataset(kind, data_files=str(path), split="train")
    except Exception as exc:  # pandas / pyarrow raise many types for a malformed file
        name = {"csv": "CSV", "parquet": "Parquet"}[kind]
        raise UserError(f"{path}: not a readable {name} file: {_first_line(_root_cause(exc))}") from exc
    yield from _dataset_rows(dataset, str(path))


def _is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and any((path / marker).is_file() for marker in _SAVED_DATASET_MARKERS)


def _directory_rows(path: Path, what: str, fix: str, split: str | None, split_setting: str | None) -> Iterator[Row]:
    if not _is_saved_dataset(path):
        if _is_saved_dataset(path / "dataset"):  # an evolve run directory
            path = path / "dataset"
        else:
            jsonls = sorted(path.glob("*.jsonl"))
            if len(jsonls) != 1:
                raise UserError(f"{path}: a directory, but not one written by datasets' save_to_disk (no "
                                f"{' / '.join(_SAVED_DATASET_MARKERS)}), nor an evolve run directory, nor a "
                                f"folder with exactly one .jsonl file{_then(fix)}")
            yield from _jsonl_rows(jsonls[0])
            return
    from datasets import load_from_disk

    try:
        dataset = load_from_disk(str(path))
    except Exception as exc:  # a damaged or foreign directory
        raise UserError(f"{path}: looks like a save_to_disk directory but could not be loaded: "
                        f"{_first_line(exc)}{_then(fix)}") from exc
    yield from _dataset_rows(_pick_split(dataset, split, str(path), split_setting), str(path))


def _pick_split(dataset: Any, split: str | None, name: str, split_setting: str | None) -> Any:
    if not isinstance(dataset, dict):  # a Dataset: no splits to choose from (a DatasetDict is a dict)
        return dataset
    if split is None:
        split = "train" if "train" in dataset else next(iter(dataset))
    if split not in dataset:
        setting = f" (set {split_setting})" if split_setting else ""
        raise UserError(f"{name}: no split {split!r}; it has {', '.join(dataset)}{setting}")
    return dataset[split]


def _hub_rows(name: str, split: str | None, split_setting: str | None, stream: bool, fix: str) -> Iterator[Row]:
    from datasets import load_dataset

    dataset_name, _, config = name.partition(":")
    try:
        dataset = load_dataset(dataset_name, config or None, split=split, streaming=stream)
    except Exception as exc:  # datasets raises many types for "not found" / offline
        raise UserError(f"{name!r} is no local file or directory, and the hub could not load it (split {split!r}): "
                        f"{_first_line(exc)}. Offline? Save it with datasets' save_to_disk or export JSONL, "
                        f"then pass that path{_then(fix)}") from exc
    yield from _dataset_rows(_pick_split(dataset, None, name, split_setting), name)


def _root_cause(exc: BaseException) -> BaseException:
    """datasets wraps the parser's own message (pandas, pyarrow) in a generic one."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    return exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200] if text else ''}"
