"""Drop training records that overlap an evaluation suite (word n-gram overlap, n = 13 by default).

Texts are lowercased and reduced to their words (punctuation and whitespace do not count), and
import / include lines are dropped first so that shared boilerplate (`from typing import List`,
`import java.util.*;`) never matches. A record is contaminated when it shares one word n-gram with
an eval text; an eval text shorter than n words (an MBPP one-liner) but at least
`dataset.decontaminate_min_words` long must appear whole, as a contiguous word sequence.

Suites:

- `humaneval`: HumanEval's prompts, canonical solutions and tests, and its C++ and Java translations
  (MultiPL-E);
- `mbpp`: MBPP's prompts and tests (MultiPL-E's typed `mbpp-py`).

Both ship in the package (`wizardcoder/data/eval_texts/*.jsonl.gz`, written by
`scripts/build_decontamination_data.py`): a plain install checks them, with no extra; an installation
without them is an error, never a silent skip.
- every file in `dataset.decontaminate_paths` (JSON list, JSONL, JSONL.gz, or plain text): suite = file stem.
  JSON objects contribute their `prompt`, `canonical_solution`, `tests`/`test`, `text`, `question`,
  `instruction`, `code`, `solution` fields.

An n-gram that occurs in two problems of one suite is that suite's boilerplate and is not indexed.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from wizardcoder.data.config import DatasetConfig
from wizardcoder.errors import ConfigError, UserError

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+")
_IMPORT_LINE = re.compile(
    r"^[ \t]*(?:import[ \t]+[\w.*, \t]+;?|from[ \t]+[\w.]+[ \t]+import[ \t][^\n]*|#[ \t]*include[ \t]*[<\"][^\n]*"
    r"|using[ \t]+namespace[ \t]+\w+[ \t]*;|package[ \t]+[\w.]+[ \t]*;)[ \t]*$",
    re.MULTILINE,
)
CODE_FIELDS = frozenset({"canonical_solution", "tests", "test", "code", "solution"})
TEXT_FIELDS = ("prompt", "canonical_solution", "tests", "test", "text", "question", "instruction", "code", "solution")
EVAL_TEXTS = Path(__file__).resolve().parent / "eval_texts"
# suite -> the shipped files it indexes (each file is indexed on its own: a translation of a problem
# shares its words with the original, and must not make them "boilerplate" of the suite)
# (its names: data/config.py DECONTAMINATION_SUITES, the choices of dataset.decontaminate_suites)
BUILTIN_SUITES = {"humaneval": ("humaneval.jsonl.gz", "humaneval-cpp.jsonl.gz", "humaneval-java.jsonl.gz"),
                  "mbpp": ("mbpp.jsonl.gz",)}


def tokens(text: str) -> list[str]:
    """Lowercase words of `text` with import/include lines removed."""
    return _WORD.findall(_IMPORT_LINE.sub(" ", text).lower())


def _read_records(path: Path) -> Iterator[Any]:
    """JSON list / JSONL / JSONL.gz objects, or the whole file as one text."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ConfigError(f"dataset.decontaminate_paths: cannot read {path}: {exc}") from exc
    stripped = raw.lstrip()
    if stripped.startswith("["):
        try:
            yield from json.loads(raw)
            return
        except json.JSONDecodeError:
            pass
    if stripped.startswith("{"):
        try:
            for line in raw.splitlines():
                if line.strip():
                    yield json.loads(line)
            return
        except json.JSONDecodeError:
            pass
    yield raw


def _texts(item: Any) -> list[tuple[str, bool]]:
    """(text, is_code) pairs of one eval problem."""
    if isinstance(item, str):
        return [(item, False)]
    if isinstance(item, dict):
        return [(item[k], k in CODE_FIELDS) for k in TEXT_FIELDS if isinstance(item.get(k), str)]
    return []


