"""`TransformersClient`: batched generation with a local transformers causal LM (+ an optional LoRA adapter).

Requests are pulled lazily from the input, `batch_size` rows at a time (a request with `n` samples
is `n` rows), grouped by sampling settings, left-padded and generated together. Chat requests go
through the tokenizer's chat template, plain prompts are used as given. Greedy when temperature is
0, sampled otherwise (seeded: `torch.manual_seed(request.seed)` where a request sets one, else the
client's seed once at load; batched sampling is reproducible for the same batches, not per row).
Stop sequences end a row as soon as they appear (a StoppingCriteria marks the row finished, and
generation ends when every row is), and the text is cut at the first one.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from wizardcoder.llm.base import (
    Completion,
    LLMClient,
    LLMError,
    ProgressFn,
    Request,
    Usage,
    UsageCounter,
    truncate_at_stop,
)
from wizardcoder.llm.constrained import SchemaConstraints
from wizardcoder.llm.reasoning import with_answers

log = logging.getLogger(__name__)


def resolve_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise LLMError(f"llm.device={device!r} but torch sees no CUDA GPU; use device 'cpu' or 'auto'")
    return device


def _has_tokenizer(path: str | None) -> bool:
    return bool(path) and Path(path).is_dir() and (Path(path) / "tokenizer_config.json").is_file()  # type: ignore[arg-type]


def load_model_and_tokenizer(
    model_path: str,
    adapter: str | None = None,
    gguf_file: str | None = None,
    device: str = "cpu",
    dtype: Any = None,
    merge_adapter: bool = True,
) -> tuple[Any, Any]:
    """(model on `device` in eval mode, tokenizer). The adapter's own tokenizer wins where it saved one."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype is None:
        dtype = (
            (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
            if device.startswith("cuda")
            else torch.float32
        )
    extra = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        tok_source = adapter if _has_tokenizer(adapter) else model_path
        tokenizer = AutoTokenizer.from_pretrained(tok_source, **({} if tok_source == adapter else extra))
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype, **extra)
    except OSError as exc:
        raise LLMError(
            f"cannot load the model at {model_path}{' (' + gguf_file + ')' if gguf_file else ''}: {exc}. "
            "Pass a local model directory (config.json + weights) or a .gguf file"
        ) from exc
    if adapter:
        try:
            from peft import PeftModel
        except ImportError as exc:
            raise LLMError("an adapter needs peft: pip install 'wizardcoder[local]'") from exc
        if not (Path(adapter) / "adapter_config.json").is_file():
            raise LLMError(f"{adapter} is not a peft adapter directory (no adapter_config.json)")
        model = PeftModel.from_pretrained(model, adapter)
        if merge_adapter:
            model = model.merge_and_unload()  # plain weights: generation runs at base-model speed
        log.info("loaded adapter %s%s", adapter, " (merged)" if merge_adapter else "")
    model.to(device).eval()
    return model, tokenizer


class _StopCriteria:
    """Per-row stopping: a row is done once one of its stop strings shows up in its generated text, or
    it produced its own max_tokens. Returns one bool per row, so generate() ends when all rows are done."""

    def __init__(
        self, tokenizer: Any, prompt_len: int, stops: Sequence[tuple[str, ...]], max_tokens: Sequence[int]
    ):
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.stops = stops
        self.max_tokens = max_tokens
        self.window = max((len(s) for row in stops for s in row), default=0) + 8
        self.done = [False] * len(stops)

    def __call__(self, input_ids: Any, scores: Any = None, **kwargs: Any) -> Any:
        import torch

        generated = input_ids.shape[1] - self.prompt_len
        for row, stops in enumerate(self.stops):
            if self.done[row]:
                continue
            if generated >= self.max_tokens[row]:
                self.done[row] = True
            elif stops:
                tail = input_ids[row, max(self.prompt_len, input_ids.shape[1] - self.window) :]
                text = self.tokenizer.decode(tail, skip_special_tokens=True)
                self.done[row] = any(s in text for s in stops)
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)


