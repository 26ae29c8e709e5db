"""bssn_tf.io.markdown_block: only the text between a block's markers changes."""

import os

from bssn_tf.io import markdown_block


def test_a_missing_block_is_appended_with_its_markers():
    assert markdown_block.replace_block("# Title\n", "models", "| a |") == (
        "# Title\n\n<!-- models:begin -->\n| a |\n<!-- models:end -->\n"
    )


def test_an_empty_text_gets_the_block_alone():
    assert markdown_block.replace_block("", "t", "x") == "<!-- t:begin -->\nx\n<!-- t:end -->\n"


def test_an_existing_block_is_replaced_and_the_rest_kept():
    text = (
        "head\n<!-- t:begin -->\nold\n<!-- t:end -->\ntail\n<!-- u:begin -->\nu\n<!-- u:end -->\n"
    )
    assert markdown_block.replace_block(text, "t", "new") == (
        "head\n<!-- t:begin -->\nnew\n<!-- t:end -->\ntail\n<!-- u:begin -->\nu\n<!-- u:end -->\n"
    )


def test_a_begin_marker_without_its_end_appends_a_fresh_block():
    # An unterminated block is not cut open: the text is kept and a whole block added.
    text = "a\n<!-- t:begin -->\nb\n"
    assert markdown_block.replace_block(text, "t", "c") == (
        "a\n<!-- t:begin -->\nb\n\n<!-- t:begin -->\nc\n<!-- t:end -->\n"
    )


def test_rewrite_block_creates_then_updates_the_file(tmp_path):
    path = str(tmp_path / "README.md")
    markdown_block.rewrite_block(path, "t", "one")
    with open(path, "a") as handle:
        handle.write("hand-written\n")
    markdown_block.rewrite_block(path, "t", "two")
    with open(path) as handle:
        assert handle.read() == "<!-- t:begin -->\ntwo\n<!-- t:end -->\nhand-written\n"
    assert os.listdir(tmp_path) == ["README.md"]  # no temporary file left behind
