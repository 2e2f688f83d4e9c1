"""Every reason a stage gives for keeping or dropping a task, and the verdicts of a task record: one list.

A `Reason` is the `drop` of a raw evolve/judge/solve/repair row, the `reason` of a sandbox verdict, of a
selection and of a `TaskRecord`, or a key of the "dropped" counters in stats.json. Both enums are
`str`-valued: a member is equal to its string and is written to JSON as that string, so the files hold plain
strings and rows read back compare equal to the members. Each reason carries the stage that gives it and what
it means; report.md's "Drop reasons" table is built from them.
"""

from __future__ import annotations

from enum import Enum

# the stages that give reasons, in the order a task meets them
INSTRUCTION = "evolved instruction"
LLM_CALL = "any LLM call"
SOLVE_ANSWER = "solve answer"
SANDBOX = "sandbox"
SELECTION = "selection"
DATASET = "dataset build"
OUTCOME = "not a drop"


class Reason(str, Enum):
    """Why a task, an answer or a program was kept or dropped (`stage`: where; `meaning`: what it says)."""

    stage: str
    meaning: str

    def __new__(cls, value: str, stage: str, meaning: str) -> Reason:
        member = str.__new__(cls, value)
        member._value_ = value
        member.stage = stage
        member.meaning = meaning
        return member

    # printed and formatted as the plain string (as `enum.StrEnum`, which needs Python 3.11)
    __str__ = str.__str__
    __format__ = str.__format__

    # heuristic rules on the evolved instruction (eliminate/rules.py), its length, the LLM judge
    PUNCTUATION_ONLY = ("punctuation_only", INSTRUCTION,
        "nothing left after removing punctuation and stop words")
    LEAKED_TEMPLATE = ("leaked_template", INSTRUCTION,
        ('the prompt leaked into the output: WizardLM\'s markers ("#Rewritten Prompt#", ...) or any shipped or '
         "configured prompt text echoed (8 words in a row, or a whole sentence)"))
    REFUSAL = ("refusal", INSTRUCTION,
        "the model apologised or refused instead of writing a task")
    TOO_SHORT = ("too_short", INSTRUCTION,
        'a very short answer ("Sure!", "Here it is:")')
    COPIED_PARENT = ("copied_parent", INSTRUCTION,
        "identical or near-identical to its parent (no information gain, by a cheap check)")
    TRUNCATED = ("truncated", INSTRUCTION,
        "the rewrite was cut inside the task by `evolve.evolve_max_tokens`: its end is missing, so "
        "its tests could not be checked against it; or a reasoning model's thinking was cut by the token "
        "limit (any answer: raise `llm.reasoning_budget`), so there is no answer")
    NO_ANSWER = ("no_answer", LLM_CALL,
        "a reasoning model stopped right after its thinking: there is no answer to parse (its thinking "
        "is kept in raw/ and never parsed instead)")
    NO_INFORMATION_GAIN = ("no_information_gain", INSTRUCTION,
        "the LLM judge found it equal to its parent")
    REQUEST_REJECTED = ("request_rejected", LLM_CALL,
        "the endpoint refused an evolve, judge, solve or repair request for good (e.g. HTTP 400: context "
        "length exceeded); the refusal is kept on the raw row and never asked again")
    # the solve answers (evolve/parsing.py, evolve/engine.py)
    NO_SOLUTION = ("no_solution", SOLVE_ANSWER,
        "the solve answer had no readable code")
    NO_TESTS = ("no_tests", SOLVE_ANSWER,
        "the solve answer had code but nothing recognisable as tests")
    TESTS_MISS_THE_TASK = ("tests_miss_the_task_function", SOLVE_ANSWER,
        "the task names the function(s) to write and the tests exercise only another function of "
        "the solution")
    # the programs run in the sandbox (eliminate/verify.py and the language builders)
    PASSED = ("passed", OUTCOME,
        "the solution passed its tests in the sandbox, and the tests fail on a broken solution")
    FAILED = ("failed", SANDBOX,
        "the code ran in the sandbox and did not pass (a failed test, a crash)")
    TIMEOUT = ("timeout", SANDBOX,
        "the program ran past its time limit")
    COMPILE_ERROR = ("compile_error", SANDBOX,
        "the solution or the tests do not compile (Python: do not parse)")
    NO_ASSERTS = ("no_asserts", SANDBOX,
        "the tests check nothing (no assertion, or no test that runs)")
    TESTS_CANNOT_FAIL = ("tests_cannot_fail", SANDBOX,
        "the chosen tests still pass with the solution broken (its entry point returning a default "
        "value)")
    INFRA_ERROR = ("infra_error", OUTCOME,
        "the endpoint or the sandbox broke: never counted as a bad sample; retried, or the parent "
        "was kept (`evolve.on_infra_error`)")
    # choosing one (solution, tests) pair of the n samples (evolve/selection.py)
    TOO_HARD = ("too_hard", SELECTION,
        "the share of sampled solutions passing the chosen tests is below `evolve.min_pass_rate`")
    TOO_EASY = ("too_easy", SELECTION,
        "the share of sampled solutions passing the chosen tests is above `evolve.max_pass_rate`")
    # building the dataset (data/dedupe.py, data/decontaminate.py)
    EXACT_DUPLICATE = ("exact_duplicate", DATASET,
        "the same instruction (normalised) as an earlier row")
    NEAR_DUPLICATE = ("near_duplicate", DATASET,
        "an instruction too similar to an earlier kept one (MinHash Jaccard of word shingles >= "
        "`dataset.near_duplicate_threshold`)")
    CONTAMINATED = ("contaminated", DATASET,
        "`contaminated:<suite>`: shares a long word sequence with a problem of that evaluation "
        "suite")
    SEED = ("seed", OUTCOME,
        "an input task, unevolved")


class TaskVerdict(str, Enum):
    """The verdict of a `TaskRecord` (its `reason` says why)."""

    __str__ = str.__str__
    __format__ = str.__format__

    PASSED = "passed"  # the evolved task's solution passed its tests in the sandbox: it goes to the dataset
    DROPPED = "dropped"  # eliminated (a rule, the judge, an unreadable answer, the sandbox): see its reason
    INFRA_ERROR = "infra_error"  # the LLM endpoint or the sandbox broke: not a judgement on the task
    SEED = "seed"  # an input task, unevolved


def contaminated(suite: str) -> str:
    """The dataset-build reason of a row that overlaps evaluation suite `suite`."""
    return f"{Reason.CONTAMINATED}:{suite}"


__all__ = ["Reason", "TaskVerdict", "contaminated"]
