"""A deterministic scripted "model" for the evolve prompts: what `llm.provider: fake` answers them with.

It reads the shipped prompts (evolve, in-breadth, solve, and the judge's) and answers each with a
reply chosen by a hash of the prompt, so the same prompt always gets the same reply, in any order and
across restarts. The mix exercises every path of the pipeline: evolutions that pass, refusals,
copies of the parent, replies without tests, solutions that fail their tests.

For tests and demos of the pipeline only: it knows nothing about the tasks.
`WIZARDCODER_FAKE_DELAY` (seconds per reply) slows it down, for tests that kill a run midway.

`sampled_reply` is a second mode, for several solve samples per task: the solve answer depends on the
request's sampling seed too, and only some seeds get it right (see `_sampled_solve`). Both take a
`Request` (FakeClient) or an OpenAI request body (FakeOpenAIServer); `python -m wizardcoder.testing.scripted_evolve`
serves them over HTTP (benchmarks).

Both answer repair turns (evolve/repair.py: the solve request, the answer, a follow-up with the sandbox's
evidence): a share `fix_rate` of them (by hash of task, turn and seed) comes back fixed, the others repeat the
wrong answer. `sampled_teacher(fix_rate)` is the sampling model with another rate. The scripted model's only
repairable answers are right solutions with wrong tests: told to keep the tests, its fix makes the solution
agree with them; allowed to fix them, it fixes the tests.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import time

from wizardcoder.evolve.repair import KEEP_TESTS, REPAIR_PROMPT
from wizardcoder.evolve.structured import json_object
from wizardcoder.llm.base import Request, request_text
from wizardcoder.llm.config import register_provider
from wizardcoder.testing.fake_llm import FakeClient, echo_reply
from wizardcoder.testing.fake_server import FakeOpenAIServer, serve_until_interrupted

log = logging.getLogger(__name__)

FIX_RATE = 0.5  # the share of repair turns answered with a fix
_REPAIR_OPENING = REPAIR_PROMPT.split("\n", 1)[0]

EXTRA = {
    "add_constraints": ("The function must also reject invalid input by raising ValueError, and it must never "
                        "modify the list it was given."),
    "specific_requirement": "Instead of a plain list, the input arrives as a tuple of integers.",
    "more_reasoning": ("First validate the input, then compute the answer in two separate passes, then verify the "
                       "answer against the input before returning it."),
    "erroneous_code": "Here is a wrong attempt for reference: `def f(x): return x[0]`.",
    "higher_complexity": "The solution must run in O(n log n) time.",
}


def _h(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _task(prompt: str) -> str:
    match = re.search(r"^Task:\n(.*?)(?:\n\nWrite the solution|\Z)", prompt, re.DOTALL | re.MULTILINE)
    return match.group(1).strip() if match else prompt.strip()


def _prompt_and_seed(request) -> tuple[str, int | None]:
    """The text of a request (every turn of a conversation) and its sampling seed: a `Request` or an OpenAI
    request body."""
    if isinstance(request, dict):
        messages = request.get("messages")
        if messages:
            return "\n".join(str(m.get("content") or "") for m in messages), request.get("seed")
        prompt = request.get("prompt", "")
        return (prompt[0] if isinstance(prompt, list) and prompt else str(prompt)), request.get("seed")
    return request_text(request), request.seed


def _repair_turn(request) -> tuple[str, str | None, str, int] | None:
    """(the solve prompt, the last answer in the conversation (None in one completions prompt), the follow-up,
    the turn) of a repair request, or None for any other request."""
    messages = request.get("messages") if isinstance(request, dict) else request.messages
    if messages:
        last = str(messages[-1].get("content") or "")
        if len(messages) < 3 or not last.startswith(_REPAIR_OPENING):
            return None
        turn = sum(1 for m in messages if m.get("role") == "user") - 2
        return str(messages[0].get("content") or ""), str(messages[-2].get("content") or ""), last, turn
    text, _ = _prompt_and_seed(request)
    if _REPAIR_OPENING not in text:
        return None
    return text, None, text[text.rindex(_REPAIR_OPENING):], text.count(_REPAIR_OPENING) - 1


def _fixes(task: str, turn: int, seed: int | None, fix_rate: float) -> bool:
    return _h(f"{task}\x1frepair\x1f{turn}\x1f{seed}") % 1000 < fix_rate * 1000


def scripted_reply(request) -> str:
    """The scripted answer to one evolve-stage request (a `Request` or an OpenAI request body)."""
    delay = float(os.environ.get("WIZARDCODER_FAKE_DELAY", "0") or 0)
    if delay > 0:
        time.sleep(delay)
    repair = _repair_turn(request)
    if repair is not None:
        return _scripted_repair(repair, _prompt_and_seed(request)[1])
    prompt, _ = _prompt_and_seed(request)
    if "### Solution" in prompt and "### Tests" in prompt:
        return _solve(prompt)
    if "into a harder version" in prompt or "brand-new" in prompt:
        return _evolve(prompt)
    return "Not equal: the second task adds requirements."  # the judge: information was gained


def _evolve(prompt: str) -> str:
    parent = _task(prompt)
    pick = _h(prompt) % 20
    if pick == 0:
        return "I'm sorry, but I can't help with that."
    if pick == 1:
        return parent  # a copy: dropped as copied_parent
    if pick == 2:
        return "Sure!"
    if "brand-new" in prompt:
        return f"#New Task#:\nWrite a function that solves a rarer variant (#{_h(parent) % 997}) of: {parent}"
    method = next((m for m in EXTRA if m.replace("_", " ") in prompt), None)
    how = re.search(r"^How: (.*)$", prompt, re.MULTILINE)
    key = _method_from_how(how.group(1) if how else "") or method or "add_constraints"
    return f"New task: {parent} {EXTRA[key]}"


def _method_from_how(how: str) -> str | None:
    how = how.lower()
    for key, word in (("add_constraints", "constraints"), ("specific_requirement", "less common"),
                      ("more_reasoning", "reasoning"), ("erroneous_code", "erroneous"),
                      ("higher_complexity", "complexity")):
        if word in how:
            return key
    return None


def _scripted_repair(repair: tuple[str, str | None, str, int], seed: int | None) -> str:
    """A repair turn of the scripted model: fixed (by hash of the task and turn: `FIX_RATE`), or the same
    answer again. Its wrong answers have wrong tests: kept, the fix agrees with them; else the tests are fixed."""
    solve_prompt, _, asked, turn = repair
    if not _fixes(_task(solve_prompt), turn, None, FIX_RATE):
        return _solve(solve_prompt)
    return _solve(solve_prompt, fixed="to_tests" if KEEP_TESTS in asked else "tests")


def _solve(prompt: str, fixed: str | None = None) -> str:
    task = _task(prompt)
    first_line = prompt.split("\n", 1)[0]
    lang = "cpp" if "C++" in first_line else "java" if "Java" in first_line else "python"
    pick = _h(task) % 10
    n = _h(task) % 1000
    if pick == 0:
        return "This task is interesting. You should think about it carefully."
    to_tests = fixed == "to_tests" and pick == 2  # a solution that agrees with its wrong tests
    if lang == "python":
        solution = f"def sort_values_{n}(values):\n    return sorted(values{', reverse=True' if to_tests else ''})\n"
        good = f"assert sort_values_{n}([3, 1, 2]) == [1, 2, 3]\nassert sort_values_{n}([]) == []\n"
        bad = f"assert sort_values_{n}([3, 1, 2]) == [3, 2, 1]\n"
    elif lang == "cpp":
        solution = ("#include <algorithm>\n#include <vector>\n"
                    f"std::vector<int> sort_values_{n}(std::vector<int> v) {{\n"
                    f"    std::sort(v.{'rbegin(), v.rend()' if to_tests else 'begin(), v.end()'});\n    return v;\n}}\n")
        check = ("#include <cassert>\nint main() {\n    assert((sort_values_N({3, 1, 2}) == std::vector<int>{WANT}));\n"
                 "    return 0;\n}\n").replace("sort_values_N", f"sort_values_{n}")
        good, bad = check.replace("WANT", "1, 2, 3"), check.replace("WANT", "3, 2, 1")
    else:
        solution = f"class Solution {{\n    static int twice{n}(int x) {{ return 2 * x{' + 1' if to_tests else ''}; }}\n}}\n"
        good = ("class Main {\n    public static void main(String[] args) {\n"
                f"        assert Solution.twice{n}(2) == 4;\n    }}\n}}\n")
        bad = ("class Main {\n    public static void main(String[] args) {\n"
               f"        assert Solution.twice{n}(2) == 5;\n    }}\n}}\n")
    if pick == 1:
        return f"### Solution\n```{lang}\n{solution}```\n"  # no tests
    tests = bad if pick == 2 and fixed != "tests" else good
    return f"### Solution\n```{lang}\n{solution}```\n\n### Tests\n```{lang}\n{tests}```\n"


def pipeline_reply(request: Request) -> str:
    """The `llm.provider: fake` model: the scripted answer to an evolve, solve or judge prompt; any
    other request (an eval prompt, a smoke test) gets its last message or prompt back unchanged."""
    prompt = request_text(request)
    if _is_pipeline_prompt(prompt):
        return scripted_reply(request)
    return echo_reply(request)


def register_fake_provider() -> None:
    """Make `llm.provider: fake` a FakeClient answering the evolve prompts (`pipeline_reply`), for CLI tests
    and demos. Production code never imports this package: the tests call this (tests/conftest.py), and
    `python -m wizardcoder.testing <stage> ...` runs the CLI with it."""

    def create(cfg) -> FakeClient:
        log.warning("LLM: the FAKE client of wizardcoder.testing (scripted evolve answers, else an echo); "
                    "for tests and demos only")
        return FakeClient(pipeline_reply, keep_requests=False)

    register_provider("fake", create)


def _is_pipeline_prompt(prompt: str) -> bool:
    return (("### Solution" in prompt and "### Tests" in prompt) or "into a harder version" in prompt
            or "brand-new" in prompt or ("First instruction:" in prompt and "Second instruction:" in prompt))


def sampled_reply(request) -> str:
    """Like `scripted_reply`, but a Python solve answer is right only for some sampling seeds; a repair turn
    comes back fixed for a share `FIX_RATE` of them."""
    return _sampled(request, FIX_RATE, SAMPLED_KINDS)


def sampled_teacher(fix_rate: float = FIX_RATE, kinds: tuple[str, ...] | None = None):
    """`sampled_reply` fixing a share `fix_rate` of the wrong answers it is shown the failure of; `kinds`: the
    mix its solve answers are drawn from (default `SAMPLED_KINDS`)."""
    mix = kinds or SAMPLED_KINDS
    unknown = set(mix) - set(SAMPLED_KINDS)
    if unknown:
        raise ValueError(f"unknown answer kinds {sorted(unknown)}: use {', '.join(sorted(set(SAMPLED_KINDS)))}")

    def reply(request) -> str:
        return _sampled(request, fix_rate, mix)

    return reply


def _sampled(request, fix_rate: float, kinds: tuple[str, ...]) -> str:
    prompt, seed = _prompt_and_seed(request)
    repair = _repair_turn(request)
    if repair is not None:
        return _sampled_repair(repair, seed, fix_rate)
    if "### Solution" in prompt and "### Tests" in prompt and "Python" in prompt.split("\n", 1)[0]:
        task = _task(prompt)
        return _sampled_answer(task, sampled_kind(task, seed, kinds))
    if "into a harder version" in prompt or "brand-new" in prompt:
        return _evolve(prompt)
    return "Not equal: the second task adds requirements."


# What a sampled solve answer is, by hash of (task, seed): one in three right; the rest wrong in ways
# only other samples expose: a buggy solution with good tests, a good solution with wrong tests, or a
# buggy solution with tests that cannot fail (they pass even with the function broken).
SAMPLED_KINDS = ("right", "right", "buggy", "wrong_tests", "cannot_fail", "cannot_fail")


def sampled_kind(task: str, seed: int | None, kinds: tuple[str, ...] = SAMPLED_KINDS) -> str:
    return kinds[_h(f"{task}\x1f{seed}") % len(kinds)]


def _sampled_answer(task: str, kind: str) -> str:
    name = f"sort_values_{_h(task) % 1000}"
    right = f"def {name}(values):\n    return sorted(values)\n"
    buggy = f"def {name}(values):\n    return list(values)\n"
    good_tests = f"assert {name}([3, 1, 2]) == [1, 2, 3]\nassert {name}([]) == []\n"
    wrong_tests = f"assert {name}([3, 1, 2]) == [3, 2, 1]\n"
    weak_tests = f"assert len(str({name}([2, 1]))) >= 0\n"  # true whatever the function returns
    solution, tests = {"right": (right, good_tests), "buggy": (buggy, good_tests),
                       "wrong_tests": (right, wrong_tests), "cannot_fail": (buggy, weak_tests)}[kind]
    return f"### Solution\n```python\n{solution}```\n\n### Tests\n```python\n{tests}```\n"


def _sampled_repair(repair: tuple[str, str | None, str, int], seed: int | None, fix_rate: float) -> str:
    """Fixed (the right solution with good tests) for a share `fix_rate` of the turns, else the last answer
    again (as markdown where it was JSON), or a wrong one where the prompt does not hold it."""
    solve_prompt, last, _, turn = repair
    task = _task(solve_prompt)
    fixed = _fixes(task, turn, seed, fix_rate)
    if fixed or last is None:
        return _sampled_answer(task, "right" if fixed else "buggy")

    value = json_object(last)
    if value and isinstance(value.get("solution"), str) and isinstance(value.get("tests"), str):
        return (f"### Solution\n```python\n{value['solution'].strip()}\n```\n\n"
                f"### Tests\n```python\n{value['tests'].strip()}\n```\n")
    return last


def serve(argv: list[str] | None = None) -> int:
    """Serve `sampled_reply` (or `scripted_reply`) over the OpenAI API until interrupted (benchmarks)."""
    parser = argparse.ArgumentParser(description="The evolve-stage fake model behind a fake OpenAI server.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per completion request")
    parser.add_argument("--mode", choices=("sampled", "scripted"), default="sampled")
    parser.add_argument("--fix-rate", type=float, default=FIX_RATE, help="share of repair turns answered fixed")
    args = parser.parse_args(argv)
    reply = sampled_teacher(args.fix_rate) if args.mode == "sampled" else scripted_reply
    return serve_until_interrupted(FakeOpenAIServer(reply=reply, latency=args.latency, port=args.port))


if __name__ == "__main__":
    raise SystemExit(serve())
