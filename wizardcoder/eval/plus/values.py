"""Python values <-> JSON, exactly enough for EvalPlus's inputs and outputs, and a digest for huge ones.

STANDARD LIBRARY ONLY and free of wizardcoder imports: this file's source is also pasted into the
programs that run in the sandbox (see harness.py), so the host and the sandbox share one codec.

JSON has no tuple, set, complex, bytes, non-string dict key, inf or nan; EvalPlus's values have all of
them. Encoding (`encode`) keeps the types that `==` tells apart:

    None, bool, str, list, small int, finite float  ->  themselves
    tuple {"T": [...]}   set {"S": [...]}   frozenset {"Z": [...]}   dict {"D": [[k, v], ...]}
    complex {"C": [re, im]}   bytes {"B": latin-1 text}   big int {"I": hex}   inf/nan {"F": "inf"}
    anything else {"O": type name}: decodes to an `Opaque`, equal to nothing (a generator, a re.Match)

Subclasses of the builtin types become the builtin (a namedtuple a tuple, a Counter a dict), which is
what `==` against the builtin compares anyway. Decoding (`decode`) is for data from the sandbox too:
it builds builtin values only and raises ValueError on anything malformed; it never runs code.

`digest` is a hash under which values that are `==` collide (1 == 1.0 == True, {1, 2} == frozenset({2, 1})):
outputs too large to carry are compared by it, exactly (no float tolerance).
"""

# ruff: noqa: TRY004  -- decode() raises ValueError for any malformed data, as json does

import json
import math

MAX_DEPTH = 200
VALUE_CAP = 32 * 1024  # characters of JSON: a larger value is carried as its digest
_SAFE_INT = 2 ** 53


class TooLarge(Exception):
    """The value's encoding would pass its size budget."""


class Opaque:
    """A value the codec cannot carry (a generator, a match object, an instance of the model's class)."""

    __slots__ = ("type_name",)

    def __init__(self, type_name):
        self.type_name = type_name

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = object.__hash__

    def __repr__(self):
        return f"<{self.type_name} object>"


def carry(value, cap=VALUE_CAP):
    """What crosses a process boundary: {"v": encoded value} when its JSON fits in `cap` characters, else
    {"d": digest}."""
    budget = [cap]
    try:
        data = encode(value, 0, budget)
    except (TooLarge, RecursionError, MemoryError):
        return {"d": digest(value)}
    return {"v": data} if len(json.dumps(data)) <= cap else {"d": digest(value)}


def encode(value, depth=0, budget=None):
    """`value` as JSON-able data (see the module doc). `budget`: [characters left], TooLarge past it."""
    if budget is not None:
        budget[0] -= len(value) + 2 if isinstance(value, (str, bytes, bytearray)) else 8
        if budget[0] < 0:
            raise TooLarge
    if depth > MAX_DEPTH:
        return {"O": f"a value nested deeper than {MAX_DEPTH} levels"}
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        value = int.__int__(value)
        return value if -_SAFE_INT < value < _SAFE_INT else {"I": hex(value)}
    if isinstance(value, float):
        value = float.__float__(value)
        return value if math.isfinite(value) else {"F": repr(value)}
    d = depth + 1
    if isinstance(value, list):
        return [encode(v, d, budget) for v in list.__iter__(value)]
    if isinstance(value, tuple):
        return {"T": [encode(v, d, budget) for v in tuple.__iter__(value)]}
    if isinstance(value, dict):
        return {"D": [[encode(k, d, budget), encode(v, d, budget)] for k, v in dict.items(value)]}
    if isinstance(value, frozenset):
        return {"Z": [encode(v, d, budget) for v in frozenset.__iter__(value)]}
    if isinstance(value, set):
        return {"S": [encode(v, d, budget) for v in set.__iter__(value)]}
    if isinstance(value, complex):
        return {"C": [encode(complex.__getattribute__(value, "real")), encode(complex.__getattribute__(value, "imag"))]}
    if isinstance(value, (bytes, bytearray)):
        return {"B": bytes(value).decode("latin-1")}
    return {"O": type(value).__name__}


