"""Typed configs: dataclass sections; defaults < YAML file < `key=value` overrides.

Each setting is declared once, with `setting(default, help=..., choices=..., ge=..., ...)`: its help, its
allowed values and whether it changes what a run produces live on the field, and validation (`Settings`),
the CLI's `--help` (`flag_help`), `wizardcoder config show` (`describe`) and run fingerprints
(`fingerprint_fields`) all read them from there. Unknown keys are errors with a "did you mean" hint, so a typo
never silently does nothing. The resolved config is saved in every run directory, and its fingerprint keys
that directory.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml

from wizardcoder.errors import ConfigError

T = TypeVar("T")

_NO_DEFAULT: Any = dataclasses.MISSING


class SettingError(ConfigError, ValueError):
    """A setting's value is out of its allowed values or range; the message names the key."""


def setting(default: Any = _NO_DEFAULT, *, help: str, choices: Sequence[Any] | Callable[[], Sequence[Any]] | None = None,
            ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None,
            default_factory: Callable[[], Any] = _NO_DEFAULT, fingerprinted: bool = True) -> Any:
    """A config field that carries its own help and allowed values.

    `choices`: the allowed values (for a list, of each item), or a function returning them (a registry that
    may grow); `ge`/`gt`/`le`/`lt`: a numeric range (a None value is allowed where the type is optional);
    `fingerprinted=False`: left out of run fingerprints (it does not change what a run produces, or, like eval's
    time limits, results record it row by row), so another value resumes the same run.
    """
    metadata = {"help": help, "choices": choices, "ge": ge, "gt": gt, "le": le, "lt": lt,
                "fingerprinted": fingerprinted}
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={k: v for k, v in metadata.items() if v is not None})


class Settings:
    """Base of the config dataclasses: after `__init__`, every field is checked against its `setting`
    metadata, so a bad value fails the same way from YAML, an override, a flag or Python. `SECTION` is the
    key prefix errors name (e.g. "llm"); a subclass adds checks that involve several fields in its own
    `__post_init__`, after calling this one."""

    SECTION: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.metadata:
                _check(self.key(f.name), getattr(self, f.name), f.metadata, _hints(type(self))[f.name])

    @classmethod
    def key(cls, name: str) -> str:
        """The dotted key of field `name`, as configs and overrides write it."""
        return f"{cls.SECTION}.{name}" if cls.SECTION else name


def choices_of(metadata: Mapping[str, Any]) -> tuple[Any, ...] | None:
    choices = metadata.get("choices")
    if choices is None:
        return None
    return tuple(choices() if callable(choices) else choices)


def _hints(cls: type) -> dict[str, Any]:
    cached = cls.__dict__.get("_resolved_hints")
    if cached is None:
        cached = typing.get_type_hints(cls)
        cls._resolved_hints = cached  # type: ignore[attr-defined]
    return cached


def _check(key: str, value: Any, meta: Mapping[str, Any], hint: Any) -> None:
    optional = type(None) in typing.get_args(hint)
    if value is None and optional:
        return
    choices = choices_of(meta)
    if choices is not None:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item not in choices:
                close = difflib.get_close_matches(str(item), [str(c) for c in choices], n=1)
                hint_text = f" (did you mean {close[0]}?)" if close else ""
                raise SettingError(f"{key} must be one of {', '.join(map(str, choices))}, got {item!r}{hint_text}")
    bounds = [(op, meta[op]) for op in ("ge", "gt", "le", "lt") if op in meta]
    if not bounds:
        return
    items = isinstance(value, (list, tuple))
    scalar = typing.get_args(hint)[0] if items and typing.get_args(hint) else hint
    integer = scalar is int or int in typing.get_args(scalar)
    for item in value if items else [value]:
        number = isinstance(item, (int, float)) and not isinstance(item, bool)
        if not (number and (not integer or isinstance(item, int)) and all(_OPS[op](item, b) for op, b in bounds)):
            kind = ("integers" if integer else "numbers") if items else ("an integer" if integer else "a number")
            rule = " and ".join(f"{_SYMBOLS[op]} {bound:g}" for op, bound in bounds)
            got = f"{item!r} in {value!r}" if items else repr(value)
            raise SettingError(f"{key} must be {kind} {rule}{' or null' if optional else ''}, got {got}")


