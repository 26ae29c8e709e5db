"""What a first-time user sees: --help, a quiet healthy run that ends with a summary,
honest progress rates, and no warnings from our data pipeline."""

import io
import logging
import os
import re
import subprocess
import sys

import pytest
from absl import logging as absl_logging

from bssn_tf.training.progress import ProgressReporter, run_summary

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
from tiny_runs import TINY_FLAGS  # noqa: E402

from train import cli  # noqa: E402

# The user's environment: no log level chosen.
PLAIN_ENV = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}


def run_python(*args, env=PLAIN_ENV, timeout=120):
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.mark.parametrize("script", ["train.train_gan", "train.evaluate"])
def test_help_exits_zero_and_lists_the_flags(script):
    result = run_python("-m", script, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--model_dir:" in result.stdout and "--[no]tf_verbose:" in result.stdout


def test_unknown_flag_still_fails():
    result = run_python("-m", "train.train_gan", "--no_such_flag")
    assert result.returncode == 1 and "no_such_flag" in result.stderr


PROGRESS_LINE = re.compile(
    r"^step \d+/4 \| (\?|\d+\.\d\d) steps/s \| ETA \S+ \| d_loss -?\d+\.\d{4} g_loss -?\d+\.\d{4}$"
)


@pytest.mark.slow
def test_healthy_run_prints_only_progress_and_a_summary(tmp_path):
    """With evaluation, best export and samples: the noisiest healthy run there is."""
    model_dir = tmp_path / "run"
    command = ["-m", "train.train_gan", f"--model_dir={model_dir}", "--steps=4", *TINY_FLAGS]
    command += ["--eval_every=2", "--eval_num_samples=64"]
    result = run_python(*command, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stderr.splitlines()
    assert len(lines) == 4, lines
    assert PROGRESS_LINE.match(lines[0]) and PROGRESS_LINE.match(lines[2]), lines
    for line, step in ((lines[1], 2), (lines[3], 4)):
        assert re.fullmatch(EVALUATION_LINE.format(step=step), line), line
    summary = result.stdout.splitlines()
    assert re.fullmatch(r"trained to step 4; training time \dm\d\ds over all starts", summary[0])
    assert re.fullmatch(
        r"last evaluation at step 4: FCD \d[\d.]*, classifier score \d[\d.]*", summary[1]
    )
    assert summary[2:] == [
        f"generator export: {model_dir}/export",
        f"lowest-FCD export: {model_dir}/best_export",
        f"sample grids: {model_dir}/samples",
    ]
    with open(model_dir / "metrics.csv") as handle:
        last_row = handle.read().splitlines()[-1].split(",")
    assert last_row[0] == "4" and f"FCD {float(last_row[1]):.4g}," in summary[1]
    assert lines[3].endswith(summary[1].split(": ", 1)[1])  # the console saw the same numbers

    # Re-running the finished command trains nothing and still reports the last evaluation.
    again = run_python(*command, timeout=400)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stderr == ""
    assert again.stdout.splitlines()[1] == summary[1]


EVALUATION_LINE = r"evaluation at step {step}: FCD \d[\d.]*, classifier score \d[\d.]*"
TENSORFLOW_LOG_LINE = re.compile(r"^[IWEF]0000 |Traceback", re.MULTILINE)


def readme_first_command():
    """The training part of the README's first command (after `pip install ...`)."""
    with open(os.path.join(REPO_ROOT, "README.md")) as handle:
        readme = handle.read()
    command = re.search(r"^python3 -m venv .*$", readme, re.MULTILINE).group(0)
    training = command.split(" && ")[-1]
    assert training.startswith("python -m train.train_gan "), training
    return training.split()[3:]


@pytest.mark.slow
def test_the_readmes_first_command_is_quiet_at_a_tiny_step_count(tmp_path):
    """The README's own flags, with the step count and widths shrunk to seconds."""
    flags = [flag for flag in readme_first_command() if not flag.startswith("--model_dir")]
    shrunk = {"--steps": "4", "--sample_every": "2", "--eval_every": "2", "--width": "0.125"}
    flags = [
        f"{flag.split('=')[0]}={shrunk[flag.split('=')[0]]}"
        if flag.split("=")[0] in shrunk
        else flag
        for flag in flags
    ]
    result = run_python(
        "-m",
        "train.train_gan",
        f"--model_dir={tmp_path / 'run'}",
        *flags,
        "--eval_num_samples=64",
        "--batch_size=8",
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert not TENSORFLOW_LOG_LINE.search(output), output[-3000:]
    assert "evaluation at step 4:" in result.stderr


def test_a_failed_start_leaves_no_folder_behind(tmp_path):
    model_dir = tmp_path / "never"
    unprepared = ["-m", "train.train_gan", f"--model_dir={model_dir}", "--dataset=cifar10"]
    unprepared += ["--steps=2", f"--data_dir={tmp_path / 'no_data'}"]
    result = run_python(*unprepared)
    assert result.returncode == 1 and "is not prepared" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not model_dir.exists()
    # A folder that was there before is left as it was.
    model_dir.mkdir()
    (model_dir / "notes.txt").write_text("mine")
    result = run_python(*unprepared)
    assert result.returncode == 1
    assert sorted(path.name for path in model_dir.iterdir()) in (
        ["notes.txt"],
        [".lock", "notes.txt"],
    )


def test_the_offline_build_says_what_it_does_and_does_not_warn(tmp_path):
    script = (
        "from bssn_tf import data\n"
        f"print(data.load_array('digits', 'train', limit=2, data_dir={str(tmp_path)!r}).shape)\n"
    )
    result = run_python("-c", script, env=dict(PLAIN_ENV, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"preparing digits from the bundled data into {tmp_path}" in result.stderr
    # (TensorFlow's own start-up lines are a library import's, not the build's.)
    for noise in ("Downloading", "Unknown size", "WARNING:absl", "Variant folder"):
        assert noise not in result.stderr, result.stderr[-2000:]


def test_load_array_does_not_warn_about_a_discarded_cache(tmp_path):
    """TFDS caches small splits in memory; take() on that cache made TF warn at every start."""
    script = (
        "from bssn_tf import data\n"
        "print(data.load_array('mnist5k', 'train', limit=8).shape)\n"
        "import gc; gc.collect()\n"
    )
    result = run_python("-c", script, env=dict(PLAIN_ENV, TF_CPP_MIN_LOG_LEVEL="0"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "(8, 28, 28, 1)"
    assert "did not fully read the dataset being cached" not in result.stderr


def test_quiet_and_verbose_logger_levels():
    try:
        cli.import_tensorflow(verbose=False)
        assert logging.getLogger("tensorflow").level == logging.ERROR
        assert absl_logging.get_verbosity() == absl_logging.WARNING
        cli.import_tensorflow(verbose=True)
        assert logging.getLogger("tensorflow").level == logging.INFO
        assert absl_logging.get_verbosity() == absl_logging.INFO
    finally:
        cli.import_tensorflow(verbose=False)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_rate_is_wall_clock_over_the_whole_loop():
    """Time spent outside training steps (tracing, evaluation, exports) counts."""
    clock, stream = FakeClock(), io.StringIO()
    progress = ProgressReporter(100, stream=stream, clock=clock)
    progress.start(0)
    clock.now = 5.0  # 10 steps in 5 s, the first trace included
    progress.report(10, {"d_loss": 1.0})
    clock.now = 40.0  # 10 more steps, plus a 30 s evaluation
    progress.report(20, {"d_loss": 0.5})
    assert stream.getvalue().splitlines() == [
        "step 10/100 | 2.00 steps/s | ETA 0m45s | d_loss 1.0000",
        # 20 steps in 40 s: 0.5 steps/s, 80 steps left
        "step 20/100 | 0.50 steps/s | ETA 2m40s | d_loss 0.5000",
    ]


def test_progress_of_a_resumed_run_counts_from_the_resumed_step():
    clock, stream = FakeClock(), io.StringIO()
    progress = ProgressReporter(1000, stream=stream, clock=clock)
    progress.start(900)
    clock.now = 50.0
    progress.report(1000, {"g_loss": -0.25})
    assert stream.getvalue() == "step 1000/1000 | 2.00 steps/s | ETA 0m00s | g_loss -0.2500\n"


def test_run_summary_says_what_was_done_and_where():
    result = {
        "steps": 1500,
        "start_step": 750,
        "wall_time_s": 3725.4,
        "export_dir": "runs/a/export",
        "best_export_dir": None,
        "samples_dir": "runs/a/samples",
        "last_eval": {"step": 1500, "fcd": 26.61234, "classifier_score": 6.5312},
    }
    assert run_summary(result).splitlines() == [
        "trained to step 1500 (resumed at step 750); training time 1h02m over all starts",
        "last evaluation at step 1500: FCD 26.61, classifier score 6.531",
        "generator export: runs/a/export",
        "sample grids: runs/a/samples",
    ]
    unevaluated = dict(result, start_step=0, last_eval=None, samples_dir=None, wall_time_s=59)
    conditional = dict(result, last_eval=dict(result["last_eval"], class_consistency=0.9712))
    assert run_summary(conditional).splitlines()[1] == (
        "last evaluation at step 1500: FCD 26.61, classifier score 6.531, class consistency 97.1%"
    )
    assert run_summary(unevaluated).splitlines() == [
        "trained to step 1500; training time 0m59s over all starts",
        "generator export: runs/a/export",
    ]


def test_import_bssn_tf_is_silent_and_imports_no_tensorflow():
    script = (
        "import logging, os, sys\n"
        "before = (dict(os.environ), logging.getLogger().handlers[:], os.dup(2))\n"
        "import bssn_tf, bssn_tf.zoo, bssn_tf.data, bssn_tf.extractors, bssn_tf.io\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
        "assert dict(os.environ) == before[0] and logging.getLogger().handlers == before[1]\n"
        "print(bssn_tf.__version__)\n"
    )
    result = run_python("-c", script)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "0.1.0" and result.stderr == ""
