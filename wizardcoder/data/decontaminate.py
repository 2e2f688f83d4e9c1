"""Drop training records that overlap an evaluation suite (word n-gram overlap, n = 13 by default).

Texts are lowercased and reduced to their words (punctuation and whitespace do not count), and
import / include lines are dropped first so that shared boilerplate (`from typing import List`,
`import java.util.*;`) never matches. A record is contaminated when it shares one indexed word n-gram
with an eval problem; an eval text shorter than n words (an MBPP one-liner) but at least
`dataset.decontaminate_min_words` long must appear whole, as a contiguous word sequence (prose only).

What is indexed: the benchmark's problem text (prompt, docstring) and its *distinctive* solution and test
lines, not the idioms shared by thousands of programs. 13-grams of all solution code flagged a primality
loop, a hex-digit table and the roman numeral values in Code Alpaca seeds as HumanEval. So an n-gram is
indexed only when it carries words that are rare in a reference corpus of code (every shipped eval
problem: a word in more than `COMMON_SHARE` of them, or a keyword or builtin of Python, C++, Java or
JavaScript, is common; numbers and one- or two-letter words never count):

- from code (solutions, tests): at least `CODE_RARE_WORDS` (2) different rare words;
- from problem text (prompts): one rare word, or `PROSE_WORDS` (3) different words of three letters or
  more (prose, not a table of digits or letters).

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

An n-gram that occurs in two problems of one suite is that suite's boilerplate and is not indexed. A match
names the suite, the benchmark task and the n-gram (`Match`), so a dropped row can be checked by hand.
"""

from __future__ import annotations

import builtins
import gzip
import json
import keyword
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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

COMMON_SHARE = 0.05  # a word in more than this share of the reference problems is common
CODE_RARE_WORDS = 2
PROSE_WORDS = 3
_C_LIKE_WORDS = """auto bool boolean break case catch char class const continue default delete do double else enum
    extends final finally float for function if implements import include int interface let long main namespace
    new null nullptr package private protected public return short signed size_t static std string struct switch
    template this throw throws true false try typedef typename unsigned using var vector map set void volatile
    while assert println printf cout endl length push_back append arraylist hashmap list"""
# words every program of these languages uses: never distinctive, however few benchmark problems hold them
LANGUAGE_WORDS = frozenset({w.lower() for w in keyword.kwlist} | {w.lower() for w in dir(builtins)}
                           | set(_C_LIKE_WORDS.split()))


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


def _task_id(item: Any, suite: str, number: int) -> str:
    named = item.get("task_id") or item.get("name") if isinstance(item, dict) else None
    return str(named) if named else f"{suite} #{number}"


@dataclass(frozen=True)
class Match:
    """Why a record is contaminated: the suite, the benchmark task and the words it shares with it."""

    suite: str
    task: str
    ngram: str
    field: int  # which of the texts given to `check` (a record's instruction, solution, tests: 0, 1, 2)


class Commonness:
    """Which words are common in code: document frequency over a reference corpus of problems."""

    def __init__(self, problems: Iterable[list[tuple[str, bool]]]):
        self.df: Counter[str] = Counter()
        self.docs = 0
        for texts in problems:
            self.docs += 1
            self.df.update({w for text, _ in texts for w in tokens(text)})
        self.limit = max(1.0, COMMON_SHARE * self.docs)

    def rare(self, word: str) -> bool:
        return (len(word) >= 3 and not word.isdigit() and word not in LANGUAGE_WORDS
                and self.df[word] <= self.limit)

    def distinctive(self, words: list[str], is_code: bool, n: int) -> list[bool]:
        """For each n-gram of `words` (a benchmark text), whether it carries enough of that problem to count as
        contamination (computed once per word, not once per word of each n-gram)."""
        rare = [w if self.rare(w) else None for w in words]
        prose = [w if len(w) >= 3 and w.isalpha() else None for w in words]
        out = []
        for i in range(len(words) - n + 1):
            found = set(rare[i:i + n]) - {None}
            if is_code:
                out.append(len(found) >= CODE_RARE_WORDS)
            else:
                out.append(bool(found) or len(set(prose[i:i + n]) - {None}) >= PROSE_WORDS)
        return out


