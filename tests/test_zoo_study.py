"""run_records and bssn_tf.workflows.study, on hand-written runs with hand-computed numbers."""

import csv
import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bssn_tf.io.markdown_block import markers
from bssn_tf.training.evaluation import COLUMNS
from bssn_tf.training.run_records import RecordError, group_by_setting, read_run, record_run
from bssn_tf.workflows import study


def write_run(root, name, norm, seed, fcds, lr=2e-4, steps=None):
    directory = os.path.join(root, name)
    os.makedirs(directory)
    run = {
        "norm": norm,
        "scale": 1.2 if norm == "bssn" else 1.0 + seed,
        "seed": seed,
        "g_lr": lr,
        "d_lr": lr,
        "steps": steps or 100 * len(fcds),
        "model_dir": directory,
        "log_every": 10,
        "dataset": "mnist5k",
    }
    with open(os.path.join(directory, "config.json"), "w") as handle:
        json.dump({"model": {"norm": norm}, "run": run}, handle)
    with open(os.path.join(directory, "metrics.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        for index, fcd in enumerate(fcds):
            writer.writerow(
                {
                    "step": 100 * (index + 1),
                    "fcd": fcd,
                    "kcd": fcd / 1000,
                    "kcd_std": 0.0,
                    "classifier_score": 5.0 + seed,
                    "classifier_score_std": 0.1,
                    "num_samples": 10,
                    "num_real": 10,
                    "extractor": "digits",
                }
            )
    return directory


def test_runs_group_by_every_flag_but_the_seed(tmp_path):
    # The sn runs record different --scale values (1.0 + seed), which sn ignores.
    paths = [
        write_run(tmp_path, "sn_s0", "sn", 0, [50.0, 30.0]),
        write_run(tmp_path, "sn_s1", "sn", 1, [60.0, 20.0]),
        write_run(tmp_path, "bssn_s0", "bssn", 0, [40.0, 10.0]),
        write_run(tmp_path, "sn_fast_s0", "sn", 0, [40.0, 35.0], lr=4e-4),
    ]
    groups = group_by_setting([read_run(path) for path in paths])
    assert [[record.name for record in group] for group in groups.values()] == [
        ["sn_s0", "sn_s1"],
        ["bssn_s0"],
        ["sn_fast_s0"],
    ]
    # A flag missing from an older run's record counts as its default.
    older = read_run(paths[0])
    flags_without_loss = {key: value for key, value in older.flags.items() if key != "loss"}
    assert dataclasses.replace(older, flags=dict(flags_without_loss, loss="hinge")).setting() == (
        dataclasses.replace(older, flags=flags_without_loss).setting()
    )
    # Lists in config.json (class_names) are flags like any other, equal to their tuple.
    named = dataclasses.replace(older, flags=dict(older.flags, class_names=["0", "1"]))
    assert dict(named.setting())["class_names"] == ("0", "1")
    assert dataclasses.replace(older, flags=dict(older.flags, class_names=[])).setting() == (
        older.setting()
    )
    # A run stopped at another step budget is its own setting, unless steps are ignored.
    paths.append(write_run(tmp_path, "sn_long_s2", "sn", 2, [50.0, 30.0, 25.0]))
    records = [read_run(path) for path in paths]
    assert len(group_by_setting(records)) == 4
    by_all_steps = group_by_setting(records, ignore=("steps",))
    assert [record.name for record in next(iter(by_all_steps.values()))] == [
        "sn_s0",
        "sn_s1",
        "sn_long_s2",
    ]
    record = read_run(paths[0])
    assert record.column("step") == [100.0, 200.0]
    assert record.final("fcd") == 30.0


def test_read_run_refuses_a_folder_without_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        read_run(str(tmp_path))


def test_a_recorded_run_keeps_its_flags_and_metrics_but_not_the_machine_paths(tmp_path):
    source = write_run(tmp_path / "machine", "sn_s0", "sn", 0, [50.0, 30.0])
    config_path = os.path.join(source, "config.json")
    with open(config_path) as handle:
        config = json.load(handle)
    config["run"]["data_dir"] = "/home/someone/tfds"
    config["history"] = [
        {"start_step": 0, "changed": {"model_dir": [None, source]}},
        {"start_step": 100, "changed": {"model_dir": ["/old", source], "steps": [100, 200]}},
    ]
    with open(config_path, "w") as handle:
        json.dump(config, handle)
    destination = record_run(source, str(tmp_path / "study"))
    assert destination == str(tmp_path / "study" / "sn_s0")
    with open(os.path.join(destination, "config.json")) as handle:
        recorded = json.load(handle)
    assert str(tmp_path) not in json.dumps(recorded) and "/home/someone" not in json.dumps(recorded)
    expected_run = {k: v for k, v in config["run"].items() if k not in ("model_dir", "data_dir")}
    assert recorded["run"] == expected_run
    assert recorded["history"] == [{"start_step": 100, "changed": {"steps": [100, 200]}}]
    with open(os.path.join(source, "metrics.csv"), "rb") as original:
        with open(os.path.join(destination, "metrics.csv"), "rb") as copy:
            assert copy.read() == original.read()
    # The record reads back as the same run, under the study's folder.
    assert read_run(destination).rows == read_run(source).rows
    assert read_run(destination).flags == expected_run
    # Recording it again is harmless.
    assert record_run(source, str(tmp_path / "study")) == destination


def test_recording_refuses_unfinished_runs_and_name_clashes(tmp_path, monkeypatch):
    unfinished = write_run(tmp_path / "a", "sn_s0", "sn", 0, [50.0], steps=500)
    with pytest.raises(RecordError, match="up to step 100 of its steps=500"):
        record_run(unfinished, str(tmp_path / "study"))
    assert not os.path.exists(tmp_path / "study" / "sn_s0")
    record_run(write_run(tmp_path / "b", "sn_s0", "sn", 0, [50.0, 30.0]), str(tmp_path / "study"))
    other = write_run(tmp_path / "c", "sn_s0", "sn", 0, [50.0, 31.0])
    with pytest.raises(RecordError, match="already records another run named sn_s0"):
        record_run(other, str(tmp_path / "study"))
    assert read_run(str(tmp_path / "study" / "sn_s0")).final("fcd") == 30.0
    # "." is the current folder's name, never the study folder itself.
    monkeypatch.chdir(other)
    with pytest.raises(RecordError, match="another run named sn_s0"):
        record_run(".", str(tmp_path / "study"))


def test_divergence_reasons(tmp_path):
    fine = read_run(write_run(tmp_path, "a", "sn", 0, [50.0, 30.0, 40.0]))
    rising = read_run(write_run(tmp_path, "b", "sn", 1, [50.0, 20.0, 31.0]))
    stopped = read_run(write_run(tmp_path, "c", "sn", 2, [50.0], steps=500))
    assert study.run_diverged(fine, rise_factor=1.5) is None  # 40 <= 1.5 * 30
    assert "rose from 20 to 31" in study.run_diverged(rising, rise_factor=1.5)
    assert "stopped" in study.run_diverged(stopped, rise_factor=1.5)


def test_study_table_json_and_readme_block(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, "sn_s0", "sn", 0, [50.0, 30.0])
    write_run(runs, "sn_s1", "sn", 1, [60.0, 20.0])
    write_run(runs, "bssn_s0", "bssn", 0, [40.0, 10.0])
    write_run(runs, "bssn_s1", "bssn", 1, [45.0, 14.0])
    readme = tmp_path / "README.md"
    begin, end = markers("study")
    long_begin, long_end = markers("convergence")
    readme.write_text(
        f"# Zoo\nkept above\n\n{begin}\nold\n{end}\nbetween\n{long_begin}\n{long_end}\nkept below\n"
    )
    out_dir = tmp_path / "out"
    study.run_study(
        study.StudyConfig(
            runs=f"{runs}/*", out_dir=str(out_dir), readme=str(readme), convergence_min_steps=100
        )
    )
    record = json.loads((out_dir / "study.json").read_text())
    by_norm = {row["norm"]: row for row in record["settings"]}
    assert by_norm["sn"]["fcd"]["mean"] == pytest.approx(25.0)
    assert by_norm["sn"]["fcd"]["std"] == pytest.approx(np.std([30.0, 20.0], ddof=1))
    assert by_norm["bssn"]["fcd"]["mean"] == pytest.approx(12.0)
    assert by_norm["bssn"]["kcd"]["mean"] == pytest.approx(0.012)
    assert record["varying_flags"] == ["norm", "scale"]
    text = readme.read_text()
    assert text.startswith("# Zoo\nkept above\n") and text.endswith("kept below\n")
    assert "old" not in text
    assert "| base | bssn | 1.2 | 2 | 12.00 ± 2.83 | 0.012 ± 0.003 |" in text
    assert "| base | sn | - | 2 | 25.00 ± 7.07 |" in text
    assert (
        "base: bssn (c=1.2) has the lower final FCD than sn in 2 of 2 seeds "
        "(seed 0: 10.0 vs 30.0, seed 1: 14.0 vs 20.0)."
    ) in text
    assert (out_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Convergence rows: best FCDs 10 and 14 at step 200 for bssn; two evaluations are
    # too few for a plateau; sn_s0 never reaches FCD 20 (its best is 30).
    assert "\nbetween\n" in text
    assert (
        "| base | bssn | 1.2 | 2 | 12.00 ± 2.83 | 12.00 ± 2.83 | 200, 200 | -, - | 200, 200 | 0/2"
        in (text)
    )
    assert (
        "| base | sn | - | 2 | 25.00 ± 7.07 | 25.00 ± 7.07 | 200, 200 | -, - | -, 200 | 0/2" in text
    )


def run_zoo_study(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "train.zoo_study", *arguments],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_cli_names_a_glob_that_matches_nothing(tmp_path):
    result = run_zoo_study(f"--runs={tmp_path}/none*")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"runs={tmp_path}/none* matches no run directory" in result.stderr


def test_the_cli_records_runs_then_builds_the_tables(tmp_path):
    finished = write_run(tmp_path / "machine", "bssn_s0", "bssn", 0, [40.0, 10.0])
    unfinished = write_run(tmp_path / "machine", "sn_s0", "sn", 0, [50.0], steps=300)
    readme = tmp_path / "README.md"
    readme.write_text("# Zoo\n")
    study_dir = tmp_path / "study"
    common = [f"--runs={study_dir}/*", f"--out_dir={study_dir}", f"--readme={readme}"]
    result = run_zoo_study(*common, f"--record={finished}")
    assert result.returncode == 0, result.stderr
    assert "| base | bssn | 1.2 | 1 | 10.00 |" in result.stdout
    result = run_zoo_study(*common, f"--record={unfinished}")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "zoo_study: error:" in result.stderr and "only a finished run" in result.stderr
    assert sorted(os.listdir(study_dir)) == ["bssn_s0", "curves.png", "study.json"]


def test_describe_names_unset_flags_as_default_and_skips_the_norm():
    setting = {"norm": "bssn", "scale": 1.0, "image_size": None, "jit_compile": False}
    assert study.describe(setting) == "image_size=default, jit_compile=False"
    assert study.describe({"norm": "sn", "scale": None}) == "base"
