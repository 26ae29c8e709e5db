"""Argument checks that every package shares, so each rule and its message live once."""

import numbers


def is_int(value, numpy_ints=False):
    """Whether `value` is an integer and not a bool (Python counts True as 1).

    numpy integers count only with `numpy_ints`: values that go into JSON
    records must be Python ints.
    """
    kind = numbers.Integral if numpy_ints else int
    return isinstance(value, kind) and not isinstance(value, bool)


def check_int(name, value, minimum, error=ValueError, numpy_ints=False):
    """Returns `value`; raises `error` naming `name` unless it is an integer >= `minimum`."""
    if not is_int(value, numpy_ints) or value < minimum:
        raise error(f"{name} must be an integer >= {minimum}; got {name}={value!r}.")
    return value
