"""Is an evolved instruction the project's own prompt text, echoed back? ("leaked_template")

A model asked to rewrite a task sometimes copies the prompt's method text into it ("If the task can be
solved with only a few logical steps, add requirements that need more reasoning steps." at the head of
the new task). The check compares the instruction with every prompt text a run can send: the shipped
prompt files of every language (evolve, in-breadth, solve and each method's text, whatever keys a
`PromptSet` holds), the judge's question, the repair turn's words, the descriptions in the structured
answers' schemas, and the run's own prompt file (`evolve.prompts`).

Texts are compared as lowercase word sequences (case, punctuation and line breaks do not count). Each
template is cut at its `{placeholders}`: the values filled in there (the parent task) are not prompt
text. An instruction echoes a prompt when it holds

- a run of `ECHO_WORDS` (8) consecutive words of a prompt text, or
- a whole prompt sentence of at least `SENTENCE_WORDS` (6) words ("Reply with the new task only."),

sentences with a placeholder and those in the templates' code fences (the solve format's
`# assert statements that call your solution`, which a task may well ask for) excepted. Shorter shared phrases ("the task below",
"a harder version") are ordinary words, never a leak on their own.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from wizardcoder.eliminate.judge import EQUIVALENCE_PROMPT
from wizardcoder.languages import LANGUAGES

ECHO_WORDS = 8
SENTENCE_WORDS = 6

_WORD = re.compile(r"[a-z0-9]+")
_PLACEHOLDER = re.compile(r"\{[A-Za-z_]+\}")
_SENTENCE_END = re.compile(r"[.!?:;\n]+")
_FENCED = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
_NOT_PROMPT_TEXT = frozenset({"language", "fence", "source"})  # PromptSet fields that are names, not prompts


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.lower()))


class PromptEcho:
    """The prompt texts of a run, indexed for `echo(instruction)`."""

    def __init__(self, texts: Iterable[str]):
        self.grams: set[tuple[str, ...]] = set()
        self.sentences: dict[int, set[tuple[str, ...]]] = {}  # length -> whole prompt sentences
        for text in texts:
            for segment in _PLACEHOLDER.split(text):
                words = _words(segment)
                self.grams.update(words[i:i + ECHO_WORDS] for i in range(len(words) - ECHO_WORDS + 1))
            for sentence in _SENTENCE_END.split(_FENCED.sub("\n", text)):
                words = _words(sentence)
                # a sentence with a placeholder is no whole sentence of prompt text; a longer one is in `grams`
                if SENTENCE_WORDS <= len(words) < ECHO_WORDS and not _PLACEHOLDER.search(sentence):
                    self.sentences.setdefault(len(words), set()).add(words)

    def echo(self, instruction: str) -> str | None:
        """The prompt words `instruction` repeats (for the log), or None."""
        words = _words(instruction)
        for i in range(len(words) - ECHO_WORDS + 1):
            if words[i:i + ECHO_WORDS] in self.grams:
                return " ".join(words[i:i + ECHO_WORDS])
        for length, sentences in self.sentences.items():
            for i in range(len(words) - length + 1):
                if words[i:i + length] in sentences:
                    return " ".join(words[i:i + length])
        return None


def prompt_texts(prompts: Any) -> list[str]:
    """Every prompt text of a `PromptSet` (each str field and each text of a mapping field, e.g. `methods`), with
    `{language}` filled in as it is when sent ("erroneous Python code", one run of words)."""
    texts: list[str] = []
    for f in dataclasses.fields(prompts):
        value = getattr(prompts, f.name)
        if f.name in _NOT_PROMPT_TEXT:
            continue
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, Mapping):
            texts += [v for v in value.values() if isinstance(v, str)]
    return [text.replace("{language}", prompts.language) for text in texts]


@functools.lru_cache(maxsize=1)
def shipped_texts() -> tuple[str, ...]:
    """The prompt texts wizardcoder ships: every language's prompt file, the judge's question, the repair turn's
    words and the descriptions in the structured answers' JSON schemas."""
    # imported here: wizardcoder.evolve's package loads the whole loop, which imports this package
    from wizardcoder.evolve import repair, structured
    from wizardcoder.evolve.prompts import load_prompts

    texts = [EQUIVALENCE_PROMPT, repair.REPAIR_PROMPT, repair.KEEP_TESTS, repair.MAY_FIX_TESTS]
    texts += _descriptions([structured.EVOLVE_SCHEMA, structured.SOLVE_SCHEMA])
    for lang in LANGUAGES:
        texts += prompt_texts(load_prompts(lang))
    return tuple(texts)


def _descriptions(value: Any) -> list[str]:
    """Every "description" string in a JSON schema (nested dicts and lists)."""
    if isinstance(value, Mapping):
        own = [value["description"]] if isinstance(value.get("description"), str) else []
        return own + [d for v in value.values() for d in _descriptions(v)]
    if isinstance(value, list):
        return [d for v in value for d in _descriptions(v)]
    return []


def prompt_echo(prompts: Any = None) -> PromptEcho:
    """The shipped prompts' index, with the texts of `prompts` (a run's own `PromptSet`) added."""
    return _echo(shipped_texts() + (tuple(prompt_texts(prompts)) if prompts is not None else ()))


@functools.lru_cache(maxsize=8)
def _echo(texts: tuple[str, ...]) -> PromptEcho:
    return PromptEcho(dict.fromkeys(texts))  # a run's own prompts are mostly the shipped ones: each once


__all__ = ["ECHO_WORDS", "SENTENCE_WORDS", "PromptEcho", "prompt_echo", "prompt_texts", "shipped_texts"]
