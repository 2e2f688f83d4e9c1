"""A deterministic scripted "model" for the evolve prompts: what `llm.provider: fake` answers them with.

It reads the shipped prompts (evolve, in-breadth, solve, and the judge's) and answers each with a
reply chosen by a hash of the prompt, so the same prompt always gets the same reply, in any order and
across restarts. The mix exercises every path of the pipeline: evolutions that pass, refusals,
copies of the parent, replies without tests, solutions that fail their tests.

For tests and demos of the pipeline only: it knows nothing about the tasks.
`WIZARDCODER_FAKE_DELAY` (seconds per reply) slows it down, for tests that kill a run midway.

`sampled_reply` is a second mode, for several solve samples per task: the solve answer depends on the
request's sampling seed too, and only some seeds get it right (see `_sampled_solve`). It takes a
`Request` (FakeClient) or an OpenAI request body (FakeOpenAIServer); `python -m wizardcoder.testing.scripted_evolve`
serves it over HTTP (benchmarks).
"""

from __future__ import annotations

import hashlib
import os
import re
import time

from wizardcoder.llm.base import Request, request_text

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


def scripted_reply(request: Request) -> str:
    """The scripted answer to one evolve-stage request."""
    delay = float(os.environ.get("WIZARDCODER_FAKE_DELAY", "0") or 0)
    if delay > 0:
        time.sleep(delay)
    prompt = request_text(request)
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


def _solve(prompt: str) -> str:
    task = _task(prompt)
    first_line = prompt.split("\n", 1)[0]
    lang = "cpp" if "C++" in first_line else "java" if "Java" in first_line else "python"
    pick = _h(task) % 10
    n = _h(task) % 1000
    if pick == 0:
        return "This task is interesting. You should think about it carefully."
    if lang == "python":
        solution = f"def sort_values_{n}(values):\n    return sorted(values)\n"
        good = f"assert sort_values_{n}([3, 1, 2]) == [1, 2, 3]\nassert sort_values_{n}([]) == []\n"
        bad = f"assert sort_values_{n}([3, 1, 2]) == [3, 2, 1]\n"
    elif lang == "cpp":
        solution = ("#include <algorithm>\n#include <vector>\n"
                    f"std::vector<int> sort_values_{n}(std::vector<int> v) {{\n"
                    "    std::sort(v.begin(), v.end());\n    return v;\n}\n")
        check = ("#include <cassert>\nint main() {\n    assert((sort_values_N({3, 1, 2}) == std::vector<int>{WANT}));\n"
                 "    return 0;\n}\n").replace("sort_values_N", f"sort_values_{n}")
        good, bad = check.replace("WANT", "1, 2, 3"), check.replace("WANT", "3, 2, 1")
    else:
        solution = f"class Solution {{\n    static int twice{n}(int x) {{ return 2 * x; }}\n}}\n"
        good = ("class Main {\n    public static void main(String[] args) {\n"
                f"        assert Solution.twice{n}(2) == 4;\n    }}\n}}\n")
        bad = ("class Main {\n    public static void main(String[] args) {\n"
               f"        assert Solution.twice{n}(2) == 5;\n    }}\n}}\n")
    if pick == 1:
        return f"### Solution\n```{lang}\n{solution}```\n"  # no tests
    tests = bad if pick == 2 else good
    return f"### Solution\n```{lang}\n{solution}```\n\n### Tests\n```{lang}\n{tests}```\n"


def pipeline_reply(request: Request) -> str:
    """The `llm.provider: fake` model: the scripted answer to an evolve, solve or judge prompt; any
    other request (an eval prompt, a smoke test) gets its last message or prompt back unchanged."""
    prompt = request_text(request)
    if _is_pipeline_prompt(prompt):
        return scripted_reply(request)
    from wizardcoder.testing.fake_llm import echo_reply

    return echo_reply(request)


def _is_pipeline_prompt(prompt: str) -> bool:
    return (("### Solution" in prompt and "### Tests" in prompt) or "into a harder version" in prompt
            or "brand-new" in prompt or ("First instruction:" in prompt and "Second instruction:" in prompt))


def sampled_reply(request) -> str:
    """Like `scripted_reply`, but a Python solve answer is right only for some sampling seeds."""
    if isinstance(request, dict):  # an OpenAI request body, as FakeOpenAIServer passes it
        from wizardcoder.testing.fake_server import body_text

        prompt, seed = body_text(request), request.get("seed")
    else:
        prompt, seed = request_text(request), request.seed
    if "### Solution" in prompt and "### Tests" in prompt and "Python" in prompt.split("\n", 1)[0]:
        return _sampled_solve(prompt, seed)
    if "into a harder version" in prompt or "brand-new" in prompt:
        return _evolve(prompt)
    return "Not equal: the second task adds requirements."


# What a sampled solve answer is, by hash of (task, seed): one in three right; the rest wrong in ways
# only other samples expose: a buggy solution with good tests, a good solution with wrong tests, or a
# buggy solution with tests that cannot fail (they pass even with the function broken).
SAMPLED_KINDS = ("right", "right", "buggy", "wrong_tests", "cannot_fail", "cannot_fail")


def sampled_kind(task: str, seed: int | None) -> str:
    return SAMPLED_KINDS[_h(f"{task}\x1f{seed}") % len(SAMPLED_KINDS)]


def _sampled_solve(prompt: str, seed: int | None) -> str:
    task = _task(prompt)
    name = f"sort_values_{_h(task) % 1000}"
    kind = sampled_kind(task, seed)
    right = f"def {name}(values):\n    return sorted(values)\n"
    buggy = f"def {name}(values):\n    return list(values)\n"
    good_tests = f"assert {name}([3, 1, 2]) == [1, 2, 3]\nassert {name}([]) == []\n"
    wrong_tests = f"assert {name}([3, 1, 2]) == [3, 2, 1]\n"
    weak_tests = f"assert len(str({name}([2, 1]))) >= 0\n"  # true whatever the function returns
    solution, tests = {"right": (right, good_tests), "buggy": (buggy, good_tests),
                       "wrong_tests": (right, wrong_tests), "cannot_fail": (buggy, weak_tests)}[kind]
    return f"### Solution\n```python\n{solution}```\n\n### Tests\n```python\n{tests}```\n"


def serve(argv: list[str] | None = None) -> int:
    """Serve `sampled_reply` (or `scripted_reply`) over the OpenAI API until interrupted (benchmarks)."""
    import argparse

    from wizardcoder.testing.fake_server import FakeOpenAIServer, serve_until_interrupted

    parser = argparse.ArgumentParser(description="The evolve-stage fake model behind a fake OpenAI server.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per completion request")
    parser.add_argument("--mode", choices=("sampled", "scripted"), default="sampled")
    args = parser.parse_args(argv)
    if args.mode == "sampled":
        reply = sampled_reply
    else:
        def reply(body):
            from wizardcoder.llm import Request
            from wizardcoder.testing.fake_server import body_text

            return scripted_reply(Request(prompt=body_text(body)))
    return serve_until_interrupted(FakeOpenAIServer(reply=reply, latency=args.latency, port=args.port))


if __name__ == "__main__":
    raise SystemExit(serve())
