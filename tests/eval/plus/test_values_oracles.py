"""The codec that carries EvalPlus values across the sandbox boundary, and evalplus's comparison rules."""

from __future__ import annotations

import json
import math
import random
from collections import Counter, OrderedDict, namedtuple

import numpy as np
import pytest

from wizardcoder.eval.plus.oracles import Checker, Digest, Mismatch, allclose, digit_distance, pyramid_surface
from wizardcoder.eval.plus.values import VALUE_CAP, Opaque, carry, decode, digest, encode

VALUES = [None, True, False, 0, -7, 2 ** 80, -(2 ** 70), 1.5, -0.0, float("inf"), float("-inf"), 1 + 2j, "héllo",
          "\ud800", b"\x00\xff", [], (), {}, set(), frozenset(), [1, (2, 3)], (1, [2, {3: "x"}]),
          {(1, 2): [3.5], "k": {4, 5}}, {frozenset({1}), "a"}, [[1.0, 2.0], [3.0, 4.0]]]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_values_round_trip_through_json_with_their_types(value):
    back = decode(json.loads(json.dumps(encode(value))))
    assert back == value and type(back) is type(value)
    if isinstance(value, (list, tuple)):
        assert [type(x) for x in back] == [type(x) for x in value]


def test_nan_round_trips_and_subclasses_become_their_builtin():
    assert math.isnan(decode(encode(float("nan"))))
    point = namedtuple("point", "x y")(1, 2)
    assert type(decode(encode(point))) is tuple and decode(encode(point)) == (1, 2)
    assert decode(encode(Counter("aab"))) == {"a": 2, "b": 1} and type(decode(encode(Counter("a")))) is dict
    assert decode(encode(OrderedDict(a=1))) == {"a": 1}


def test_values_the_codec_cannot_carry_are_opaque_and_equal_nothing():
    got = decode(encode(x for x in range(3)))
    assert isinstance(got, Opaque) and got.type_name == "generator"
    assert got != got and got is not None and not (got == [0, 1, 2])  # noqa: PLR0124, SIM201 - its own __eq__


@pytest.mark.parametrize("bad", [{"T": 1}, {"X": []}, {"S": [[1]]}, {"D": [[1]]}, {"C": ["a", 1]}, {"T": [], "S": []},
                                 {"F": "1e999"}, {"I": 5}])
def test_decode_rejects_anything_that_is_not_encoded_data(bad):
    with pytest.raises(ValueError):
        decode(bad)


def test_digest_collides_exactly_when_values_are_equal():
    assert digest(1) == digest(1.0) == digest(True) == digest(1 + 0j)
    assert digest({1, 2}) == digest(frozenset({2, 1})) and digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
    assert digest([1, 2]) != digest((1, 2)) and digest("1") != digest(1) and digest(b"a") != digest("a")
    assert digest([1, [2]]) != digest([[1], 2]) and digest(0.1 + 0.2) != digest(0.3)


