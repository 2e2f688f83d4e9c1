"""Prompt files, one per target language (package data): `python.yaml`, `cpp.yaml`, `java.yaml`.

Loaded through `wizardcoder.evolve.prompts.load_prompts(lang)`; a user can point
`evolve.prompts` at their own YAML file with the same keys.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from wizardcoder.errors import ConfigError
from wizardcoder.languages import LANGUAGES  # one prompt file each

REQUIRED = ("language", "fence", "evolve", "breadth", "solve", "methods")


@dataclass(frozen=True)
class PromptSet:
    """The words sent to the model for one target language."""

    language: str  # the name the model reads ("Python", "C++", "Java")
    fence: str  # the code fence tag (python, cpp, java)
    evolve: str  # in-depth template: {method}, {instruction}, {language}
    breadth: str  # in-breadth template: {instruction}, {language}
    solve: str  # solution + tests template: {instruction}, {language}
    methods: Mapping[str, str]  # in-depth method name -> the instruction that names the method
    source: str = ""

    def evolve_prompt(self, method: str, kind: str, instruction: str) -> str:
        if kind == "breadth":
            return fill(self.breadth, instruction=instruction, language=self.language)
        if method not in self.methods:
            raise ConfigError(f"{self.source}: no prompt for method {method!r} under `methods:`")
        text = fill(self.methods[method], language=self.language)
        return fill(self.evolve, method=text, instruction=instruction, language=self.language)

    def solve_prompt(self, instruction: str) -> str:
        return fill(self.solve, instruction=instruction, language=self.language)


def fill(template: str, **values: str) -> str:
    """Replace `{name}` placeholders; other braces (code in the template or values) are left alone."""
    out = template
    for name, value in values.items():
        out = out.replace("{" + name + "}", value)
    return out


def load_prompts(lang: str, path: str | Path | None = None) -> PromptSet:
    """The shipped prompts for `lang`, or the YAML file at `path`."""
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"evolve.prompts: prompt file not found: {path}")
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        if lang not in LANGUAGES:
            raise ConfigError(f"evolve.lang: no shipped prompts for {lang!r}; use one of {', '.join(LANGUAGES)}")
        resource = importlib.resources.files(__name__) / f"{lang}.yaml"
        text, source = resource.read_text(encoding="utf-8"), f"wizardcoder/evolve/prompts/{lang}.yaml"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: must be a mapping with keys {', '.join(REQUIRED)}")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ConfigError(f"{source}: missing key(s) {', '.join(missing)}")
    unknown = sorted(set(data) - set(REQUIRED))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)} (valid: {', '.join(REQUIRED)})")
    if not isinstance(data["methods"], dict):
        raise ConfigError(f"{source}: `methods` must map method names to text")
    return PromptSet(
        language=str(data["language"]), fence=str(data["fence"]), evolve=str(data["evolve"]),
        breadth=str(data["breadth"]), solve=str(data["solve"]),
        methods={str(k): str(v) for k, v in data["methods"].items()}, source=source,
    )
