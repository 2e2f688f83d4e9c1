"""Minimal stand-in for pytest inside the wizardcoder sandbox: raises, approx, fail, skip, mark."""
import math as _math
import re as _re


class _Raises:
    def __init__(self, expected, match=None):
        self.expected, self.match, self.value = expected, match, None

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            raise AssertionError(f"DID NOT RAISE {self.expected}")
        if not issubclass(kind, self.expected):
            return False
        if self.match is not None and not _re.search(self.match, str(value)):
            raise AssertionError(f"{value!r} does not match {self.match!r}")
        self.value = value
        return True


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


class _Mark:
    def parametrize(self, names, values, ids=None, **_):
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)

        def decorate(fn):
            def run(*args, **kwargs):
                for value in values:
                    value = getattr(value, "values", value)
                    value = tuple(value) if len(names) > 1 else (value,)
                    fn(*args, **kwargs, **dict(zip(names, value)))
            run.__name__ = fn.__name__
            return run
        return decorate

    def __getattr__(self, name):
        def marker(*args, **kwargs):
            if len(args) == 1 and callable(args[0]) and not kwargs:
                return args[0]
            return lambda fn: fn
        return marker


mark = _Mark()


def fixture(*args, **kwargs):
    if len(args) == 1 and callable(args[0]):
        return args[0]
    return lambda fn: fn


def param(*values, **_):
    return values


def main(*args, **kwargs):
    return 0
