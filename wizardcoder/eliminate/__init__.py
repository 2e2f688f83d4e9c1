"""Eliminate: drop evolved tasks that fail cheap rules, add no information, or whose code does not pass.

Three layers, cheapest first:

- `rules.heuristic_reason`: text rules on the evolved instruction (WizardLM's elimination rules:
  refusals, leaked prompt templates, near-copies of the parent, empty or tiny texts);
- `judge`: an LLM asked whether parent and child are equal (no information gain);
- `execution.verify`: the solution and its tests run in the sandbox; only "passed" is kept, and an
  infrastructure error is never counted as a bad sample.

`EliminateConfig` (`eliminate/config.py`) is the `eliminate:` config section.
"""

from wizardcoder.eliminate.config import LANGUAGES, EliminateConfig

__all__ = ["LANGUAGES", "EliminateConfig"]