class TransformersClient(LLMClient):
    """A local causal LM. Pass `model_path` (+ `gguf_file`, `adapter`) to load one, or `model=` and
    `tokenizer=` already loaded (tests, the embedded model)."""

    name = "transformers"

    def __init__(
        self,
        model_path: str | None = None,
        adapter: str | None = None,
        gguf_file: str | None = None,
        *,
        model: Any = None,
        tokenizer: Any = None,
        batch_size: int = 8,
        device: str = "auto",
        dtype: Any = None,
        seed: int = 0,
        merge_adapter: bool = True,
        num_threads: int | None = None,
        constrained: bool = False,
    ):
        import torch

        if (num_threads is None and device in ("auto", "cpu") and not torch.cuda.is_available()
                and "OMP_NUM_THREADS" not in os.environ):
            # CPU generation shares the machine with the sandbox's workers: leave them half the cores
            num_threads = max(1, (os.cpu_count() or 2) // 2)
        if num_threads is not None:
            # Process-wide. On a shared CPU, fewer threads than cores avoids OpenMP spin-wait collapse
            # (measured: 2 threads on 2 busy cores ran ~20x slower than 1). OMP_NUM_THREADS does the same.
            torch.set_num_threads(num_threads)

        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.device = resolve_device(device)
        if model is None:
            if model_path is None:
                raise ValueError("TransformersClient needs model_path or model= and tokenizer=")
            model, tokenizer = load_model_and_tokenizer(
                model_path, adapter, gguf_file, self.device, dtype, merge_adapter
            )
        elif tokenizer is None:
            raise ValueError("pass tokenizer= with model=")
        else:
            model.to(self.device).eval()
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.seed = seed
        torch.manual_seed(seed)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        eos: set[int] = set()
        for source in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
            if isinstance(source, int):
                eos.add(source)
            elif source:
                eos.update(source)
        self.eos_ids = sorted(eos)
        self._usage = UsageCounter()
        # requests with a JSON schema are decoded under it (constrained.py); else the schema is ignored
        self.constrained = constrained
        self._constraints: Any = None

    @property
    def usage(self) -> Usage:
        return self._usage.snapshot()

    def close(self) -> None:
        self.model = None

    # ---------------------------------------------------------------- prompts
    def encode(self, request: Request) -> list[int]:
        tok = self.tokenizer
        if request.messages is not None:
            if not getattr(tok, "chat_template", None):
                raise LLMError(
                    "this model's tokenizer has no chat template: send prompt= requests "
                    "(e.g. llm.api=completions, llm.template=alpaca) instead of chat messages"
                )
            text = tok.apply_chat_template(
                [dict(m) for m in request.messages], tokenize=False, add_generation_prompt=True
            )
            return tok(text, add_special_tokens=False)["input_ids"]
        # A prompt already rendered through a chat template may carry the BOS text itself: do not add a second.
        has_bos = bool(tok.bos_token) and request.prompt.startswith(tok.bos_token)
        return tok(request.prompt, add_special_tokens=not has_bos)["input_ids"]

    # ---------------------------------------------------------------- generation
    def generate(
        self, requests: Iterable[Request], progress: ProgressFn | None = None
    ) -> Iterator[tuple[int, Completion]]:
        if self.model is None:
            raise LLMError("this TransformersClient is closed")
        source = enumerate(requests)
        while True:
            chunk: list[tuple[int, Request]] = []
            rows = 0
            for index, request in source:
                chunk.append((index, request))
                rows += request.n
                if rows >= self.batch_size:
                    break
            if not chunk:
                return
            for index, completion in self._run_chunk(chunk):
                if progress is not None:
                    progress(completion)
                yield index, completion

    def _run_chunk(self, chunk: list[tuple[int, Request]]) -> list[tuple[int, Completion]]:
        def key(item: tuple[int, Request]) -> tuple:
            r = item[1]
            schema = _schema_key(r.response_format) if self.constrained else ""
            return ((0.0, 1.0, None) if r.temperature == 0 else (float(r.temperature), float(r.top_p), r.seed)) + (
                schema,)

        out: list[tuple[int, Completion]] = []
        for _, group in itertools.groupby(sorted(chunk, key=lambda it: (str(key(it)), it[0])), key=key):
            items = list(group)
            encoded = {index: self.encode(request) for index, request in items}
            rows = [(index, request) for index, request in items for _ in range(request.n)]
            results: dict[int, list[tuple[str, str, int]]] = {index: [] for index, _ in items}
            for start in range(0, len(rows), self.batch_size):
                part = rows[start : start + self.batch_size]
                for (index, _), result in zip(part, self._generate_rows([(encoded[i], r) for i, r in part])):
                    results[index].append(result)
            for index, request in items:
                texts, reasons, counts = zip(*results[index])
                completion = with_answers(Completion(tuple(texts), tuple(reasons), len(encoded[index]), sum(counts),
                                                     structured=self._constrains(request)))
                self._usage.add(
                    requests=1,
                    prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.completion_tokens,
                    reasoning_tokens=completion.reasoning_tokens,
                )
                out.append((index, completion))
        return out

    def _constrains(self, request: Request) -> bool:
        """Whether `request` is decoded under its JSON schema."""
        if not (self.constrained and request.response_format is not None):
            return False
        if self._constraints is None:
            self._constraints = SchemaConstraints(self.tokenizer, self.model.config.vocab_size)
        return self._constraints.available

    def _generate_rows(self, rows: list[tuple[list[int], Request]]) -> list[tuple[str, str, int]]:
        """Left-pad the rows, generate once, and return (text, finish_reason, completion_tokens) per row."""
        import torch
        from transformers import GenerationConfig, StoppingCriteriaList

        tok = self.tokenizer
        width = max(len(ids) for ids, _ in rows)
        pad = tok.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids, _ in rows], device=self.device)
        attention = torch.tensor(
            [[0] * (width - len(ids)) + [1] * len(ids) for ids, _ in rows], device=self.device
        )
        first = rows[0][1]
        max_new = max(r.max_tokens for _, r in rows)
        criteria = _StopCriteria(tok, width, [r.stop for _, r in rows], [r.max_tokens for _, r in rows])
        sampled = first.temperature > 0
        config = GenerationConfig(
            max_new_tokens=max_new,
            do_sample=sampled,
            pad_token_id=pad,
            eos_token_id=self.eos_ids or None,
            **(
                {"temperature": float(first.temperature), "top_p": float(first.top_p), "top_k": 0}
                if sampled
                else {}
            ),
        )
        if sampled and first.seed is not None:
            torch.manual_seed(first.seed)
        extra: dict[str, Any] = {}
        if self._constrains(first):
            extra["logits_processor"] = [self._constraints.processor(first.response_format, len(rows))]
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                generation_config=config,
                stopping_criteria=StoppingCriteriaList([criteria]),
                **extra,
            )
        results = []
        eos = set(self.eos_ids)
        for row, (_, request) in enumerate(rows):
            generated = output[row, width:].tolist()[: request.max_tokens]
            hit_eos = False
            for pos, token in enumerate(generated):
                if token in eos:
                    generated, hit_eos = generated[:pos], True
                    break
            text, stopped = truncate_at_stop(tok.decode(generated, skip_special_tokens=True), request.stop)
            reason = "stop" if (stopped or hit_eos) else "length"
            results.append((text, reason, len(generated)))
        return results


def _schema_key(response_format: Any) -> str:
    """Rows of one `generate` call share one schema (or none)."""
    return json.dumps(response_format["schema"], sort_keys=True) if response_format else ""
