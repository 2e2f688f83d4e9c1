"""The ONE prompt template shared by `train` and `eval`, so a model is evaluated as it was trained."""

from __future__ import annotations

# WizardCoder's Alpaca-style template (as in the WizardCoder paper's released models).
ALPACA_TEMPLATE = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    "\n\n### Instruction:\n{instruction}\n\n### Response:\n"
)


def render_prompt(instruction: str, template: str = "alpaca", tokenizer=None) -> str:
    """The prompt text the model sees before its response.

    `template="alpaca"` is WizardCoder's; `template="chat"` uses the tokenizer's own chat template
    (for instruction-tuned models that have one), with the generation prompt appended.
    """
    if template == "alpaca":
        return ALPACA_TEMPLATE.format(instruction=instruction.strip())
    if template == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("template 'chat' needs a tokenizer with a chat template; use template 'alpaca'")
        messages = [{"role": "user", "content": instruction.strip()}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    raise ValueError(f"unknown prompt template {template!r}: use 'alpaca' or 'chat'")


def render_example(instruction: str, response: str, template: str = "alpaca", tokenizer=None) -> tuple[str, str]:
    """(prompt, response) for training; the loss is taken on the response part only."""
    prompt = render_prompt(instruction, template, tokenizer)
    return prompt, response.strip()
