"""The stand-in pytest that Python checks get in the sandbox (a packaged file), tested as a module."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import wizardcoder.languages as builders
from wizardcoder.languages.python import PYTEST_SHIM

SHIM_PATH = Path(builders.__file__).with_name("pytest_shim.py")


@pytest.fixture(scope="module")
def shim():
    spec = importlib.util.spec_from_file_location("wizardcoder_pytest_shim", SHIM_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_builder_ships_the_packaged_file():
    assert PYTEST_SHIM == SHIM_PATH.read_text(encoding="utf-8")
    compile(PYTEST_SHIM, "pytest.py", "exec")


def test_raises_passes_on_the_exception_and_fails_without_it(shim):
    with shim.raises(ValueError, match="bad"):
        raise ValueError("a bad value")
    assert isinstance(shim.raises(KeyError, {}.__getitem__, "k").value, KeyError)
    with pytest.raises(AssertionError, match="DID NOT RAISE"), shim.raises(ValueError):
        pass
    with pytest.raises(AssertionError, match="does not match"), shim.raises(ValueError, match="^x"):
        raise ValueError("y")
    with pytest.raises(TypeError), shim.raises(ValueError):  # another exception propagates
        raise TypeError("other")


def test_approx_compares_numbers_and_containers(shim):
    assert 0.1 + 0.2 == shim.approx(0.3)
    assert [0.1 + 0.2, 1.0] == shim.approx([0.3, 1.0])
    assert {"a": 0.1 + 0.2} == shim.approx({"a": 0.3})
    assert 0.31 != shim.approx(0.3)
    assert "0.3" != shim.approx(0.3)


def test_fail_skip_and_marks(shim):
    with pytest.raises(AssertionError, match="boom"):
        shim.fail("boom")
    with pytest.raises(Exception, match="later") as info:
        shim.skip("later")
    assert not isinstance(info.value, AssertionError)  # a skip is not a failed assertion
    seen = []

    @shim.mark.parametrize("a, b", [(1, 2), shim.param(3, 4)])
    def pairs(a, b):
        seen.append((a, b))

    @shim.mark.parametrize("x", [5, 6])
    def singles(x):
        seen.append(x)

    pairs()
    singles()
    assert seen == [(1, 2), (3, 4), 5, 6]
    assert shim.mark.slow(len) is len and shim.fixture(len) is len and shim.main() == 0

    @shim.mark.parametrize("x", [1, 2])
    def failing(x):
        assert x == 1

    with pytest.raises(AssertionError):
        failing()


def test_param_with_one_name_passes_the_value_itself(shim):
    seen = []

    @shim.mark.parametrize("x", [shim.param(1), shim.param(2, id="two"), 3])
    def single(x):
        seen.append(x)

    single()
    assert seen == [1, 2, 3]


def test_raises_gives_pytests_excinfo(shim):
    with shim.raises(ValueError) as excinfo:
        raise ValueError("not a number: x")
    assert excinfo.type is ValueError and excinfo.typename == "ValueError"
    assert str(excinfo.value) == "not a number: x" and excinfo.tb is not None
    assert excinfo.match("not a number") and excinfo.errisinstance(ValueError)
    with pytest.raises(AssertionError, match="does not match"):
        excinfo.match("^a number")


def test_xfail_expects_a_failure_and_strict_fails_an_unexpected_pass(shim):
    @shim.mark.xfail(reason="known")
    def known_bug():
        assert 0.1 + 0.2 == 0.3

    @shim.mark.xfail
    def passes():
        pass

    @shim.mark.xfail(strict=True)
    def passes_strictly():
        pass

    @shim.mark.xfail(raises=KeyError)
    def other_error():
        raise ValueError("not the expected one")

    @shim.mark.xfail(False, reason="condition false: a normal test")
    def not_expected():
        assert False

    @shim.mark.xfail("sys.platform == 'no-such-platform'")
    def string_condition():
        assert False

    known_bug()
    passes()
    with pytest.raises(AssertionError, match="XPASS"):
        passes_strictly()
    with pytest.raises(ValueError):
        other_error()
    for fn in (not_expected, string_condition):
        with pytest.raises(AssertionError):
            fn()


def test_marks_on_params_and_skips(shim):
    seen = []

    @shim.mark.parametrize("a, b", [(1, 1), shim.param(1, 2, marks=shim.mark.xfail)])
    def equal(a, b):
        seen.append((a, b))
        assert a == b

    equal()
    assert seen == [(1, 1), (1, 2)]

    @shim.mark.skip(reason="later")
    def skipped():
        raise AssertionError("ran")

    @shim.mark.skipif(False, reason="runs")
    def runs():
        raise AssertionError("ran")

    skipped()
    with pytest.raises(AssertionError, match="ran"):
        runs()


def test_async_tests_under_marks_are_awaited(shim):
    seen = []

    @shim.mark.parametrize("x", [1, 2])
    async def each(x):
        seen.append(x)
        assert x == 1

    with pytest.raises(AssertionError):
        each()
    assert seen == [1, 2]

    @shim.mark.xfail(strict=True)
    async def passes():
        pass

    with pytest.raises(AssertionError, match="XPASS"):
        passes()
