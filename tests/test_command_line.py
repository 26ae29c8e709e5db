"""bssn_tf.command_line: errors quoted in one line, the same way everywhere."""

import tensorflow as tf

from bssn_tf.command_line import first_line, one_line


def test_first_line_of_a_message_or_the_type_when_there_is_none():
    assert first_line(ValueError("  bad value\nat line 3\n")) == "bad value"
    assert first_line(RuntimeError()) == "RuntimeError"


def test_tensorflow_errors_keep_their_own_first_line_and_type():
    error = tf.errors.NotFoundError(None, None, "no such file\n  [[node x]]")
    assert first_line(error) == "no such file"
    assert one_line(error) == "NotFoundError: no such file"


def test_other_errors_fold_onto_one_line():
    assert one_line(ValueError("a\n  b   c")) == "a b c"
    assert one_line(KeyError()) == "KeyError"
