"""Downloads stop at the sizes a pinned card declares; cache entries are never followed."""

import functools
import http.server
import os
import pathlib
import threading

import numpy as np
import pytest
from zoo_support import NAME, card_pin, read_card

from bssn_tf import zoo
from bssn_tf.zoo import download, integrity

pytest_plugins = ["zoo_fixtures"]

ENDLESS_BYTES = 300 * 1000 * 1000


@pytest.fixture
def flooding_server(zoo_root):
    """Serves the zoo, except that samples.png is an endless 300 MB stream; counts bytes sent."""
    sent = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if not self.path.endswith("/samples.png"):
                return super().do_GET()
            self.send_response(200)
            self.send_header("Content-Length", str(ENDLESS_BYTES))
            self.end_headers()
            block = b"\0" * (1 << 20)
            try:
                for _ in range(ENDLESS_BYTES // len(block)):
                    self.wfile.write(block)
                    sent.append(len(block))
            except (BrokenPipeError, ConnectionResetError):
                pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(zoo_root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", sent
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_an_oversized_stream_is_cut_off_at_the_listed_size(zoo_root, flooding_server, tmp_path):
    base, sent = flooding_server
    listed = read_card(zoo_root / NAME)["files"]["samples.png"]["size"]
    with pytest.raises(zoo.IntegrityError, match=f"samples.png: larger than {listed} bytes"):
        zoo.load(f"{base}/{NAME}", sha256=card_pin(zoo_root / NAME))
    assert os.listdir(tmp_path / "cache") == []  # the staging folder went with the refusal
    # What crossed the socket is bounded by the kernel's buffers, not by the stream.
    assert sum(sent) < 64 * (1 << 20)


def cached_entry(zoo_root, server, tmp_path):
    base, _ = server
    pin = card_pin(zoo_root / NAME)
    return f"{base}/{NAME}", pin, tmp_path / "cache" / pin


@pytest.mark.parametrize("kind", ["link to a model", "dangling link", "file"])
def test_cache_entries_that_are_not_folders_are_replaced(zoo_root, server, tmp_path, kind):
    url, pin, entry = cached_entry(zoo_root, server, tmp_path)
    entry.parent.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    if kind == "link to a model":
        # A valid model reached through a link: following it would re-open the race.
        entry.symlink_to(zoo_root / NAME, target_is_directory=True)
    elif kind == "dangling link":
        entry.symlink_to(elsewhere)
    else:
        entry.write_text("not a folder")
    generator = zoo.load(url, sha256=pin)
    assert not entry.is_symlink() and entry.is_dir()
    assert integrity.file_manifest(entry) == integrity.file_manifest(zoo_root / NAME)
    assert (zoo_root / NAME).is_dir() and not elsewhere.exists()  # nothing outside was touched
    reference = np.load(zoo_root / NAME / "reference_output.npz")
    np.testing.assert_allclose(generator(reference["z"]), reference["images"], atol=1e-6)


def test_a_valid_cache_entry_is_reused_without_requests(zoo_root, server, tmp_path):
    url, pin, entry = cached_entry(zoo_root, server, tmp_path)
    _, requests = server
    assert pathlib.Path(download.fetch(url, pin)) == entry
    count = len(requests)
    assert pathlib.Path(download.fetch(url, pin)) == entry and len(requests) == count
