"""Test doubles, kept out of the production packages: real components that stand in for the outside.

`fake_llm.FakeClient` (the whole `LLMClient` interface, scripted replies; `llm.provider: fake` once
`scripted_evolve.register_fake_provider()` ran, as in the tests and `python -m wizardcoder.testing <stage> ...`),
`scripted_evolve` (a deterministic "model" that answers the evolve prompts, for pipeline tests and
demos), `fake_server.FakeOpenAIServer` (a real HTTP server speaking the OpenAI API, with faults).
"""
