"""bssn_tf.io.checks: one integer rule (bool is no integer) and one message for it."""

import numpy as np
import pytest

from bssn_tf.io.checks import check_int, is_int


def test_bools_floats_and_strings_are_no_integers():
    assert is_int(3) and is_int(0) and is_int(-2)
    assert not any(is_int(value) for value in (True, False, 3.0, "3", None))


def test_numpy_integers_count_only_when_asked():
    assert not is_int(np.int64(3))
    assert is_int(np.int64(3), numpy_ints=True) and not is_int(np.bool_(True), numpy_ints=True)


def test_check_int_returns_the_value_or_raises_the_callers_error():
    assert check_int("steps", 5, 1) == 5

    class SettingError(ValueError):
        pass

    with pytest.raises(SettingError, match=r"^steps must be an integer >= 1; got steps=True\.$"):
        check_int("steps", True, 1, error=SettingError)
    with pytest.raises(ValueError, match=r"limit must be an integer >= 1; got limit=np.int32\(0\)"):
        check_int("limit", np.int32(0), 1, numpy_ints=True)
