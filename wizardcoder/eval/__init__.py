"""Evaluation: suites (HumanEval, MBPP, MultiPL-E C++/Java), generation, sandboxed execution, pass@k.

    from wizardcoder.eval import EvalConfig, run_eval, load_suite, Problem, pass_at_k
"""

from wizardcoder.eval.passk import mean_pass_at_k, pass_at_k
from wizardcoder.eval.problems import KNOWN_BROKEN, SUITES, Problem, load_suite

__all__ = ["KNOWN_BROKEN", "SUITES", "EvalConfig", "Problem", "load_suite", "mean_pass_at_k", "pass_at_k", "run_eval"]


def __getattr__(name: str):  # these pull in the LLM and sandbox packages: import them on first use
    if name == "EvalConfig":
        from wizardcoder.eval.config import EvalConfig

        return EvalConfig
    if name == "run_eval":
        from wizardcoder.eval.runner import run_eval

        return run_eval
    raise AttributeError(name)
