"""How an output is judged against the expected one: EvalPlus's rules, written anew from reading its
evaluator (evalplus/eval/__init__.py and _special_oracle.py, releases 0.2.x and 0.3.x).

STANDARD LIBRARY ONLY (no numpy): this file's source is pasted into the sandbox programs after
values.py's. numpy's `np.testing.assert_allclose` (0.2.x) and `np.allclose` (0.3.x) are reimplemented
for the values they meet here: numbers and rectangular nested lists/tuples of numbers.

Per input, in order (one `Checker` per phase: its tolerance is sticky, as in evalplus, where a float
expected output turns a tolerance of 0 into 1e-6 for the rest of the inputs):
1. exact = out == expected;
2. the special oracles: MBPP `are_equivalent` (Mbpp/164) always, `sum_div` (295) also accepts 0, the
   tasks whose canonical output cannot be serialised (`check_str`, ...) compare `out is not None` (or a
   bool out as is); 0.3 adds set equality for 8 tasks, and own references for `surface_Area` (581) and
   `digit_distance_nums` (558); HumanEval `find_zero` (32) checks the polynomial at the root: 0.2 checks
   poly <= atol (no abs) and then the generic comparison, 0.3 |poly| <= atol and nothing else;
3. a float expected output (float, or list/tuple of floats: 0.2 counts an empty one) with atol 0 sets
   atol = 1e-6; if not exact and atol != 0: 0.2 needs assert_allclose(out, exp, rtol=1e-7, atol)
   (equal shapes or a scalar side; nan equals nan), 0.3 needs type(out) == type(exp), equal lengths and
   allclose (broadcasting; nan never close); otherwise exact must hold.
"""

# ruff: noqa: BLE001  -- an output that makes a comparison raise is a wrong output

import math

try:  # pasted into one program after values.py, these names are already defined there
    from wizardcoder.eval.plus.values import digest
except ImportError:  # pragma: no cover - only inside the sandbox program
    pass

RULES = ("0.2", "0.3")
NOT_NONE_TASKS = ("check_str", "text_match_three", "text_starta_endb")
SET_EQ_TASKS_03 = ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                   "larg_nnum", "intersection_array", "find_dissimilar", "Diff")
RTOL = 1e-07


class Mismatch(Exception):
    """The output is wrong; the message says how."""


class Digest:
    """An output too large to carry: compared by `values.digest`, exactly."""

    __slots__ = ("hex",)

    def __init__(self, hex_):
        self.hex = hex_

    def __repr__(self):
        return f"<a value too large to carry, sha256 {self.hex[:16]}>"


class Checker:
    def __init__(self, dataset, entry_point, atol, rules):
        if rules not in RULES:
            raise ValueError(f"unknown rules {rules!r}")
        self.dataset, self.entry_point, self.atol, self.rules = dataset, entry_point, atol, rules

    def check(self, inp, out, exp):
        """Raise Mismatch unless `out` passes for input `inp` (its arguments) against `exp`."""
        large = isinstance(out, Digest) or isinstance(exp, Digest)
        exact = _same_digest(out, exp) if large else _equal(out, exp)
        ep, v3 = self.entry_point, self.rules == "0.3"
        if self.dataset == "mbpp" and not large:
            if ep == "are_equivalent":
                exact = True
            elif ep == "sum_div":
                exact = exact or _equal(out, 0)
            elif v3 and ep == "surface_Area":
                exact = exact or _within(out, pyramid_surface(*inp), self.atol)
            elif v3 and ep == "digit_distance_nums":
                exact = exact or _equal(out, digit_distance(*inp))
            elif v3 and ep in SET_EQ_TASKS_03:
                exact = _set_equal(out, exp)
            elif ep in NOT_NONE_TASKS:
                exact = _equal(out, exp) if isinstance(out, bool) else exp == (out is not None)
        if self.dataset == "humaneval" and ep == "find_zero":
            try:
                value = poly(inp[0], out)
            except Exception as exc:
                raise Mismatch(f"find_zero: the root cannot be checked ({type(exc).__name__})") from None
            if v3:
                if not abs(value) <= self.atol:
                    raise Mismatch(f"find_zero: |poly(root)| = {abs(value)!r} > atol {self.atol!r}")
                return
            if not value <= self.atol:
                raise Mismatch(f"find_zero: poly(root) = {value!r} > atol {self.atol!r}")
        if self.atol == 0 and _is_floats(exp, v3):
            self.atol = 1e-6  # sticky: every later input of this phase is compared with it too
        if exact:
            return
        if self.atol == 0:
            raise Mismatch("wrong output")
        if large:
            raise Mismatch("wrong output (too large to compare within a tolerance)")
        if v3:
            if type(out) is not type(exp):
                raise Mismatch(f"wrong output type {type(out).__name__} (expected {type(exp).__name__})")
            if isinstance(exp, (list, tuple)) and len(out) != len(exp):
                raise Mismatch(f"wrong output length {len(out)} (expected {len(exp)})")
            if not allclose(out, exp, self.atol, equal_nan=False, broadcast=True):
                raise Mismatch(f"wrong output (not within atol {self.atol!r}, rtol {RTOL!r})")
        elif not allclose(out, exp, self.atol, equal_nan=True, broadcast=False):
            raise Mismatch(f"wrong output (not within atol {self.atol!r}, rtol {RTOL!r})")


