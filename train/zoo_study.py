"""Tables and curves of the zoo study: SN against BSSN across seeds and settings.

  python -m train.zoo_study --runs='zoo/study/*' --out_dir=zoo/study --readme=zoo/README.md

Runs are grouped by every training flag except the seed
(`bssn_tf.training.run_records`), so each table row is a set of runs whose
flags are identical but for the seed. Writes `curves.png` (FCD over steps,
mean and std over seeds) and `study.json` into --out_dir, and rewrites the
block "study" of --readme (bssn_tf/io/markdown_block.py); the rest is kept.
"""

import dataclasses
import glob
import math
import os
import sys
import textwrap

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from absl import (
    app,  # noqa: E402
    flags,  # noqa: E402
)

from bssn_tf.analysis.convergence import convergence, first_step_at_or_below
from bssn_tf.io import write_json_atomically  # noqa: E402
from bssn_tf.io.markdown_block import rewrite_block  # noqa: E402
from bssn_tf.training.run_records import (  # noqa: E402
    fcd_divergence,
    group_by_setting,
    mean_std,
    read_run,
)
from train.figure_file import save_figure

_RUNS = flags.DEFINE_string("runs", "zoo/study/*", "Glob of run directories.")
_OUT_DIR = flags.DEFINE_string("out_dir", "zoo/study", "Where curves.png and study.json go.")
_README = flags.DEFINE_string("readme", "zoo/README.md", "README whose study block is rewritten.")
_RISE_FACTOR = flags.DEFINE_float(
    "rise_factor",
    1.5,
    "A run diverged if it stopped early or its last FCD exceeds this times its best.",
)

_CONVERGENCE_MIN_STEPS = flags.DEFINE_integer(
    "convergence_min_steps", 5000, "Settings trained at least this long get convergence rows."
)

README_BLOCK = "study"
CONVERGENCE_BLOCK = "convergence"
# The FCD (2,000 samples) whose first crossing measures learning speed.
FCD_TARGET = 20.0
# Flags that tell a setting apart in the tables when they differ between groups.
NORM_FLAGS = ("norm", "scale")


def diverged(record, rise_factor):
    """Why the run counts as diverged, or None."""
    if not record.rows or record.final("step") < record.flags["steps"]:
        return "stopped before its last step"
    return fcd_divergence(record.column("fcd"), rise_factor)


def varying_flags(groups):
    """Flags whose value differs between groups: the ones worth printing."""
    settings = [dict(key) for key in groups]
    names = sorted({name for setting in settings for name in setting})
    return [name for name in names if len({repr(setting.get(name)) for setting in settings}) > 1]


def summarize(groups, rise_factor):
    varying = varying_flags(groups)
    rows = []
    for key, records in groups.items():
        setting = dict(key)
        row = {
            "setting": {name: setting.get(name) for name in varying},
            "norm": setting["norm"],
            "scale": setting["scale"],  # None if unused
            "steps": setting.get("steps"),  # None when grouped across step budgets
            "seeds": [record.flags["seed"] for record in records],
            "runs": [record.name for record in records],
            "diverged": {
                record.name: reason
                for record in records
                if (reason := diverged(record, rise_factor))
            },
        }
        for metric in ("fcd", "kcd", "classifier_score"):
            finals = [record.final(metric) for record in records if record.rows]
            row[metric] = dict(zip(("mean", "std"), mean_std(finals)), values=finals)
        curves = [(record, record.column("step"), record.column("fcd")) for record in records]
        row["convergence"] = {
            record.name: dict(
                dataclasses.asdict(convergence(steps, fcds)),
                steps_to_fcd_target=first_step_at_or_below(steps, fcds, FCD_TARGET),
            )
            for record, steps, fcds in curves
            if fcds and all(math.isfinite(fcd) for fcd in fcds)
        }
        row["curves"] = [
            {"steps": record.column("step"), "fcd": record.column("fcd")} for record in records
        ]
        rows.append(row)
    return varying, rows


def _describe(setting, skip=NORM_FLAGS):
    return (
        ", ".join(f"{name}={value}" for name, value in setting.items() if name not in skip)
        or "base"
    )


def _mean_std_text(stat, digits):
    """ "mean ± std", or the single value of a one-seed setting."""
    if len(stat["values"]) == 1:
        return f"{stat['mean']:.{digits}f}"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def markdown_table(rows):
    lines = [
        "| setting | norm | scale | seeds | final FCD | final KCD | classifier score | diverged |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in sorted(
        rows, key=lambda row: (_describe(row["setting"]), row["norm"], row["scale"] or 0)
    ):
        scale = "-" if row["scale"] is None else row["scale"]
        diverged_runs = "; ".join(f"{name}: {why}" for name, why in row["diverged"].items())
        lines.append(
            f"| {_describe(row['setting'])} | {row['norm']} | {scale} | {len(row['seeds'])} "
            f"| {_mean_std_text(row['fcd'], 2)} | {_mean_std_text(row['kcd'], 3)} "
            f"| {_mean_std_text(row['classifier_score'], 2)} "
            f"| {len(row['diverged'])}/{len(row['seeds'])} {diverged_runs} |"
        )
    return "\n".join(lines)


def _steps_text(values):
    """ "a, b, c" of steps, "-" standing for a run that never got there."""
    return ", ".join("-" if value is None else str(value) for value in values)


