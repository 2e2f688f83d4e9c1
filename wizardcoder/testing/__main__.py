"""`python -m wizardcoder.testing <stage> ...`: the `wizardcoder` command with the test doubles registered
(`llm.provider: fake`), for CLI tests and demos that need no model."""

import sys

from wizardcoder.cli import main
from wizardcoder.testing.scripted_evolve import register_fake_provider

register_fake_provider()
sys.exit(main())
