"""Code Evol-Instruct: evolve seed tasks with an LLM into an execution-verified instruction dataset.

    from wizardcoder.config import load_config
    from wizardcoder.evolve import EvolveConfig, run_evolve
    result = run_evolve(load_config(EvolveConfig, "configs/evolve_python.yaml"))
    print(result.run_dir, result.stats["totals"])

Modules: `methods` (the evolution methods, as data), `prompts/` (the words, per language),
`parsing` (model text -> fields), `seed_loader` (load seed tasks; the built-in sets are `seeds/`),
`rounds` (the loop: each round's passes run by `engine` and `sandbox_stage`), `dataset_builder` (the
passing tasks -> the dataset), `rundir` (append-only files, resume), `report` (stats.json and
report.md), `config`, `command` (the CLI). Its scripted test model is `wizardcoder.testing.scripted_evolve`.
"""

from wizardcoder.evolve.config import EvolveConfig
from wizardcoder.evolve.rounds import EvolveResult, run_evolve

__all__ = ["EvolveConfig", "EvolveResult", "run_evolve"]
