"""Constrained decoding for local models: a request's JSON schema (`Request.response_format`) enforced token by
token with xgrammar, so even a tiny model's answer is JSON of the schema.

The library: xgrammar compiles a schema once per tokenizer and masks logits on the CPU; lm-format-enforcer
0.11.3 does not import with transformers 5. Whether to constrain at all was measured
(benchmarks/bench_structured_embedded.py, README "Measured here"): the embedded SmolLM2-135M parses 7 of 8
markdown answers but only 1 of 8 under the JSON schema, so `llm.structured: auto` leaves local models
unconstrained; `json_schema` turns it on for a local model that does better with it. xgrammar is an optional
extra (`pip install 'wizardcoder[structured]'`): without it requests go unconstrained (one warning).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'wizardcoder[structured]'  (xgrammar)"


class SchemaConstraints:
    """Compiled schemas for one tokenizer; `processor(schema, rows)` gives the logits processor of one
    `generate` call whose rows all follow `schema`. `available` is False without xgrammar."""

    def __init__(self, tokenizer: Any, vocab_size: int):
        try:
            import xgrammar  # heavy (a native library): only when a local model gets a schema
        except ImportError:
            log.warning("llm.structured: xgrammar is not installed, so local answers are not constrained to the "
                        "schema (%s)", INSTALL_HINT)
            self.available = False
            return
        self._xgr = xgrammar
        info = xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
        self._compiler = xgrammar.GrammarCompiler(info)
        self._compiled: dict[str, Any] = {}
        self.available = True

    def processor(self, schema: Mapping[str, Any], rows: int) -> Any:
        key = json.dumps(schema["schema"], sort_keys=True)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compiler.compile_json_schema(key)
        from xgrammar.contrib.hf import LogitsProcessor

        return LogitsProcessor([compiled] * rows)