class Decontaminator:
    """`check(*texts)` -> the `Match` of a record overlapping an eval suite, or None; `counts` per suite."""

    def __init__(self, cfg: DatasetConfig | None = None) -> None:
        cfg = cfg or DatasetConfig()
        self.n = int(cfg.decontaminate_ngram)
        self.min_words = min(int(cfg.decontaminate_min_words), self.n)
        self._grams: dict[str, tuple[str, str]] = {}  # n-gram -> (suite, task)
        self._short: dict[int, dict[str, tuple[str, str]]] = {}  # length m < n -> whole text -> (suite, task)
        self.sizes: dict[str, int] = {}  # suite -> number of texts indexed
        self.counts: dict[str, int] = {}  # suite -> records found contaminated (0 for every loaded suite)
        self.checked = 0
        extra = []
        for raw in cfg.decontaminate_paths:
            path = Path(raw).expanduser()
            if not path.is_file():
                raise ConfigError(f"dataset.decontaminate_paths: {path} is not a file (give JSON/JSONL/text files)")
            extra.append((path.name.split(".")[0], list(_read_records(path))))
        # what is common in code: every shipped problem (whichever suites are checked) and the extra files
        shipped = self._shipped()
        self.commonness = Commonness(_texts(item) for items in [*shipped.values(), *(i for _, i in extra)]
                                     for item in items)
        for suite in cfg.decontaminate_suites:  # DatasetConfig allows only the built-in ones
            self._load_builtin(suite, shipped)
        for suite, items in extra:
            self.add_problems(suite, ((_task_id(item, suite, i), _texts(item)) for i, item in enumerate(items)))
        log.info("decontamination index: %s (%d n-grams, n=%d)",
                 ", ".join(f"{s}={k}" for s, k in self.sizes.items()) or "empty", len(self._grams), self.n)

    # --- building the index ---
    @staticmethod
    def _shipped() -> dict[str, list[Any]]:
        """The shipped eval files that are installed, by file name."""
        return {name: list(_read_records(EVAL_TEXTS / name)) for names in BUILTIN_SUITES.values()
                for name in names if (EVAL_TEXTS / name).is_file()}

    def add_problems(self, suite: str, problems: Iterable[tuple[str, list[tuple[str, bool]]]]) -> None:
        """Index `problems`, each (task id, [(text, is_code)]): the n-grams `Commonness.distinctive` keeps. An
        n-gram found in two problems of the same suite is suite boilerplate ("check some edge cases that are easy
        to work out by hand") and is dropped. Short texts (fewer than n words) are matched whole, but only prose:
        short code is too generic."""
        n = self.n
        count = 0
        owner: dict[str, str] = {}
        boilerplate: set[str] = set()
        for task, texts in problems:
            count += 1
            for text, is_code in texts:
                words = tokens(text)
                if len(words) >= n:
                    for i, keep in enumerate(self.commonness.distinctive(words, is_code, n)):
                        if not keep:
                            continue
                        gram = " ".join(words[i:i + n])
                        if owner.setdefault(gram, task) != task:
                            boilerplate.add(gram)
                elif len(words) >= self.min_words and not is_code:
                    self._short.setdefault(len(words), {}).setdefault(" ".join(words), (suite, task))
        for gram, task in owner.items():
            if gram not in boilerplate:
                self._grams.setdefault(gram, (suite, task))
        self.sizes[suite] = self.sizes.get(suite, 0) + count
        self.counts.setdefault(suite, 0)

    def _load_builtin(self, suite: str, shipped: dict[str, list[Any]]) -> None:
        """Index the built-in `suite` from its files as `_shipped` read them."""
        for name in BUILTIN_SUITES[suite]:
            items = shipped.get(name)
            if items is None:
                path = EVAL_TEXTS / name
                raise UserError(
                    f"decontamination: {path} is missing from this installation, so {suite} cannot be checked. "
                    "Reinstall wizardcoder (or run scripts/build_decontamination_data.py in a checkout); to build "
                    "a dataset without that check, set dataset.decontaminate=false.")
            self.add_problems(suite, ((_task_id(item, suite, i), _texts(item)) for i, item in enumerate(items)))

    # --- querying ---
    def find(self, text: str) -> tuple[str, str, str] | None:
        """(suite, task, n-gram) of the first indexed n-gram `text` holds, without counting it."""
        words = tokens(text)
        n = self.n
        grams = self._grams
        if grams:
            for i in range(len(words) - n + 1):
                gram = " ".join(words[i:i + n])
                hit = grams.get(gram)
                if hit is not None:
                    return (*hit, gram)
        for m, whole in self._short.items():
            for i in range(len(words) - m + 1):
                gram = " ".join(words[i:i + m])
                hit = whole.get(gram)
                if hit is not None:
                    return (*hit, gram)
        return None

    def check(self, *texts: str | None) -> Match | None:
        """Why the record of `texts` (one record's fields: instruction, solution, tests) overlaps an eval suite,
        counted once in `counts`; or None. Each field is matched on its own (no n-gram spans two fields)."""
        self.checked += 1
        for field, text in enumerate(texts):
            hit = self.find(text) if text else None
            if hit is not None:
                self.counts[hit[0]] = self.counts.get(hit[0], 0) + 1
                return Match(*hit, field)
        return None

    def contaminated(self, *texts: str | None) -> str | None:
        """The suite any of `texts` overlaps (`check`), or None."""
        found = self.check(*texts)
        return found.suite if found else None

    def stats(self) -> dict[str, Any]:
        return {"checked": self.checked, "contaminated": dict(self.counts), "suites": dict(self.sizes), "n": self.n}


__all__ = ["Commonness", "Decontaminator", "Match", "tokens"]