def decode(data, depth=0):
    """The value `data` (from `encode`) stands for; ValueError when it is not such data."""
    if depth > MAX_DEPTH + 1:
        raise ValueError("nested too deep")
    if data is None or isinstance(data, (bool, str)):
        return data
    if isinstance(data, (int, float)):
        return data
    d = depth + 1
    if isinstance(data, list):
        return [decode(v, d) for v in data]
    if not isinstance(data, dict) or len(data) != 1:
        raise ValueError(f"not an encoded value: {data!r:.80}")
    (tag, body), = data.items()
    try:
        if tag == "T":
            return tuple(decode(v, d) for v in _as_list(body))
        if tag == "S":
            return {decode(v, d) for v in _as_list(body)}
        if tag == "Z":
            return frozenset(decode(v, d) for v in _as_list(body))
        if tag == "D":
            return {decode(k, d): decode(v, d) for k, v in (_pair(p) for p in _as_list(body))}
        if tag == "C":
            re_, im = _as_list(body)
            return complex(_number(decode(re_, d)), _number(decode(im, d)))
        if tag == "B" and isinstance(body, str):
            return body.encode("latin-1")
        if tag == "I" and isinstance(body, str):
            return int(body, 16)
        if tag == "F" and body in ("inf", "-inf", "nan"):
            return float(body)
        if tag == "O" and isinstance(body, str):
            return Opaque(body[:200])
    except TypeError as exc:  # an unhashable set member or dict key
        raise ValueError(str(exc)) from None
    raise ValueError(f"not an encoded value: {data!r:.80}")


def _as_list(body):
    if not isinstance(body, list):
        raise ValueError(f"a list was expected, not {body!r:.80}")
    return body


def _pair(p):
    if not isinstance(p, list) or len(p) != 2:
        raise ValueError(f"a [key, value] pair was expected, not {p!r:.80}")
    return p


def _number(x):
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ValueError(f"a number was expected, not {x!r:.80}")
    return x


def digest(value):
    """A hex digest equal for values that are `==` (see the module doc); computed without building the
    whole encoding in memory."""
    import hashlib  # here: loading it costs every sandbox program, and few outputs need a digest

    h = hashlib.sha256()
    _feed(h, value, 0)
    return h.hexdigest()


def _feed(h, value, depth):
    if depth > MAX_DEPTH:
        h.update(b"?deep;")
        return
    d = depth + 1
    if value is None:
        h.update(b"N;")
    elif isinstance(value, (bool, int, float, complex)):
        h.update(_number_key(value))
    elif isinstance(value, str):
        b = str.__str__(value).encode("utf-8", "surrogatepass")
        h.update(b"s%d:" % len(b))
        h.update(b)
    elif isinstance(value, (bytes, bytearray)):
        h.update(b"b%d:" % len(value))
        h.update(bytes(value))
    elif isinstance(value, list):
        h.update(b"[")
        for v in list.__iter__(value):
            _feed(h, v, d)
        h.update(b"]")
    elif isinstance(value, tuple):
        h.update(b"(")
        for v in tuple.__iter__(value):
            _feed(h, v, d)
        h.update(b")")
    elif isinstance(value, dict):  # order-free: the sorted digests of the members
        h.update(b"{D")
        for p in sorted(_sub(k, d) + _sub(v, d) for k, v in dict.items(value)):
            h.update(p)
        h.update(b"}")
    elif isinstance(value, (set, frozenset)):
        h.update(b"{S")
        for p in sorted(_sub(v, d) for v in value):
            h.update(p)
        h.update(b"}")
    else:
        h.update(b"O%s;" % type(value).__name__.encode())


def _sub(value, depth):
    import hashlib

    s = hashlib.sha256()
    _feed(s, value, depth)
    return s.digest()


def _number_key(x):
    """Equal numbers give equal bytes (1 == 1.0 == True == 1+0j)."""
    if isinstance(x, complex):
        re_, im = complex.__getattribute__(x, "real"), complex.__getattribute__(x, "imag")
        if im != 0 or math.isnan(im):
            return b"c" + _number_key(re_) + _number_key(im)
        x = re_
    if isinstance(x, float):
        if math.isfinite(x) and float.is_integer(x):
            x = int(x)
        else:
            return b"f" + repr(float.__float__(x)).encode() + b";"
    return b"i" + hex(int.__int__(x)).encode() + b";"