def test_carry_switches_to_a_digest_past_the_cap():
    small, big = list(range(10)), ["x" * 100] * (VALUE_CAP // 50)
    assert carry(small) == {"v": small}
    assert carry(big) == {"d": digest(big)}


# ------------------------------------------------------------------ the rules


def judge(rules, dataset, entry_point, atol, cases):
    """[(input args, out, expected)] judged in order by one checker; the index of the first failure."""
    checker = Checker(dataset, entry_point, atol, rules)
    for i, (inp, out, exp) in enumerate(cases):
        try:
            checker.check(inp, out, exp)
        except Mismatch:
            return i
    return None


@pytest.mark.parametrize("rules", ["0.2", "0.3"])
def test_exact_equality_is_pythons(rules):
    assert judge(rules, "mbpp", "f", 0, [([], 1, 1.0), ([], True, 1), ([], (1, 2), (1, 2))]) is None
    assert judge(rules, "mbpp", "f", 0, [([], [1, 2], (1, 2))]) == 0
    assert judge(rules, "mbpp", "f", 0, [([], "1", 1)]) == 0


def test_a_float_expected_output_makes_the_tolerance_sticky_as_in_evalplus():
    # 0.2: after a float expected output, a later list-vs-tuple mismatch passes through assert_allclose
    cases = [([], 0.1 + 0.2, 0.3), ([], (1, 2), [1, 2])]
    assert judge("0.2", "mbpp", "f", 0, cases) is None
    assert judge("0.2", "mbpp", "f", 0, cases[1:]) == 0  # without the float first: exact, fails
    assert judge("0.3", "mbpp", "f", 0, cases) == 1  # 0.3 also requires the same type


def test_an_empty_expected_list_counts_as_floats_under_0_2_only():
    cases = [([], [], []), ([], (3,), [3])]
    assert judge("0.2", "mbpp", "f", 0, cases) is None
    assert judge("0.3", "mbpp", "f", 0, cases) == 1


def test_nan_is_close_to_nan_under_0_2_not_under_0_3():
    nan = float("nan")
    assert judge("0.2", "humaneval", "f", 1e-6, [([], [nan], [nan + 0])]) is None
    assert judge("0.3", "humaneval", "f", 1e-6, [([], [1.0, nan], [1.0, float("nan")])]) == 0


def test_find_zero_checks_the_polynomial_differently_per_release():
    xs = [-6, 11, -6, 1]  # roots 1, 2, 3
    assert judge("0.3", "humaneval", "find_zero", 1e-4, [([xs], 3.0, 1.0)]) is None  # any root
    assert judge("0.2", "humaneval", "find_zero", 1e-4, [([xs], 3.0, 1.0)]) == 0  # must also be close to the reference
    assert judge("0.2", "humaneval", "find_zero", 1e-4, [([xs], 1.0 + 1e-9, 1.0)]) is None
    # 0.2 compares poly(root) <= atol without abs(): a very negative value passes that check
    assert judge("0.2", "humaneval", "find_zero", 1e-4, [([xs], 0.0, 0.0)]) is None
    assert judge("0.3", "humaneval", "find_zero", 1e-4, [([xs], 0.0, 0.0)]) == 0
    assert judge("0.3", "humaneval", "find_zero", 1e-4, [([xs], "x", 1.0)]) == 0


def test_mbpp_special_oracles():
    assert judge("0.2", "mbpp", "are_equivalent", 0, [([1, 2], False, True)]) is None
    assert judge("0.2", "mbpp", "sum_div", 0, [([5], 0, 6), ([5], 3, 6)]) == 1
    not_none = [([("a",)], Opaque("Match"), True), ([("b",)], None, False), ([("c",)], True, True)]
    assert judge("0.2", "mbpp", "check_str", 0, not_none) is None
    assert judge("0.2", "mbpp", "check_str", 0, [([1], None, True)]) == 0
    unordered = [([], ("b", "a"), ("a", "b"))]
    assert judge("0.2", "mbpp", "similar_elements", 0, unordered) == 0
    assert judge("0.3", "mbpp", "similar_elements", 0, unordered) is None
    assert judge("0.3", "mbpp", "surface_Area", 1e-4, [([3, 4], pyramid_surface(3, 4), 33)]) is None
    assert judge("0.3", "mbpp", "digit_distance_nums", 0, [([123, 5], digit_distance(123, 5), 99)]) is None
    assert digit_distance(123, 256) == 7 and digit_distance(9, 1234) == 1 + 2 + 3 + 5


def test_outputs_too_large_to_carry_compare_by_digest():
    big = list(range(50))
    assert judge("0.2", "mbpp", "f", 0, [([], Digest(digest(big)), big)]) is None
    assert judge("0.2", "mbpp", "f", 0, [([], Digest(digest(big)), big[:-1])]) == 0
    assert judge("0.2", "mbpp", "f", 0, [([], big, Digest(digest(tuple(big))))]) == 0


def _numpy_allclose(out, exp, atol, strict_shapes):
    try:
        if strict_shapes:
            np.testing.assert_allclose(out, exp, rtol=1e-7, atol=atol)
            return True
        return bool(np.allclose(out, exp, rtol=1e-07, atol=atol))
    except (AssertionError, TypeError, ValueError):
        return False


def test_closeness_agrees_with_numpy_on_random_cases():
    rng = random.Random(7)

    def value(depth=0):
        kind = rng.random()
        if depth < 2 and kind < 0.35:
            n = rng.choice([0, 1, 2, 3])
            shape = [value(depth + 1) for _ in range(n)]
            return shape if rng.random() < 0.7 else tuple(shape)
        # (no int beyond int64: numpy's two checks disagree on those object arrays themselves)
        return rng.choice([1.0, 1.0 + 1e-8, 1.001, 2, True, float("inf"), float("nan"), -0.0, 1e300, 1 + 1j,
                           "s", None, 2 ** 62, 3])

    for _ in range(3000):
        out, exp, atol = value(), value(), rng.choice([1e-6, 1e-4, 0.5])
        if rng.random() < 0.5:
            exp = out if not isinstance(out, list) else [x for x in out]
        assert allclose(out, exp, atol, equal_nan=True, broadcast=False) == _numpy_allclose(out, exp, atol, True), \
            (out, exp, atol)
        assert allclose(out, exp, atol, equal_nan=False, broadcast=True) == _numpy_allclose(out, exp, atol, False), \
            (out, exp, atol)
