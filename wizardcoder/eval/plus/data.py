"""EvalPlus's data format: HumanEval+ and MBPP+ tasks, loaded from a file or the EvalPlus release.

A task (one JSON line): `task_id`, `prompt`, `entry_point`, `canonical_solution`, `base_input` and
`plus_input` (lists of argument lists), `atol`, `contract`; MBPP+ also `assertion` (MBPP's original
asserts). Files: `.jsonl` or `.jsonl.gz`. Without `--suite-file`, the current release is downloaded
once from EvalPlus's release files (the format its own evaluator reads) into the cache directory. The
hub copies (`evalplus/humanevalplus`, `evalplus/mbppplus` on the dataset hub) carry the tests as code
with base and plus inputs merged, so they cannot give the two verdicts: they are not used.

JSON has no tuples, sets or complex numbers, so MBPP+ stores such arguments as lists and evalplus
rebuilds them per task number (`ARGUMENT_TYPES`, the same for MBPP+ v0.1.0 and v0.2.0), with its
quirks kept (Mbpp/115 turns every item that is not a non-empty list into an empty dict): the expected
outputs must be computed on the same values evalplus computes them on.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wizardcoder.errors import UserError

log = logging.getLogger(__name__)

SUITES = {"humaneval+": "humaneval", "mbpp+": "mbpp"}
ALIASES = {"humanevalplus": "humaneval+", "mbppplus": "mbpp+", "humaneval-plus": "humaneval+",
           "mbpp-plus": "mbpp+"}
# suite -> (release version, URL): the versions evalplus 0.3.x reads by default
RELEASES = {
    "humaneval+": ("v0.1.10", ("https://github.com/evalplus/humanevalplus_release/releases/download/"
                              "v0.1.10/HumanEvalPlus.jsonl.gz")),
    "mbpp+": ("v0.2.0", "https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz"),
}
REQUIRED = ("task_id", "prompt", "entry_point", "canonical_solution", "base_input", "plus_input", "atol")
MBPP_V010_TASKS = 399  # MBPP+ v0.1.0 (evalplus 0.2.x); v0.2.0 (evalplus 0.3.x) has 378


@dataclass(frozen=True)
class PlusTask:
    task_id: str
    prompt: str
    entry_point: str
    canonical_solution: str
    base_input: list  # argument lists, their types rebuilt (tuples, sets, complex)
    plus_input: list
    atol: float
    contract: str = ""
    assertion: str | None = None  # MBPP+ only

    @property
    def reference_code(self) -> str:
        return self.prompt + self.canonical_solution


@dataclass(frozen=True)
class PlusSuite:
    name: str  # humaneval+ | mbpp+
    dataset: str  # humaneval | mbpp: whose special oracles apply
    tasks: list[PlusTask]
    source: str  # the file read
    sha256: str  # of the file's bytes (gzipped or not, as read)
    rules: str  # "0.2" | "0.3": which evalplus release's comparison rules apply (see oracles.py)
    rules_why: str
    extra: dict[str, Any] = field(default_factory=dict)


def canonical_suite(name: str) -> str | None:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in SUITES else None


def load_plus_suite(name: str, suite_file: str | Path | None = None, rules: str = "auto",
                    cache_dir: str | Path | None = None) -> PlusSuite:
    """The tasks of `name` (humaneval+ / mbpp+ or an alias) from `suite_file`, else from the release
    (downloaded once into `cache_dir`). `rules`: auto | 0.2 | 0.3 (see `pick_rules`)."""
    suite = canonical_suite(name)
    if suite is None:
        raise UserError(f"{name!r} is not an EvalPlus suite: use humaneval+ or mbpp+ (or humanevalplus, mbppplus)")
    path = Path(suite_file) if suite_file else release_file(suite, cache_dir)
    tasks = read_tasks(path, SUITES[suite])
    picked, why = pick_rules(suite, tasks, rules, from_release=suite_file is None)
    return PlusSuite(name=suite, dataset=SUITES[suite], tasks=tasks, source=str(path), sha256=file_sha256(path),
                     rules=picked, rules_why=why)


def pick_rules(suite: str, tasks: list[PlusTask], rules: str = "auto", from_release: bool = False) -> tuple[str, str]:
    """Which evalplus release's comparison rules go with this data: the one that reads it by default
    (0.2.x: MBPP+ v0.1.0, 399 tasks; 0.3.x: MBPP+ v0.2.0 and HumanEval+ v0.1.10)."""
    if rules in ("0.2", "0.3"):
        return rules, "asked for"
    if rules != "auto":
        raise UserError(f"evalplus rules must be auto, 0.2 or 0.3, got {rules!r}")
    if suite == "mbpp+" and len(tasks) >= MBPP_V010_TASKS:
        return "0.2", f"{len(tasks)} MBPP+ tasks: the v0.1.0 format, which evalplus 0.2.x evaluates"
    if from_release:
        return "0.3", f"the {RELEASES[suite][0]} release, which evalplus 0.3.x evaluates"
    return "0.3", "the current evalplus (0.3.x) rules; pass rules 0.2 for data older than MBPP+ v0.2.0 / HumanEval+ v0.1.10"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wizardcoder" / "evalplus"


def release_file(suite: str, cache_dir: str | Path | None = None) -> Path:
    """The release file of `suite`, downloaded once; offline, an error that names --suite-file."""
    version, url = RELEASES[suite]
    path = Path(cache_dir or default_cache_dir()) / f"{suite.rstrip('+')}plus-{version}.jsonl.gz"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    log.info("downloading %s %s from %s", suite, version, url)
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as out:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(
            f"{suite}: the EvalPlus release {version} could not be downloaded ({exc}). Offline, pass the data "
            f"file with --suite-file PATH (an EvalPlus-format .jsonl or .jsonl.gz, e.g. {url.rsplit('/', 1)[1]} "
            f"from {url.rsplit('/', 1)[0]}), or put it at {path}") from exc
    return path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def read_tasks(path: str | Path, dataset: str) -> list[PlusTask]:
    """The tasks of one EvalPlus-format file; a clear error naming the file, line and key otherwise."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--suite-file {path}: no such file (an EvalPlus-format .jsonl or .jsonl.gz)")
    opener = gzip.open if path.name.endswith(".gz") else open
    tasks, seen = [], set()
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
                task = _task(row, dataset, f"{path}:{lineno}")
                if task.task_id in seen:
                    raise UserError(f"{path}:{lineno}: task_id {task.task_id!r} appears twice")
                seen.add(task.task_id)
                tasks.append(task)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot be read ({exc}); expected an EvalPlus-format .jsonl or .jsonl.gz") from exc
    if not tasks:
        raise UserError(f"{path}: no tasks in it")
    return tasks


