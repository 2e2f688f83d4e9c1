"""Method choice: by weight, seeded per (seed, round, task id), independent of order; prompts per language."""

from __future__ import annotations

from collections import Counter

import pytest

from wizardcoder.errors import ConfigError
from wizardcoder.evolve.methods import BY_NAME, METHODS, choose_method, default_weights, validate_weights
from wizardcoder.evolve.prompts import LANGUAGES, fill, load_prompts


def test_the_paper_methods_and_in_breadth_are_there():
    assert [m.name for m in METHODS if m.kind == "depth"] == [
        "add_constraints", "specific_requirement", "more_reasoning", "erroneous_code", "higher_complexity"]
    assert [m.name for m in METHODS if m.kind == "breadth"] == ["in_breadth"]
    weights = default_weights()
    assert weights["higher_complexity"] < min(w for name, w in weights.items() if name != "higher_complexity")


def test_choice_follows_the_weights():
    weights = {"add_constraints": 3.0, "in_breadth": 1.0, "erroneous_code": 0.0, "more_reasoning": 0.0}
    counts = Counter(choose_method(weights, 0, 1, f"task-{i}") for i in range(4000))
    assert set(counts) == {"add_constraints", "in_breadth"}  # a zero weight is never chosen
    assert 0.72 < counts["add_constraints"] / 4000 < 0.78  # expected 0.75; sd ~0.007


def test_choice_is_a_function_of_seed_round_and_task():
    weights = default_weights()
    first = [choose_method(weights, 7, 2, f"t{i}") for i in range(200)]
    again = [choose_method(weights, 7, 2, f"t{i}") for i in reversed(range(200))][::-1]
    assert first == again
    reordered = dict(reversed(list(weights.items())))  # YAML key order does not matter
    assert [choose_method(reordered, 7, 2, f"t{i}") for i in range(200)] == first
    assert [choose_method(weights, 8, 2, f"t{i}") for i in range(200)] != first
    assert [choose_method(weights, 7, 3, f"t{i}") for i in range(200)] != first


@pytest.mark.parametrize("weights, message", [
    ({"add_constrains": 1.0}, "did you mean add_constraints"),
    ({"add_constraints": -1.0}, ">= 0"),
    ({"add_constraints": 0.0, "in_breadth": 0}, "at least one"),
])
def test_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        validate_weights(weights)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_has_every_prompt(lang):
    prompts = load_prompts(lang)
    assert set(prompts.methods) == {m.name for m in METHODS if m.kind == "depth"}
    task = "Write `f(x)` returning {x: 1} for a dict."  # braces in the task survive
    for method in BY_NAME.values():
        text = prompts.evolve_prompt(method.name, method.kind, task)
        assert task in text and "{" + "instruction}" not in text and "{method}" not in text
        assert "{language}" not in text and prompts.language in text
    solve = prompts.solve_prompt(task)
    assert task in solve and "### Solution" in solve and "### Tests" in solve and f"```{prompts.fence}" in solve


def test_a_custom_prompt_file(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("language: Python\nfence: python\nevolve: x\n")
    with pytest.raises(ConfigError, match="missing key"):
        load_prompts("python", bad)
    with pytest.raises(ConfigError, match="not found"):
        load_prompts("python", tmp_path / "nope.yaml")


def test_fill_leaves_other_braces():
    assert fill("int main() { {x} }", x="1") == "int main() { 1 }"
