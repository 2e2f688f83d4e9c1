"""Heuristic elimination rules on real-looking evolved instructions, each reason and its false-positive guards."""

from __future__ import annotations

import pytest

from wizardcoder.eliminate import EliminateConfig
from wizardcoder.eliminate.rules import heuristic_reason

CFG = EliminateConfig()
PARENT = "Write a Python function that returns the sum of all even numbers in a list of integers."
GOOD = (
    "Write a Python function `sum_even(nums)` that returns the sum of all even numbers in a list of integers. "
    "The list may contain negative numbers and may be empty (return 0 then). Raise a TypeError when an element "
    "is not an integer; booleans do not count as integers. The function must run in O(n) time."
)


def test_a_real_evolution_is_kept():
    assert heuristic_reason(PARENT, GOOD, CFG) is None


@pytest.mark.parametrize("text", [
    "Sure, here you go:",
    "Reverse it.",
    "Done.",
    "Sort the list.",
])
def test_very_short_answers_are_too_short(text):
    assert heuristic_reason(PARENT, text, CFG) == "too_short"


@pytest.mark.parametrize("text", [
    "I'm sorry, but I cannot increase the difficulty of this question any further.",
    "Sorry, I can't help with that.",
    "As an AI language model, I cannot rewrite this prompt without more context.",
    "I apologize, but the prompt is already as difficult as it can reasonably be made.",
    "Unfortunately, I am unable to make this task harder while keeping it solvable.",
    "The task is fine as it is. I'm sorry, but I cannot make it more complex.",
])
def test_refusals(text):
    assert heuristic_reason(PARENT, text, CFG) == "refusal"


def test_a_long_refusal_that_opens_the_text_is_still_a_refusal():
    text = "I'm sorry, but I cannot do that. " + "This prompt is already difficult enough for its audience. " * 12
    assert heuristic_reason(PARENT, text, CFG) == "refusal"


@pytest.mark.parametrize("text", [
    # "sorry" inside a string literal is task content: kept (decided and documented in rules.py)
    'Write a function `check_stock(item, inventory)` that returns "Sorry, this item is out of stock" when the '
    "item's count is zero, and otherwise returns the count as an integer. Handle unknown items by raising KeyError.",
    "Implement a customer-support bot class in Python with a method `reply(message)` that answers "
    "'Sorry to hear that!' whenever the message contains the word 'broken', and echoes the message otherwise.",
    # a long task that mentions an apology in prose, but does not open with one
    "Design a text-classification helper. " + "Given a list of customer messages, label each as complaint, "
    "praise or question; messages such as I am sorry to bother you but my order is late count as complaints. " * 3,
])
def test_sorry_inside_a_task_is_not_a_refusal(text):
    assert heuristic_reason(PARENT, text, CFG) is None


@pytest.mark.parametrize("text", [
    "#Rewritten Prompt#: Write a Python function that sums the even numbers of a list, ignoring negatives.",
    "Here is the rewritten prompt: write a Python function that returns the sum of even numbers, in O(n).",
    "The given prompt asks for a sum of evens; now also require the function to handle nested lists of ints.",
    "#Given Prompt# Write a Python function that returns the sum of all even numbers in a list.",
    "Please increase the difficulty of the given programming test question a bit: sum of even numbers.",
    "Write a function for {question} that handles edge cases such as empty input and very large values.",
    # echoes of wizardcoder's own evolve prompt
    "Rewrite the programming task below into a harder version: sum the even numbers of a list of integers.",
    "Write a Python function that sums even numbers. Reply with the new task only. Do not solve it.",
    "Add new constraints and requirements to the task, about ten more words: the sum of even numbers.",
])
def test_leaked_templates(text):
    assert heuristic_reason(PARENT, text, CFG) == "leaked_template"


def test_extra_leak_patterns_from_config():
    cfg = EliminateConfig(leak_patterns=[r"#\s*Method\s*#"])
    text = "#Method# Add a constraint: the input list may hold up to one million integers and must run in O(n)."
    assert heuristic_reason(PARENT, text, CFG) is None
    assert heuristic_reason(PARENT, text, cfg) == "leaked_template"


@pytest.mark.parametrize("text", ["", "   ", "...", "?!?!", "--- *** ---", "the of and to a", "Ok, so, well..."])
def test_punctuation_and_stop_words_only(text):
    assert heuristic_reason(PARENT, text, CFG) == "punctuation_only"


@pytest.mark.parametrize("text", [
    PARENT,
    "  write a python function that returns the SUM of all even numbers in a list of integers  ",
    "Write a Python function that returns the sum of all even numbers in a list of integers!",
    "Write a Python function that returns the sum of all of the even numbers in a list of integers.",
])
def test_copies_of_the_parent(text):
    assert heuristic_reason(PARENT, text, CFG) == "copied_parent"


def test_copy_threshold_is_configurable():
    text = "Write a Python function that returns the sum of all even numbers in a list of floats or integers."
    assert heuristic_reason(PARENT, text, CFG) == "copied_parent"
    assert heuristic_reason(PARENT, text, EliminateConfig(copy_similarity=0.99)) is None


def test_a_seed_without_parent_is_not_a_copy():
    assert heuristic_reason("", PARENT, CFG) is None


def test_a_short_but_complete_task_is_kept():
    assert heuristic_reason("Add two numbers.", "Write a function that reverses a singly linked list.", CFG) is None


def test_a_long_task_with_about_ten_new_words_is_not_a_copy():
    # the paper's "add about ten more words" barely moves the similarity of a long task
    parent = " ".join([PARENT] * 4)
    evolved = parent + " The function must also ignore negative values and run in linear time overall."
    assert heuristic_reason(parent, evolved, CFG) is None
    assert heuristic_reason(parent, parent + " Also be quick.", CFG) == "copied_parent"
