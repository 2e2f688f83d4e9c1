"""Reasoning ("thinking") text apart from the answer, whatever wire style the teacher uses.

Reasoning models think before they answer, and servers hand the thinking back in one of two ways: in a field
of its own (`reasoning_content`: vLLM < 0.10, SGLang, llama.cpp `--reasoning-format deepseek`, DeepSeek's API;
`reasoning`: vLLM >= 0.10, Ollama, OpenRouter, gpt-oss servers), or inline in the text, when the server runs
no reasoning parser (vLLM without `--reasoning-parser`, llama.cpp `--reasoning-format none`, a raw
completions endpoint). `split_reasoning` finds the inline forms that vLLM's and llama.cpp's reasoning parsers
know:

* tag pairs: `<think>…</think>` (DeepSeek-R1, Qwen3/QwQ, GLM, MiniMax, Kimi K2, Hunyuan, ERNIE, Nemotron,
  OLMo 3, Granite 3.3), `<thinking>…</thinking>`, `<seed:think>…</seed:think>` (Seed-OSS), `[THINK]…[/THINK]`
  (Magistral), `<|START_THINKING|>…<|END_THINKING|>` (Cohere Command), `◁think▷…◁/think▷` (Kimi),
  `<|channel>…<channel|>` (Gemma 4's thought channel);
* gpt-oss's harmony channels: `<|channel|>analysis<|message|>…<|end|>` then `<|channel|>final<|message|>…`, and
  the same with the special tokens dropped (`analysis…assistantfinal…`);
* prose markers: Granite 3.2's "Here is my thought process: … Here is my response:", Apriel's "… [BEGIN FINAL
  RESPONSE] … [END FINAL RESPONSE]"; and the `<answer>…</answer>` / `<response>…</response>` wrappers some
  models put around the answer after their thinking.

What the scan copes with: a reply that starts inside the block (DeepSeek-R1's and Qwen3.5's templates put the
opening tag in the prompt, so only the closing one comes back), duplicated opening tags, nested blocks, several
blocks, and a block the token limit cut (`Split.complete` is False: the answer is missing and must not be parsed
from the thinking). A tag in the answer itself, e.g. in code about think tags, is left alone when it is quoted
or inside a code fence.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from wizardcoder.llm.base import Completion, estimate_tokens, truncate_at_stop

# (opening, closing) tags, most common first
TAG_PAIRS = (
    ("<think>", "</think>"),
    ("<thinking>", "</thinking>"),
    ("<seed:think>", "</seed:think>"),
    ("[THINK]", "[/THINK]"),
    ("<|START_THINKING|>", "<|END_THINKING|>"),
    ("◁think▷", "◁/think▷"),
    ("<|channel>", "<channel|>"),
)
_OPEN = {pair[0]: i for i, pair in enumerate(TAG_PAIRS)}
_CLOSE = {pair[1]: i for i, pair in enumerate(TAG_PAIRS)}
_TAG = re.compile("|".join(re.escape(t) for t in sorted([*_OPEN, *_CLOSE], key=len, reverse=True)))
_QUOTES = "\"'`"
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})", re.MULTILINE)

_HARMONY_MESSAGE = re.compile(
    r"<\|channel\|>\s*(?P<channel>\w+)[^<]*(?:<\|constrain\|>[^<]*)?<\|message\|>(?P<body>.*?)"
    r"(?=<\|end\|>|<\|return\|>|<\|call\|>|<\|start\|>|\Z)", re.DOTALL)
_HARMONY_BARE = re.compile(r"^\s*analysis(?P<reasoning>.*?)assistantfinal(?P<answer>.*)\Z", re.DOTALL)
_GRANITE = re.compile(r"^\s*(?:Here's|Here is) my thought process:(?P<reasoning>.*?)"
                      r"(?:(?:Here's|Here is) my response:(?P<answer>.*))?\Z", re.DOTALL)
_APRIEL_START = "Here are my reasoning steps:"
_APRIEL_FINAL, _APRIEL_END = "[BEGIN FINAL RESPONSE]", "[END FINAL RESPONSE]"
_WRAPPERS = (("<answer>", "</answer>"), ("<response>", "</response>"), ("<|START_RESPONSE|>", "<|END_RESPONSE|>"))
_END_TOKENS = ("<|return|>", "<|end|>", "<|im_end|>", "<|endoftext|>")


@dataclass(frozen=True)
class Split:
    """A reply taken apart. `answer` is what parsers may read; `reasoning` the thinking (never parsed);
    `complete` is False when a reasoning block was opened and never closed (the token limit cut the thinking:
    there is no answer); `marker` names the delimiter found ("" for none); `opened_in_prompt` says the reply
    began inside the block (its opening tag was in the prompt)."""

    answer: str
    reasoning: str = ""
    complete: bool = True
    marker: str = ""
    opened_in_prompt: bool = False

    @property
    def answer_missing(self) -> bool:
        """No answer to parse: the thinking was cut, or the model stopped right after it."""
        return not self.complete or (bool(self.marker) and not self.answer.strip())


def split_reasoning(text: str | None, starts_inside: bool = False) -> Split:
    """The answer and the reasoning in `text` (see the module docstring). `starts_inside`: this model's replies
    are known to begin inside a reasoning block (learned from an earlier reply that closed one it never
    opened), so a reply with no tag at all is thinking the token limit cut, not an answer."""
    text = text or ""
    if "<|channel|>" in text or "<|message|>" in text:
        return _harmony(text)
    bare = _HARMONY_BARE.match(text)
    if bare:
        return _finish(bare["answer"], bare["reasoning"], True, "analysis/assistantfinal")
    granite = _GRANITE.match(text)
    if granite:
        answer = granite["answer"]
        return _finish(answer or "", granite["reasoning"], answer is not None, "Here is my thought process:")
    if _APRIEL_FINAL in text or text.lstrip().startswith(_APRIEL_START):
        return _apriel(text)
    if not _TAG.search(text):
        if starts_inside and text.strip():
            return Split("", text, False, "(opened in the prompt)", True)
        return Split(_unwrap(text))
    return _scan_tags(text)


def _scan_tags(text: str) -> Split:
    answer: list[str] = []
    reasoning: list[str] = []
    pos = 0  # start of the text not yet assigned
    inside: int | None = None  # the family of the open block
    depth = 0
    block_start = 0
    last_close_in_block: tuple[int, int] | None = None  # (start, end) of the latest close within the open block
    marker = ""
    opened_in_prompt = False
    for match in _TAG.finditer(text):
        tag, start, end = match.group(), match.start(), match.end()
        if inside is None:
            if _literal(text, pos, start, end):
                continue
            if tag in _OPEN:
                answer.append(text[pos:start])
                inside, depth, block_start, last_close_in_block = _OPEN[tag], 1, end, None
                marker = marker or tag
                pos = end
            else:  # a close with no open: everything so far was thinking (opened in the prompt, or nested)
                opened_in_prompt = opened_in_prompt or (not marker and not reasoning)
                reasoning.extend(answer)
                reasoning.append(text[pos:start])
                answer.clear()
                marker = marker or tag
                pos = end
            continue
        family = _OPEN.get(tag, _CLOSE.get(tag))
        if family != inside:
            continue
        if tag in _OPEN:
            if text[pos:start].strip():  # a nested block (the same tag twice in a row is a duplicate)
                depth += 1
            continue
        depth -= 1
        last_close_in_block = (start, end)
        if depth == 0:
            reasoning.append(text[block_start:start])
            inside, pos = None, end
    complete = True
    if inside is not None:
        if last_close_in_block is not None:  # unbalanced nesting: the block ends at its last close
            close_start, close_end = last_close_in_block
            reasoning.append(text[block_start:close_start])
            answer.append(text[close_end:])
        else:
            reasoning.append(text[block_start:])  # cut inside its thinking: whatever came before is no answer
            complete = False
    else:
        answer.append(text[pos:])
    thinking = "\n".join(part.strip() for part in reasoning if part.strip())
    if marker == "<|channel>":  # Gemma 4 names its channel first
        thinking = thinking.removeprefix("thought\n")
    return _finish("".join(answer), thinking, complete, marker, opened_in_prompt)


def _literal(text: str, pos: int, start: int, end: int) -> bool:
    """A tag in answer text that is part of the answer: quoted ("</think>", `<think>`), or inside a code fence
    opened since `pos` and in the middle of a line (a model's delimiter ends its line: "</think>\n\n", so a
    draft's unclosed fence before it does not hide it)."""
    if 0 < start and end < len(text) and text[start - 1] in _QUOTES and text[end] == text[start - 1]:
        return True
    mid_line = bool(text[end:].split("\n", 1)[0].strip())
    return mid_line and len(_FENCE.findall(text[pos:start])) % 2 == 1  # sliced: `^` must match at `pos`


def _harmony(text: str) -> Split:
    answer: list[str] = []
    reasoning: list[str] = []
    for message in _HARMONY_MESSAGE.finditer(text):
        (answer if message["channel"] == "final" else reasoning).append(message["body"])
    if not answer and not reasoning:  # "<|message|>" with no channel: the text itself
        return Split(_unwrap(text))
    return _finish("".join(answer), "\n".join(reasoning), bool(answer), "<|channel|>analysis")


def _apriel(text: str) -> Split:
    head, found, tail = text.partition(_APRIEL_FINAL)
    head = head.strip().removeprefix(_APRIEL_START)
    if not found:
        return Split("", head.strip(), False, _APRIEL_START)
    answer = tail.split(_APRIEL_END, 1)[0]
    return _finish(answer.removesuffix("\n"), head, True, _APRIEL_FINAL)


def _finish(answer: str, reasoning: str, complete: bool, marker: str, opened_in_prompt: bool = False) -> Split:
    return Split(_unwrap(answer.lstrip()), reasoning.strip(), complete, marker, opened_in_prompt)


def _unwrap(answer: str) -> str:
    """The answer without end-of-turn tokens and an `<answer>`/`<response>` wrapper around all of it."""
    for token in _END_TOKENS:
        if answer.rstrip().endswith(token):
            answer = answer.rstrip()[: -len(token)]
    stripped = answer.strip()
    for opening, closing in _WRAPPERS:
        if stripped.startswith(opening) and (stripped.endswith(closing) or closing not in stripped):
            inner = stripped[len(opening):]
            return inner.removesuffix(closing)
    return answer


def with_answers(completion: Completion, stop: Sequence[str] = ()) -> Completion:
    """`completion` (whole model texts, from a local model or a script) with each text split: the answers in
    `texts`, the thinking in `reasonings`, the texts as generated in `raw_texts`."""
    if not completion.ok:
        return completion
    splits = [split_reasoning(t) for t in completion.texts]
    if not any(s.marker for s in splits):  # split_reasoning's own judgement, not a second list of markers
        return completion
    answers = [truncate_at_stop(s.answer, stop)[0] for s in splits]
    return dataclasses.replace(
        completion, texts=tuple(answers), reasonings=tuple(s.reasoning for s in splits),
        raw_texts=completion.texts, answer_missing=tuple(s.answer_missing for s in splits),
        reasoning_tokens=sum(estimate_tokens(s.reasoning) for s in splits))