def convergence_table(rows):
    """Best and final FCD, plateau, speed and degradation of each setting's runs."""
    lines = [
        f"| setting | norm | scale | seeds | best FCD | final FCD | step of best "
        f"| plateau step | steps to FCD {FCD_TARGET:g} | degraded after best |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in sorted(rows, key=lambda row: (_describe(row["setting"]), row["norm"])):
        runs = list(row["convergence"].values())
        if not runs:
            continue
        best = {"values": [run["best_fcd"] for run in runs]}
        final = {"values": [run["final_fcd"] for run in runs]}
        for stat in (best, final):
            stat["mean"], stat["std"] = mean_std(stat["values"])
        degraded = [
            f"{name} ({run['final_over_best']:.2f}x best)"
            for name, run in row["convergence"].items()
            if run["degraded"]
        ]
        scale = "-" if row["scale"] is None else row["scale"]
        lines.append(
            f"| {_describe(row['setting'])} | {row['norm']} | {scale} | {len(runs)} "
            f"| {_mean_std_text(best, 2)} | {_mean_std_text(final, 2)} "
            f"| {_steps_text(run['best_step'] for run in runs)} "
            f"| {_steps_text(run['plateau_step'] for run in runs)} "
            f"| {_steps_text(run['steps_to_fcd_target'] for run in runs)} "
            f"| {len(degraded)}/{len(runs)} {'; '.join(degraded)} |"
        )
    return "\n".join(lines)


def seed_pairs(rows, baseline="sn"):
    """Per setting, each scaled/other norm against `baseline` seed by seed (same flags else)."""
    lines = []
    by_setting = {}
    for row in rows:
        by_setting.setdefault(_describe(row["setting"]), []).append(row)
    for setting, group in sorted(by_setting.items()):
        base = next((row for row in group if row["norm"] == baseline), None)
        if base is None:
            continue
        base_fcd = dict(zip(base["seeds"], base["fcd"]["values"]))
        for row in group:
            shared = [seed for seed in row["seeds"] if seed in base_fcd and row is not base]
            if len(shared) < 2:
                continue
            fcd = dict(zip(row["seeds"], row["fcd"]["values"]))
            wins = sum(fcd[seed] < base_fcd[seed] for seed in shared)
            pairs = ", ".join(
                f"seed {seed}: {fcd[seed]:.1f} vs {base_fcd[seed]:.1f}" for seed in shared
            )
            lines.append(
                f"- {setting}: {row['norm']} (c={row['scale']}) has the lower final "
                f"FCD than {baseline} in {wins} of {len(shared)} seeds ({pairs})."
            )
    return "\n".join(lines)


def plot_curves(rows, path):
    """One panel per setting (norm aside); a mean line and a std band per norm."""
    panels = {}
    for row in rows:
        panels.setdefault(_describe(row["setting"]), []).append(row)
    columns = min(2, len(panels))
    rows_of_panels = -(-len(panels) // columns)
    figure, axes = plt.subplots(
        rows_of_panels,
        columns,
        squeeze=False,
        layout="constrained",
        figsize=(6.5 * columns, 4.2 * rows_of_panels),
    )
    for axis in axes.flat[len(panels) :]:
        axis.set_visible(False)
    for axis, (title, panel_rows) in zip(axes.flat, panels.items()):
        for row in panel_rows:
            length = min(len(curve["fcd"]) for curve in row["curves"])
            steps = row["curves"][0]["steps"][:length]
            fcds = np.array([curve["fcd"][:length] for curve in row["curves"]])
            mean, std = fcds.mean(axis=0), fcds.std(axis=0, ddof=1 if len(fcds) > 1 else 0)
            label = row["norm"] + ("" if row["scale"] is None else f" c={row['scale']}")
            axis.plot(steps, mean, marker="o", label=f"{label} (n={len(fcds)})")
            axis.fill_between(steps, mean - std, mean + std, alpha=0.2)
        axis.set(xlabel="generator step", ylabel="FCD (lower is better)", yscale="log")
        axis.set_title(textwrap.fill(title, 60), fontsize=9)
        axis.legend()
    save_figure(figure, path)
    plt.close(figure)


def main(argv):
    del argv
    run_dirs = sorted(path for path in glob.glob(_RUNS.value) if os.path.isdir(path))
    if not run_dirs:
        sys.exit(f"--runs={_RUNS.value} matches no run directory.")
    records = [read_run(path) for path in run_dirs]
    varying, rows = summarize(group_by_setting(records), _RISE_FACTOR.value)
    # Long runs may stop at different steps (at or past their plateau): compare them all.
    long_records = [r for r in records if r.flags["steps"] >= _CONVERGENCE_MIN_STEPS.value]
    _, long_rows = summarize(group_by_setting(long_records, ignore=("steps",)), _RISE_FACTOR.value)
    os.makedirs(_OUT_DIR.value, exist_ok=True)
    plot_curves(rows, os.path.join(_OUT_DIR.value, "curves.png"))
    write_json_atomically(
        os.path.join(_OUT_DIR.value, "study.json"),
        {
            "varying_flags": varying,
            "rise_factor": _RISE_FACTOR.value,
            "settings": rows,
            "convergence_min_steps": _CONVERGENCE_MIN_STEPS.value,
            "convergence": long_rows,
        },
    )
    if long_rows:
        plot_curves(long_rows, os.path.join(_OUT_DIR.value, "convergence_curves.png"))
    table = markdown_table(rows) + "\n\n" + seed_pairs(rows)
    rewrite_block(_README.value, README_BLOCK, table)
    long_runs = convergence_table(long_rows)
    rewrite_block(_README.value, CONVERGENCE_BLOCK, long_runs)
    print(table + "\n\n" + long_runs)


if __name__ == "__main__":
    app.run(main)
