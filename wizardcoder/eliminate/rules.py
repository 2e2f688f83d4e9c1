"""Cheap text rules that drop a failed evolution before any LLM call or sandbox run.

These follow WizardLM's elimination rules, applied to the evolved instruction (each a `Reason`):

- "punctuation_only": nothing left after removing punctuation and stop words;
- "leaked_template": the evolve prompt leaked into the output: WizardLM's markers ("#Rewritten Prompt#",
  "given prompt", ...) or any of wizardcoder's own prompt texts, echoed (eliminate/leaks.py);
- "refusal": the model apologised or refused instead of writing a task;
- "too_short": a very short answer ("Sure!", "Here it is:");
- "copied_parent": identical or near-identical to the parent (no information gain, by a cheap check).

False-positive guard (decided, and tested): refusal phrases are looked for only *outside* quoted strings
and code, so a task such as `Write a function that returns "Sorry, out of stock" when ...` is kept. An
apology anywhere in short prose (under `refusal_max_words` words) is a refusal; in a long text only a
refusal that *opens* the text counts, since a long task may describe an apologetic chatbot.
"""

from __future__ import annotations

import difflib
import logging
import re
from typing import TYPE_CHECKING

from wizardcoder.eliminate import EliminateConfig
from wizardcoder.eliminate.leaks import prompt_echo
from wizardcoder.reasons import Reason

if TYPE_CHECKING:
    from wizardcoder.evolve.prompts import PromptSet

log = logging.getLogger(__name__)

_WORD = re.compile(r"[A-Za-z0-9_]+")

STOP_WORDS = frozenset((
    "a", "an", "the", "and", "or", "but", "if", "then", "else", "of", "to", "in", "on", "at", "by", "for",
    "with", "from", "as", "is", "are", "was", "were", "be", "been", "being", "this", "that", "these",
    "those", "it", "its", "i", "you", "he", "she", "we", "they", "me", "him", "her", "us", "them", "my",
    "your", "our", "their", "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "all",
    "any", "both", "each", "few", "more", "most", "other", "some", "such", "no", "nor", "not", "only",
    "own", "same", "so", "than", "too", "very", "can", "will", "just", "should", "now", "do", "does",
    "did", "doing", "have", "has", "had", "having", "here", "there", "up", "down", "out", "over", "under",
    "again", "further", "once", "about", "into", "through", "during", "before", "after", "above", "below",
    "off", "ok", "okay", "yes", "sure", "please", "thanks", "thank", "well", "oh", "hmm",
))

# WizardLM's evolve prompts' wording, echoed back instead of a task.
_LEAK_PATTERNS = [
    r"#\s*(given|rewritten|created|new|original|evolved)\s+(prompt|test|question|instruction|task)\s*#",
    r"\b(given|rewritten|created|evolved|original)\s+prompt\b",
    r"\brewritten\s+(test|question|instruction|task)\b",
    r"\bthe\s+given\s+programming\s+test\s+question\b",
    r"\bincrease\s+the\s+difficulty\s+of\s+the\s+given\b",
    r"\{(question|instruction|method|prompt|language)\}",  # an unfilled template slot
]  # wizardcoder's own prompt texts: eliminate/leaks.py
_LEAK = re.compile("|".join(f"(?:{p})" for p in _LEAK_PATTERNS), re.IGNORECASE)

# Openers that make a text a refusal whatever its length.
_REFUSAL_OPENER = re.compile(
    r"^\W*(i'?m\s+sorry|i\s+am\s+sorry|sorry\b|i\s+apologi[sz]e|my\s+apologies|as\s+an\s+ai\b"
    r"|i\s+(can\s*not|can'?t|won'?t|am\s+unable\s+to|am\s+not\s+able\s+to|'m\s+unable\s+to)\b"
    r"|unfortunately,?\s+i\b)",
    re.IGNORECASE,
)
# Phrases that make a short text a refusal wherever they appear.
_REFUSAL_ANYWHERE = re.compile(
    r"\b(i'?m\s+sorry|i\s+am\s+sorry|sorry,?\s+but|i\s+apologi[sz]e|as\s+an\s+ai(\s+language\s+model)?\b"
    r"|i\s+(can\s*not|can'?t|am\s+unable\s+to|am\s+not\s+able\s+to)\s+"
    r"(help|assist|provide|comply|fulfil+|complete|create|generate|do|rewrite|write)\b"
    r"|it\s+is\s+not\s+possible\s+to\s+(rewrite|increase|make)\b)",
    re.IGNORECASE,
)
# Quoted strings and code, removed before looking for refusals (they are task content, not the model talking).
_QUOTED = re.compile(
    r"```.*?(```|$)|`[^`\n]*`|\"[^\"\n]*\"|“[^”\n]*”|(?<![A-Za-z0-9])'[^'\n]{2,}'(?![A-Za-z0-9])",
    re.DOTALL,
)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _strip_quoted(text: str) -> str:
    return _QUOTED.sub(" ", text)


def _similarity_and_added(parent_words: list[str], evolved_words: list[str]) -> tuple[float, int]:
    """Word-sequence similarity, and how many content words the evolved text inserts or replaces."""
    matcher = difflib.SequenceMatcher(None, parent_words, evolved_words, autojunk=False)
    if matcher.real_quick_ratio() < 0.5 or matcher.quick_ratio() < 0.5:
        return 0.0, len(evolved_words)
    added = sum(
        sum(1 for w in evolved_words[j1:j2] if w not in STOP_WORDS)
        for tag, _, _, j1, j2 in matcher.get_opcodes()
        if tag in ("insert", "replace")
    )
    return matcher.ratio(), added


def heuristic_reason(parent_instruction: str, evolved: str, cfg: EliminateConfig,
                     prompts: PromptSet | None = None) -> Reason | None:
    """None to keep `evolved`; else the reason code it is dropped for (see the module docstring). `prompts`: the
    run's prompt set, checked for echoes with every shipped prompt text (eliminate/leaks.py)."""
    text = (evolved or "").strip()
    evolved_words = words(text)
    if not any(w not in STOP_WORDS for w in evolved_words):
        return Reason.PUNCTUATION_ONLY
    if _LEAK.search(text) or any(re.search(p, text, re.IGNORECASE) for p in cfg.leak_patterns):
        return Reason.LEAKED_TEMPLATE
    echoed = prompt_echo(prompts).echo(text)
    if echoed is not None:
        log.debug("leaked_template: the instruction repeats the prompt text %r", echoed)
        return Reason.LEAKED_TEMPLATE
    prose = _strip_quoted(text)
    if _REFUSAL_OPENER.search(prose):
        return Reason.REFUSAL
    if len(evolved_words) < cfg.refusal_max_words and _REFUSAL_ANYWHERE.search(prose):
        return Reason.REFUSAL
    if len(evolved_words) < cfg.min_words or len("".join(text.split())) < cfg.min_chars:
        return Reason.TOO_SHORT
    parent_words = words(parent_instruction or "")
    if parent_words:
        if parent_words == evolved_words:
            return Reason.COPIED_PARENT
        # a near-copy is fine when it adds real requirements ("about ten more words" grows a long
        # task by little in relative terms); it must add at least a few content words
        similarity, added = _similarity_and_added(parent_words, evolved_words)
        if similarity >= cfg.copy_similarity and added < cfg.min_new_words:
            return Reason.COPIED_PARENT
    return None


__all__ = ["STOP_WORDS", "heuristic_reason", "words"]
