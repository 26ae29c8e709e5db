"""Generated tables inside hand-written markdown: only the text between a marker pair changes."""

import os

from bssn_tf.io import write_bytes_atomically


def markers(name):
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def replace_block(text, name, block):
    """`text` with block `name` replaced, or appended with its markers when absent."""
    begin, end = markers(name)
    new_block = f"{begin}\n{block}\n{end}"
    if begin in text and end in text.split(begin, 1)[1]:
        head, rest = text.split(begin, 1)
        return head + new_block + rest.split(end, 1)[1]
    head = text.rstrip("\n") + "\n\n" if text.strip() else ""
    return head + new_block + "\n"


def rewrite_block(path, name, block):
    """Rewrites block `name` of the markdown file `path` atomically, keeping the rest."""
    text = ""
    if os.path.exists(path):
        with open(path) as handle:
            text = handle.read()
    write_bytes_atomically(path, replace_block(text, name, block).encode("utf-8"))
