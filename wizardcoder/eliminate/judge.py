"""LLM judge for "no information gain": are the parent and the evolved instruction equal?

WizardLM drops an evolution when an LLM judges it equal to its parent, i.e. it has the same
constraints and requirements and the same depth and breadth. `equivalence_request` builds that
question; `parse_equivalence` reads the answer. An answer that cannot be read keeps the sample
(False): a judge that rambles must not delete data.
"""

from __future__ import annotations

import re

from wizardcoder.llm import Request

EQUIVALENCE_PROMPT = """\
Below are two instructions given to an AI assistant. Decide whether they are equal, meaning BOTH:
1. They have the same constraints and requirements.
2. They have the same depth and breadth of inquiry.

First instruction:
<<<
{parent}
>>>

Second instruction:
<<<
{evolved}
>>>

Your judgement (answer only "Equal" or "Not Equal", no explanation):"""


def equivalence_request(parent: str, evolved: str) -> Request:
    """The judge request for one (parent, evolved) pair: greedy, short answer."""
    content = EQUIVALENCE_PROMPT.format(parent=parent.strip(), evolved=evolved.strip())
    return Request(messages=({"role": "user", "content": content},), max_tokens=32, temperature=0.0)


# The options echoed back from the prompt are not an answer.
_ECHO = re.compile(r"\bequal\b\W{0,3}\s*or\s*\W{0,3}not\s+equal\b|\bnot\s+equal\b\W{0,3}\s*or\s*\W{0,3}equal\b")
_NOT_EQUAL = re.compile(
    r"\bnot\s+(?:exactly\s+|quite\s+)?(?:equal|equivalent|identical|the\s+same)\b|\bunequal\b|\bnon-?equal\b"
    r"|\bdiffer(?:ent|s)?\b|\bisn'?t\s+(?:equal|the\s+same)\b|\baren'?t\s+(?:equal|the\s+same)\b"
)
_EQUAL = re.compile(r"\bequal\b|\bequivalent\b|\bidentical\b|\bthe\s+same\b")
_ANSWER_LABEL = re.compile(r"(?:judg(?:e)?ment|answer|verdict|conclusion|result)\s*[:\-]", re.IGNORECASE)
_YES_NO = re.compile(r"^\W*(yes|no)\b")


def _verdict(text: str) -> bool | None:
    """True equal, False not equal, None no verdict; the earliest decisive phrase wins."""
    neg = _NOT_EQUAL.search(text)
    pos = _EQUAL.search(text)
    while pos and neg and neg.start() <= pos.start() < neg.end():  # "equal" inside "not equal"
        pos = _EQUAL.search(text, neg.end())
    if neg and (not pos or neg.start() <= pos.start()):
        return False
    if pos:
        return True
    return None


def parse_equivalence(text: str) -> bool:
    """True when the judge says the two instructions are equal (drop: `Reason.NO_INFORMATION_GAIN`)."""
    if not text:
        return False
    lowered = _ECHO.sub(" ", text.lower().replace("*", " ").replace("_", " "))
    labels = list(_ANSWER_LABEL.finditer(lowered))
    if labels:  # the last "Judgement:" / "Answer:" label is where the verdict is
        label = labels[-1]
        verdict = _verdict(lowered[label.end():])
        if verdict is not None:
            return verdict
    verdict = _verdict(lowered)
    if verdict is not None:
        return verdict
    yes_no = _YES_NO.match(lowered)
    if yes_no:  # "do you think they are equal?" -> "Yes."
        return yes_no.group(1) == "yes"
    return False


__all__ = ["EQUIVALENCE_PROMPT", "equivalence_request", "parse_equivalence"]