class Decontaminator:
    """`contaminated(text)` -> the name of an eval suite `text` overlaps, or None; `counts` per suite."""

    def __init__(self, cfg: DatasetConfig | None = None) -> None:
        cfg = cfg or DatasetConfig()
        self.n = int(cfg.decontaminate_ngram)
        self.min_words = min(int(cfg.decontaminate_min_words), self.n)
        self._grams: dict[str, str] = {}  # n-gram -> suite
        self._short: dict[int, dict[str, str]] = {}  # length m < n -> whole text -> suite
        self.sizes: dict[str, int] = {}  # suite -> number of texts indexed
        self.counts: dict[str, int] = {}  # suite -> records found contaminated (0 for every loaded suite)
        self.checked = 0
        for suite in cfg.decontaminate_suites:  # DatasetConfig allows only the built-in ones
            self._load_builtin(suite)
        for raw in cfg.decontaminate_paths:
            path = Path(raw).expanduser()
            if not path.is_file():
                raise ConfigError(f"dataset.decontaminate_paths: {path} is not a file (give JSON/JSONL/text files)")
            suite = path.name.split(".")[0]
            self.add_problems(suite, (_texts(item) for item in _read_records(path)))
        log.info("decontamination index: %s (%d n-grams, n=%d)",
                 ", ".join(f"{s}={k}" for s, k in self.sizes.items()) or "empty", len(self._grams), self.n)

    # --- building the index ---
    def add_problems(self, suite: str, problems: Iterable[list[tuple[str, bool]]]) -> None:
        """Index `problems`, each a list of (text, is_code). An n-gram found in two problems of the same
        suite is suite boilerplate ("check some edge cases that are easy to work out by hand") and is dropped.
        Short texts (fewer than n words) are matched whole, but only prose: short code is too generic."""
        n = self.n
        count = 0
        owner: dict[str, int] = {}
        boilerplate: set[str] = set()
        for number, texts in enumerate(problems):
            count += 1
            for text, is_code in texts:
                words = tokens(text)
                if len(words) >= n:
                    for i in range(len(words) - n + 1):
                        gram = " ".join(words[i:i + n])
                        first = owner.setdefault(gram, number)
                        if first != number:
                            boilerplate.add(gram)
                elif len(words) >= self.min_words and not is_code:
                    self._short.setdefault(len(words), {}).setdefault(" ".join(words), suite)
        for gram in owner:
            if gram not in boilerplate:
                self._grams.setdefault(gram, suite)
        self.sizes[suite] = self.sizes.get(suite, 0) + count
        self.counts.setdefault(suite, 0)

    def _load_builtin(self, suite: str) -> None:
        for name in BUILTIN_SUITES[suite]:
            path = EVAL_TEXTS / name
            if not path.is_file():
                raise UserError(
                    f"decontamination: {path} is missing from this installation, so {suite} cannot be checked. "
                    "Reinstall wizardcoder (or run scripts/build_decontamination_data.py in a checkout); to build "
                    "a dataset without that check, set dataset.decontaminate=false.")
            self.add_problems(suite, (_texts(item) for item in _read_records(path)))

    # --- querying ---
    def match(self, text: str) -> str | None:
        """The suite `text` overlaps, without counting it."""
        words = tokens(text)
        n = self.n
        grams = self._grams
        if grams:
            for i in range(len(words) - n + 1):
                suite = grams.get(" ".join(words[i:i + n]))
                if suite is not None:
                    return suite
        for m, whole in self._short.items():
            for i in range(len(words) - m + 1):
                suite = whole.get(" ".join(words[i:i + m]))
                if suite is not None:
                    return suite
        return None

    def contaminated(self, *texts: str | None) -> str | None:
        """The suite any of `texts` (one record's fields: instruction, solution, tests) overlaps, counted
        once in `counts`; or None. Each field is matched on its own (no n-gram spans two fields)."""
        self.checked += 1
        for text in texts:
            suite = self.match(text) if text else None
            if suite is not None:
                self.counts[suite] = self.counts.get(suite, 0) + 1
                return suite
        return None

    def stats(self) -> dict[str, Any]:
        return {"checked": self.checked, "contaminated": dict(self.counts), "suites": dict(self.sizes), "n": self.n}


__all__ = ["Decontaminator", "tokens"]
