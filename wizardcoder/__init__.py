"""wizardcoder: Code Evol-Instruct made real: evolve, verify by execution, train, evaluate."""

__version__ = "0.1.0"