_OPS: dict[str, Callable[[float, float], bool]] = {
    "ge": lambda v, b: v >= b, "gt": lambda v, b: v > b, "le": lambda v, b: v <= b, "lt": lambda v, b: v < b}
_SYMBOLS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}

# keys that moved: where they live now and why (an old config gets this instead of "unknown key")
MOVED_KEYS = {
    "eliminate.timeout": ("sandbox.timeout", "one time limit for every program a stage runs, evolve and eval alike"),
    "eliminate.memory_mb": ("sandbox.memory_mb", "one memory limit for every program a stage runs"),
    **{f"eliminate.{key}": (f"dataset.{key}", "what may end up in the dataset has a section of its own")
       for key in ("near_duplicate_threshold", "shingle_size", "minhash_permutations", "decontaminate",
                   "decontaminate_ngram", "decontaminate_min_words", "decontaminate_suites", "decontaminate_paths")},
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
            shown = _show(value)
            raise ConfigError(f"{source}: {prefix}{key} is now {new} ({why}): write `{section}:\n  {name}: {shown}` "
                              f"(or the override {new}={shown}) instead")
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else f" (valid keys: {', '.join(fields)})"
            raise ConfigError(f"{source}: unknown key {prefix}{key}{hint}")
        kwargs[key] = _coerce(hints[key], value, source, f"{prefix}{key}")
    try:
        return cls(**kwargs)
    except SettingError as exc:  # it names its key already
        raise SettingError(f"{source}: {exc}") from exc
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


def fingerprint_fields(cfg: Any, leave_out: Mapping[str, Iterable[str]] | None = None) -> dict[str, Any]:
    """`cfg` as a dict of the settings that change what a run produces: without the fields declared with
    `fingerprinted=False`, nor the keys `leave_out` names (section -> keys) for one stage's own reasons.
    What run fingerprints are computed from, in every stage."""
    leave_out = {section: set(keys) for section, keys in (leave_out or {}).items()}

    def walk(obj: Any, section: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            if not f.metadata.get("fingerprinted", True) or f.name in leave_out.get(section, ()):
                continue
            value = getattr(obj, f.name)
            out[f.name] = walk(value, f.name) if dataclasses.is_dataclass(value) else copy.deepcopy(value)
        return out

    return walk(cfg, "")


def fingerprint(obj: Any, length: int = 10) -> str:
    """A short stable hash of a config (or any JSON-able part of one): it keys run directories."""
    if dataclasses.is_dataclass(obj):
        obj = dataclasses.asdict(obj)
    blob = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


# ---------------------------------------------------------------- help from the fields


@dataclasses.dataclass(frozen=True)
class SettingInfo:
    """What `setting(...)` declared for one key, with the default of the config class it belongs to."""

    key: str
    help: str
    default: Any
    choices: tuple[Any, ...] | None
    rule: str  # the range, e.g. ">= 1", or ""
    fingerprinted: bool


def describe(cls: type, key: str) -> SettingInfo:
    """The declaration of dotted `key` (e.g. "evolve.rounds") in config class `cls`."""
    node: Any = cls
    parts = key.split(".")
    for part in parts[:-1]:
        node = _hints(node)[part]
    f = {f.name: f for f in dataclasses.fields(node)}[parts[-1]]
    return _info(key, f)


def iter_settings(cfg: Any, prefix: str = "") -> Iterable[tuple[SettingInfo, Any]]:
    """Every leaf setting of config instance `cfg`, depth first: (its declaration, its value)."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            yield from iter_settings(value, f"{prefix}{f.name}.")
        else:
            yield _info(f"{prefix}{f.name}", f), value


def _info(key: str, f: dataclasses.Field) -> SettingInfo:
    meta = f.metadata
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        default = None
    rule = " and ".join(f"{_SYMBOLS[op]} {meta[op]:g}" for op in ("ge", "gt", "le", "lt") if op in meta)
    return SettingInfo(key, meta.get("help", ""), default, choices_of(meta), rule, meta.get("fingerprinted", True))


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def flag_help(cls: type, key: str, what: str | None = None) -> str:
    """A CLI flag's help from the setting it sets: its help (or `what`), its default and its key."""
    info = describe(cls, key)
    return f"{what or info.help} (default {_show(info.default)}; the setting {key})"


def flag_choices(cls: type, key: str) -> tuple[Any, ...] | None:
    return describe(cls, key).choices