def _equal(a, b):
    try:
        return bool(a == b)
    except Exception:  # RecursionError on a self-containing list, ...
        return False


def _same_digest(a, b):
    try:
        da = a.hex if isinstance(a, Digest) else digest(a)
        db = b.hex if isinstance(b, Digest) else digest(b)
    except Exception:
        return False
    return da == db


def _set_equal(a, b):
    try:
        return set(a) == set(b)
    except Exception:  # not iterable, unhashable members
        return False


def _within(a, b, atol):
    try:
        return abs(a - b) <= atol
    except Exception:
        return False


def _is_floats(x, v3):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)):
        return (bool(x) or not v3) and all(isinstance(i, float) for i in x)
    return False


# ------------------------------------------------------------------ the oracles' own reference functions


def poly(xs, x):
    """The polynomial with coefficients `xs` (lowest degree first) at `x`, summed as float powers."""
    return sum(c * math.pow(x, i) for i, c in enumerate(xs))


def pyramid_surface(base_edge, height):
    """Mbpp/581 under 0.3: a square pyramid's total surface, `height` being the apex's height, rounded."""
    slant = math.sqrt((base_edge / 2) ** 2 + height ** 2)
    return round(base_edge ** 2 + 2 * base_edge * slant)


def digit_distance(a, b):
    """Mbpp/558 under 0.3: the sum of per-digit differences, the shorter number padded with zeros."""
    sa, sb = str(a), str(b)
    width = max(len(sa), len(sb))
    return sum(abs(int(x) - int(y)) for x, y in zip(sa.zfill(width), sb.zfill(width)))


# ------------------------------------------------------------------ numpy's closeness, for plain values


_NUMBER = (bool, int, float, complex)


def as_array(x):
    """(shape, flat elements) of `x` as a numeric numpy array; TypeError where numpy's check would raise."""
    if isinstance(x, (list, tuple)):
        parts = [as_array(e) for e in x]
        if not parts:
            return (0,), []
        shape = parts[0][0]
        if any(p[0] != shape for p in parts):
            raise TypeError("a ragged sequence is not an array")
        return (len(parts),) + shape, [v for p in parts for v in p[1]]
    return (), [x]  # a scalar; one that is not a number fails only where it is compared, as in numpy


def _close(a, b, atol, equal_nan):
    for v in (a, b):
        if not isinstance(v, _NUMBER):
            raise TypeError(f"{type(v).__name__} is not a number")
    fa = _finite(a)
    fb = _finite(b)
    if fa and fb:
        return abs(a - b) <= atol + RTOL * abs(b)
    if _nan(a) or _nan(b):
        return equal_nan and _nan(a) and _nan(b)
    return a == b  # infinities: equal when the same


def _finite(v):
    if isinstance(v, complex):
        return math.isfinite(v.real) and math.isfinite(v.imag)
    return math.isfinite(v)


def _nan(v):
    if isinstance(v, complex):
        return math.isnan(v.real) or math.isnan(v.imag)
    return math.isnan(v)


def allclose(out, exp, atol, equal_nan, broadcast):
    """numpy's closeness of `out` to `exp`: `broadcast` False = assert_allclose (shapes equal or one
    side a scalar), True = np.allclose (numpy broadcasting). False where numpy would raise."""
    try:
        (sa, va), (sb, vb) = as_array(out), as_array(exp)
        shape = _broadcast_shape(sa, sb) if broadcast else (sa if sb == () else sb if sa == () or sa == sb
                                                              else None)
        if shape is None:
            return False
        # assert_allclose looks at every element of both (nan/inf positions) before comparing; allclose
        # tests every expected element with isfinite, and fails on text in `out` whatever its size
        if not all(isinstance(v, _NUMBER) for v in vb):
            return False
        if not all(isinstance(v, _NUMBER) or (broadcast and not isinstance(v, (str, bytes))) for v in va):
            return False
        return all(_close(a, b, atol, equal_nan) for a, b in zip(_expand(va, sa, shape), _expand(vb, sb, shape)))
    except (TypeError, ValueError, OverflowError):
        return False


def _broadcast_shape(sa, sb):
    n = max(len(sa), len(sb))
    a, b = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            return None
        out.append(y if x == 1 else x)
    return tuple(out)


def _expand(values, shape, target):
    """The elements of an array of `shape`, broadcast to `target`, in C order."""
    shape = (1,) * (len(target) - len(shape)) + tuple(shape)
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(step if dim != 1 else 0)
        step *= dim
    strides.reverse()
    total = 1
    for dim in target:
        total *= dim
    for flat in range(total):
        offset, rest = 0, flat
        for dim, stride in zip(reversed(target), reversed(strides)):
            rest, idx = divmod(rest, dim)
            offset += idx * stride
        yield values[offset]
