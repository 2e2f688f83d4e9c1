"""Minimal stand-in for pytest inside the wizardcoder sandbox: raises, approx, fail, skip, mark (parametrize,
xfail; others are no-ops), param, fixture (the builder's runner supplies the tests' own fixtures)."""
import asyncio as _asyncio
import inspect as _inspect
import math as _math
import re as _re


def _settle(result):
    """An async test's coroutine runs to the end (a test is never left un-awaited)."""
    if _inspect.iscoroutine(result):
        _asyncio.run(result)


class _Raises:
    def __init__(self, expected, match=None):
        self.expected, self._match = expected, match
        self.value = self.type = self.tb = None

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            raise AssertionError(f"DID NOT RAISE {self.expected}")
        if not issubclass(kind, self.expected):
            return False
        if self._match is not None and not _re.search(self._match, str(value)):
            raise AssertionError(f"{value!r} does not match {self._match!r}")
        self.value, self.type, self.tb = value, kind, tb
        return True

    @property
    def typename(self):
        return self.type.__name__ if self.type else None

    def match(self, regexp):  # excinfo.match(...)
        if not _re.search(regexp, str(self.value)):
            raise AssertionError(f"{str(self.value)!r} does not match {regexp!r}")
        return True

    def errisinstance(self, kind):
        return isinstance(self.value, kind)


def raises(expected, *args, match=None, **kwargs):
    if args:
        with _Raises(expected, match) as ctx:
            args[0](*args[1:], **kwargs)
        return ctx
    return _Raises(expected, match)


class approx:
    def __init__(self, expected, rel=1e-6, abs=1e-12):
        self.expected, self.rel, self.abs = expected, rel, abs

    def _close(self, a, b):
        if isinstance(b, (list, tuple)):
            return isinstance(a, (list, tuple)) and len(a) == len(b) and all(map(self._close, a, b))
        if isinstance(b, dict):
            return isinstance(a, dict) and a.keys() == b.keys() and all(self._close(a[k], b[k]) for k in b)
        try:
            return a == b or _math.isclose(a, b, rel_tol=self.rel, abs_tol=self.abs)
        except TypeError:
            return False

    def __eq__(self, other):
        return self._close(other, self.expected)

    def __repr__(self):
        return f"approx({self.expected!r})"


class _Outcome(Exception):
    pass


def fail(msg=""):
    raise AssertionError(msg)


def skip(msg=""):
    raise _Outcome(msg)


def _condition(condition, fn):
    """A skipif/xfail condition; a string is evaluated as pytest does (os, sys, platform, the test's globals)."""
    if isinstance(condition, str):
        import os
        import platform
        import sys
        return eval(condition, {"os": os, "sys": sys, "platform": platform, **getattr(fn, "__globals__", {})})
    return condition


def _xfail(fn, condition=True, *, reason="", raises=None, run=True, strict=False, **_):
    if not _condition(condition, fn):
        return fn

    expected = raises or Exception  # another exception than `raises` fails the test

    def xfailed(*args, **kwargs):
        if not run:
            return
        try:
            _settle(fn(*args, **kwargs))
        except expected:
            return
        if strict:
            raise AssertionError(f"[XPASS(strict)] {fn.__name__} passed but is marked xfail: {reason}")
    xfailed.__name__ = fn.__name__
    return xfailed


def _skipif(fn, condition=True, *_, **__):
    if not _condition(condition, fn):
        return fn

    def skipped(*args, **kwargs):
        return None
    skipped.__name__ = fn.__name__
    return skipped


class _MarkDecorator:
    """`pytest.mark.NAME` / `pytest.mark.NAME(...)`: xfail, skip and skipif act; other marks change nothing."""

    def __init__(self, name, args=(), kwargs=None):
        self.name, self.args, self.kwargs = name, args, kwargs or {}

    def __call__(self, *args, **kwargs):
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return self.apply(args[0])
        return _MarkDecorator(self.name, self.args + args, {**self.kwargs, **kwargs})

    def apply(self, fn):
        if isinstance(fn, type):  # a marked class runs as it is
            return fn
        if self.name == "xfail":
            return _xfail(fn, *self.args, **self.kwargs)
        if self.name == "skip":
            return _skipif(fn, True)
        if self.name == "skipif":
            return _skipif(fn, *self.args, **self.kwargs)
        return fn


class _Param:
    def __init__(self, values, marks=(), id=None):
        self.values, self.id = values, id
        self.marks = tuple(marks) if isinstance(marks, (list, tuple)) else (marks,)


def param(*values, marks=(), id=None):
    return _Param(values, marks, id)


class _Mark:
    def parametrize(self, names, values, ids=None, **_):
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)

        def decorate(fn):
            def run(*args, **kwargs):
                for value in values:
                    call = fn
                    if isinstance(value, _Param):  # pytest.param(1) with one name is 1, not (1,)
                        for m in value.marks:
                            call = m.apply(call) if isinstance(m, _MarkDecorator) else call
                        value = value.values
                    else:
                        value = tuple(value) if len(names) > 1 else (value,)
                    _settle(call(*args, **kwargs, **dict(zip(names, value))))
            run.__name__ = fn.__name__
            return run
        return decorate

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _MarkDecorator(name)


mark = _Mark()


def fixture(*args, **kwargs):
    if len(args) == 1 and callable(args[0]):
        return args[0]
    return lambda fn: fn


def main(*args, **kwargs):
    return 0
