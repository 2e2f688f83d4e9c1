"""leaked_template on wizardcoder's own prompt texts: an evolved instruction that echoes any shipped prompt
(every method, every language, solve and judge) or the run's own prompt file is dropped, however its case and
line breaks changed; real tasks (the built-in seeds, the scripted model's evolutions) are kept."""

from __future__ import annotations

import importlib.resources
import json
import re

import pytest
import yaml

from sandbox import create_sandbox
from wizardcoder.config import load_config
from wizardcoder.data.store import read_jsonl
from wizardcoder.eliminate import EliminateConfig
from wizardcoder.eliminate.leaks import ECHO_WORDS, prompt_echo, shipped_texts
from wizardcoder.eliminate.rules import heuristic_reason
from wizardcoder.evolve import EvolveConfig, run_evolve
from wizardcoder.evolve.methods import BY_NAME
from wizardcoder.evolve.parsing import parse_evolved
from wizardcoder.evolve.prompts import load_prompts
from wizardcoder.evolve.seeds import builtin_seed_file
from wizardcoder.languages import LANGUAGES
from wizardcoder.llm.base import Request, request_text
from wizardcoder.reasons import Reason
from wizardcoder.testing.fake_llm import FakeClient
from wizardcoder.testing.scripted_evolve import scripted_reply

CFG = EliminateConfig()
PARENT = "Write a Python function that returns the sum of all even numbers in a list of integers."
TASK = ("Write a Python function `sum_even(nums)` that returns the sum of the even numbers of a list of integers; "
        "raise TypeError on an element that is not an int.")
SEEDS = [json.loads(line)["instruction"] for line in builtin_seed_file().read_text().splitlines() if line.strip()]


def test_the_issues_case_more_reasoning_verbatim_twice_is_a_leak():
    """Seen on a llama.cpp run: it passed leaked_template and went on to solve and the sandbox."""
    method = load_prompts("python").methods["more_reasoning"]
    evolved = f"{method}\n{method}\n\n{TASK}"
    assert heuristic_reason(PARENT, evolved, CFG) == Reason.LEAKED_TEMPLATE


def _prompt_pieces() -> list[tuple[str, str]]:
    """(where, text): every piece of shipped prompt text between placeholders, ECHO_WORDS words or longer."""
    pieces = []
    for index, text in enumerate(shipped_texts()):
        for piece in re.split(r"\{\w+\}", text):
            if len(re.findall(r"[A-Za-z0-9]+", piece)) >= ECHO_WORDS:
                pieces.append((f"text {index}: {piece.strip()[:40]}", piece))
    return pieces


@pytest.mark.parametrize("where, piece", _prompt_pieces(), ids=[w for w, _ in _prompt_pieces()])
def test_every_shipped_prompt_text_echoed_reflowed_and_recased_is_a_leak(where, piece):
    echoed = " ".join(piece.split()).upper()  # other line breaks, other case
    assert heuristic_reason(PARENT, f"{TASK}\n\n{echoed}", CFG) == Reason.LEAKED_TEMPLATE, where


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_languages_methods_and_solve_prompt_are_covered(lang):
    prompts = load_prompts(lang)
    texts = [*prompts.methods.values(), prompts.solve, prompts.evolve, prompts.breadth]
    for text in texts:
        filled = text.replace("{language}", prompts.language)
        long_enough = [p for p in re.split(r"\{\w+\}", filled) if len(p.split()) >= ECHO_WORDS]
        for part in long_enough:
            assert prompt_echo().echo(f"{TASK} {part}") is not None, part


def test_a_long_partial_overlap_is_a_leak_a_short_phrase_is_not():
    # 9 words of the in-breadth prompt ("Write a brand-new {language} programming task in the same domain as the
    # task below, ...")
    echoed = "It is a programming task in the same domain as the task below."
    assert heuristic_reason(PARENT, f"{TASK} {echoed}", CFG) == Reason.LEAKED_TEMPLATE
    # a few shared words are ordinary language
    assert heuristic_reason(PARENT, f"{TASK} Keep it in the same domain as the original.", CFG) is None


def test_a_short_whole_prompt_sentence_is_a_leak():
    assert heuristic_reason(PARENT, f"{TASK} Require a stricter time or space complexity.", CFG) \
        == Reason.LEAKED_TEMPLATE
    # the solve format's code comment is fair game for a task
    assert heuristic_reason(PARENT, f"{TASK} Then write assert statements that call your solution.", CFG) is None


def _custom_prompt_file(tmp_path):
    """The shipped Python prompts with a method text of the user's own."""
    data = yaml.safe_load((importlib.resources.files("wizardcoder.evolve.prompts") / "python.yaml").read_text())
    data["methods"]["add_constraints"] = ("Weave in a constraint about penguins counting fish on an Antarctic "
                                          "ice shelf at dawn.")
    path = tmp_path / "prompts.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_users_prompt_file_is_checked_too(tmp_path):
    prompts = load_prompts("python", _custom_prompt_file(tmp_path))
    evolved = (f"{TASK} Weave in a constraint about penguins counting fish on an Antarctic ice shelf at dawn.")
    assert heuristic_reason(PARENT, evolved, CFG) is None  # not shipped text
    assert heuristic_reason(PARENT, evolved, CFG, prompts) == Reason.LEAKED_TEMPLATE


def test_no_false_positive_on_the_seeds_and_the_scripted_evolutions():
    """Every built-in seed, and what the scripted test model makes of each seed with every method, in every
    language's prompts (the evolved tasks the tests' runs use)."""
    echo = prompt_echo()
    assert [s for s in SEEDS if echo.echo(s)] == []
    flagged = []
    for lang in LANGUAGES:
        prompts = load_prompts(lang)
        for seed in SEEDS:
            for method in BY_NAME:
                prompt = prompts.evolve_prompt(method, BY_NAME[method].kind, seed)
                reply = scripted_reply(Request(messages=({"role": "user", "content": prompt},), max_tokens=64))
                evolved = parse_evolved(reply)
                if heuristic_reason(seed, evolved, CFG, prompts) == Reason.LEAKED_TEMPLATE:
                    flagged.append(evolved)
    assert flagged == []


def test_an_evolve_run_drops_an_echo_of_its_own_prompt_file(tmp_path):
    """The engine hands the run's prompts to the rule: an echo of a method only the user's file has is dropped."""
    path = _custom_prompt_file(tmp_path)
    method = load_prompts("python", path).methods["add_constraints"]

    def reply(request):
        text = request_text(request)
        if "How: Weave in" in text:  # the custom method: echoed back before the task
            return f"{method}\n{TASK}"
        return scripted_reply(request)

    out = tmp_path / "run"
    cfg = load_config(EvolveConfig, None, [
        f"output.dir={out}", "seeds.limit=6", "evolve.rounds=1", "dataset.decontaminate=false",
        "output.report=false", "evolve.solve_samples=1", f"evolve.prompts={path}",
        "evolve.methods={add_constraints: 1}"])
    with create_sandbox("local") as sandbox:
        run_evolve(cfg, client=FakeClient(reply), sandbox=sandbox)
    reasons = [row["reason"] for row in read_jsonl(out / "records.jsonl")]
    assert reasons.count(Reason.LEAKED_TEMPLATE) >= 1, reasons
