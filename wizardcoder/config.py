"""Typed configs: dataclass sections; defaults < YAML file < `key=value` overrides.

Unknown keys are errors with a "did you mean" hint, so a typo never silently does nothing.
The resolved config is saved in every run directory, and its fingerprint keys that directory.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from wizardcoder.errors import ConfigError

T = TypeVar("T")

# keys that moved: where they live now and why (an old config gets this instead of "unknown key")
MOVED_KEYS = {
    "eliminate.timeout": ("sandbox.timeout", "one time limit for every program a stage runs, evolve and eval alike"),
    "eliminate.memory_mb": ("sandbox.memory_mb", "one memory limit for every program a stage runs"),
}


def load_config(cls: type[T], path: str | Path | None = None, overrides: Iterable[str] = ()) -> T:
    """Build `cls` from its defaults, then the YAML file at `path`, then `a.b=value` overrides."""
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path} (pass an existing YAML file, e.g. configs/)")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(loaded).__name__}")
        data = loaded
        source = str(path)
    overrides = list(overrides)
    for item in overrides:
        _apply_override(data, item)
    if overrides:
        source = f"{source} + overrides"
    return _build(cls, data, source, prefix="")


def _apply_override(data: dict[str, Any], item: str) -> None:
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form section.key=value (e.g. evolve.rounds=3)")
    dotted, raw = item.split("=", 1)
    keys = dotted.strip().split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {item!r}: {key!r} is not a section")
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    node[keys[-1]] = value


def _build(cls: type[T], data: Any, source: str, prefix: str) -> T:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'config'} must be a mapping, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if f"{prefix}{key}" in MOVED_KEYS:
            new, why = MOVED_KEYS[f"{prefix}{key}"]
            section, name = new.split(".")
            raise ConfigError(f"{source}: {prefix}{key} is now {new} ({why}): write `{section}:\n  {name}: {value}` "
                              f"(or the override {new}={value}) instead")
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else f" (valid keys: {', '.join(fields)})"
            raise ConfigError(f"{source}: unknown key {prefix}{key}{hint}")
        kwargs[key] = _coerce(hints[key], value, source, f"{prefix}{key}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'config'}: {exc}") from exc


def _coerce(hint: Any, value: Any, source: str, key: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, source, prefix=f"{key}.")
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, source, key)
            except ConfigError:
                continue
        raise ConfigError(f"{source}: {key}={value!r} does not fit type {hint}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            value = [value]
        inner = args[0] if args else Any
        items = [_coerce(inner, v, source, key) for v in value]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {key} must be a mapping, got {value!r}")
        vt = args[1] if len(args) == 2 else Any
        return {str(k): _coerce(vt, v, source, f"{key}.{k}") for k, v in value.items()}
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: {key} must be true or false, got {value!r}")
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        try:  # YAML 1.1 reads `1e-4` (no dot) as a string
            return float(value)
        except ValueError:
            pass
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(hint, type) and isinstance(value, hint):
        return value
    raise ConfigError(f"{source}: {key} must be {getattr(hint, '__name__', hint)}, got {value!r}")


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))


def fingerprint(obj: Any, length: int = 10) -> str:
    """A short stable hash of a config (or any JSON-able part of one): it keys run directories."""
    if dataclasses.is_dataclass(obj):
        obj = dataclasses.asdict(obj)
    blob = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]
