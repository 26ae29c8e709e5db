"""The reproduce_claims CLI: flags reach the config, and bad input is one line, not a traceback.

The claims themselves are tested through the library (tests/test_claims.py);
the CLI runs in a subprocess, so its absl flags never meet another script's.
"""

import subprocess
import sys


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "train.reproduce_claims", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_norms_outside_the_claims_list_are_refused_in_one_line():
    result = run_cli("--claim=quality", "--norms=exact")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "norms for claim quality must come from ('sn', 'bssn'); got ['exact']" in result.stderr


def test_missing_claim_is_refused_in_one_line():
    result = run_cli()
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "--claim must be one of exploding, vanishing, quality." in result.stderr
