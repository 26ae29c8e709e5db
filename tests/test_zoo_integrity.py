"""Verified private copies: what is hashed is what is loaded, and sizes are bounded first."""

import os
import shutil
import stat
import tracemalloc

import pytest
from zoo_support import NAME, read_card, write_card

from bssn_tf import zoo
from bssn_tf.io.hashing import sha256_of
from bssn_tf.zoo import integrity

pytest_plugins = ["zoo_fixtures"]


def test_the_copy_is_private_and_removed(model_copy):
    with integrity.verified_copy(str(model_copy)) as (copy, card):
        assert stat.S_IMODE(os.stat(copy).st_mode) == 0o700
        assert sorted(integrity.folder_files(copy)) == sorted([integrity.CARD, *card["files"]])
        for relpath, entry in card["files"].items():
            assert sha256_of(os.path.join(copy, relpath)) == entry["sha256"]
    assert not os.path.exists(copy)


def test_a_huge_card_is_refused_before_it_is_read(model_copy, monkeypatch):
    card_path = model_copy / integrity.CARD
    with open(card_path, "r+b") as handle:
        handle.truncate(1000 * 1000 * 1000)  # 1,000 MB, sparse: no disk is used
    monkeypatch.setattr(
        integrity, "parse_card", lambda *a: pytest.fail("an oversized card was parsed")
    )
    read_verified_card = zoo.card  # imported before memory is traced
    tracemalloc.start()
    with pytest.raises(zoo.IntegrityError) as raised:
        read_verified_card(str(model_copy))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert str(raised.value) == (
        f"{card_path}: larger than {integrity.CARD_MAX_BYTES} bytes, the most a card may be"
    )
    assert peak < 4 * integrity.CARD_MAX_BYTES  # the read stopped at the cap


def test_a_deeply_nested_card_is_one_clear_error(model_copy):
    (model_copy / integrity.CARD).write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(zoo.IntegrityError, match="not a model card \\(JSON nested too deeply\\)"):
        zoo.card(str(model_copy))


def test_a_file_larger_than_its_card_says_is_cut_off(model_copy):
    samples = model_copy / "samples.png"
    listed = read_card(model_copy)["files"]["samples.png"]["size"]
    with open(samples, "ab") as handle:
        handle.truncate(300 * 1000 * 1000)  # sparse again
    with pytest.raises(zoo.IntegrityError, match=f"larger than the {listed} bytes its card lists"):
        zoo.verify(str(model_copy))


def test_a_file_swapped_after_listing_fails_its_hash(model_copy, monkeypatch):
    """The race between listing and reading: what is read is hashed, so a swap is caught."""
    real_listing = integrity.folder_files

    def list_then_swap(directory):
        listed = real_listing(directory)
        (model_copy / "samples.png").write_bytes(b"\x89PNG swapped in by an attacker")
        return listed

    monkeypatch.setattr(integrity, "folder_files", list_then_swap)
    with pytest.raises(zoo.IntegrityError, match="samples.png: .*its card lists"):
        zoo.load(str(model_copy))


@pytest.mark.parametrize("kind", ["file link", "folder link", "fifo"])
def test_links_and_fifos_swapped_in_after_listing_are_never_followed(
    model_copy, tmp_path, monkeypatch, kind
):
    outside = tmp_path / "outside"
    outside.mkdir()
    real_listing = integrity.folder_files

    def list_then_swap(directory):
        listed = real_listing(directory)
        if kind == "file link":
            shutil.move(model_copy / "samples.png", outside / "samples.png")
            (model_copy / "samples.png").symlink_to(outside / "samples.png")
        elif kind == "folder link":
            shutil.move(model_copy / "variables", outside / "variables")
            (model_copy / "variables").symlink_to(outside / "variables", target_is_directory=True)
        else:
            (model_copy / "samples.png").unlink()
            os.mkfifo(model_copy / "samples.png")  # opening it blocking would hang the load
        return listed

    monkeypatch.setattr(integrity, "folder_files", list_then_swap)
    with pytest.raises(zoo.IntegrityError, match="cannot be opened|not a regular file"):
        zoo.verify(str(model_copy))


def test_the_pin_still_decides_after_the_copy(zoo_root):
    """A card edited in place no longer matches the index pin, copy or no copy."""
    card = read_card(zoo_root / NAME)
    write_card(zoo_root / NAME, dict(card, metrics={"fcd": 0.1}))
    with pytest.raises(zoo.IntegrityError, match="does not match .* from the zoo index"):
        zoo.load(NAME)


def test_a_card_that_lists_more_than_the_model_cap_is_refused_before_any_copy(
    model_copy, monkeypatch
):
    card = read_card(model_copy)
    entry = dict(card["files"]["samples.png"], size=integrity.MODEL_MAX_BYTES)
    write_card(model_copy, dict(card, files=dict(card["files"], **{"samples.png": entry})))
    monkeypatch.setattr(integrity, "_copy_listed_file", lambda *a: pytest.fail("copied"))
    with pytest.raises(zoo.IntegrityError, match="a zoo model may hold at most"):
        zoo.verify(str(model_copy))