def _task(row: Any, dataset: str, where: str) -> PlusTask:
    if not isinstance(row, dict):
        raise UserError(f"{where}: a JSON object was expected")
    missing = [k for k in REQUIRED if k not in row]
    if missing:
        raise UserError(f"{where}: missing key(s) {', '.join(missing)}; an EvalPlus task has "
                        f"{', '.join(REQUIRED)} (and contract; MBPP+ also assertion)")
    for key in ("base_input", "plus_input"):
        if row[key] == {}:  # MBPP+ v0.1.0's Mbpp/793 has `"plus_input": {}`: no inputs, as evalplus reads it
            row[key] = []
        if not isinstance(row[key], list) or not all(isinstance(a, list) for a in row[key]):
            raise UserError(f"{where}: {key} must be a list of argument lists")
    if not isinstance(row["atol"], (int, float)) or isinstance(row["atol"], bool) or row["atol"] < 0:
        raise UserError(f"{where}: atol must be a number >= 0, got {row['atol']!r}")
    task_id = str(row["task_id"])
    rebuild = argument_types(task_id) if dataset == "mbpp" else None
    try:
        base = [rebuild(a) for a in row["base_input"]] if rebuild else row["base_input"]
        plus = [rebuild(a) for a in row["plus_input"]] if rebuild else row["plus_input"]
    except (TypeError, ValueError, IndexError, AttributeError) as exc:
        raise UserError(f"{where}: the inputs of {task_id} do not have the shape MBPP+ gives them ({exc})") from exc
    return PlusTask(task_id=task_id, prompt=str(row["prompt"]), entry_point=str(row["entry_point"]),
                    canonical_solution=str(row["canonical_solution"]), base_input=base, plus_input=plus,
                    atol=float(row["atol"]) if row["atol"] else 0, contract=str(row.get("contract") or ""),
                    assertion=row.get("assertion"))


# ------------------------------------------------------------------ MBPP+ argument types


def _tuple(x):
    return tuple(x)


def _tuples(x):
    return [tuple(e) for e in x]


def _tuple_of_tuples(x):
    return tuple(tuple(e) for e in x)


def _all_tuples(x):
    return tuple(_all_tuples(e) for e in x) if isinstance(x, list) else x


def _sets_or_empty_dicts(x):  # evalplus's Mbpp/115 rule, quirk included
    return [set(e) if isinstance(e, list) and e else {} for e in x]


def _tuple_of_items_as_tuples(x):
    return tuple(tuple(e) if isinstance(e, list) else e for e in x)


def _dict_of_tuples(x):
    return {k: tuple(v) for k, v in x.items()}


Rule = tuple[str, Callable[[Any], Any]]  # ("all" | "0" | "1": which arguments, how)
_RULES: list[tuple[tuple[int, ...], Rule | tuple[Rule, ...]]] = [
    ((2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740, 744, 809),
     ("all", _tuple)),
    ((63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780), ("all", _tuples)),
    ((75, 413, 444, 753), ("0", _tuples)),
    ((106, 750), ("1", _tuple)),
    ((115,), ("0", _sets_or_empty_dicts)),
    ((124,), (("0", float), ("1", complex))),
    ((250, 405, 446, 617, 720, 763, 808), ("0", _tuple)),
    ((259, 401, 445), ("all", _tuple_of_tuples)),
    ((278,), ("0", _tuple_of_items_as_tuples)),
    ((307,), ("0", _tuple)),
    ((722,), ("0", _dict_of_tuples)),
    ((252,), ("0", complex)),
    ((580, 615, 791), ("all", _all_tuples)),
]
ARGUMENT_TYPES: dict[int, tuple[Rule, ...]] = {
    n: (rule if isinstance(rule[0], tuple) else (rule,)) for ids, rule in _RULES for n in ids  # type: ignore[misc]
}


def argument_types(task_id: str) -> Callable[[list], list] | None:
    """How MBPP+ task `task_id` ("Mbpp/N") rebuilds one argument list, or None when it keeps it as is."""
    try:
        number = int(task_id.rsplit("/", 1)[-1])
    except ValueError:
        return None
    rules = ARGUMENT_TYPES.get(number)
    if rules is None:
        return None

    def rebuild(args: list) -> list:
        args = list(args)
        for which, how in rules:
            for i in range(len(args)) if which == "all" else [int(which)]:
                args[i] = how(args[i])
        return args
    return rebuild
