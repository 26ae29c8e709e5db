"""The zoo study: SN against BSSN across seeds and settings, as tables, JSON and curves.

Runs are grouped by every training flag except the seed
(`bssn_tf.training.run_records`), so each table row is a set of runs whose
flags are identical but for the seed. Long runs (at least
`convergence_min_steps`) are also grouped across step budgets, since each may
stop at or past its own plateau, and get a convergence table
(`bssn_tf.analysis.convergence`).
"""

import dataclasses
import glob
import math
import os
import re
from typing import Optional

from bssn_tf.analysis.convergence import (
    convergence,
    first_step_at_or_below,
    mean_std,
    why_diverged,
)
from bssn_tf.analysis.plots import plot_study_curves
from bssn_tf.analysis.scale_rule import RULE_SCALES, RULE_SEEDS, choose_scale, run_score
from bssn_tf.io import write_json_atomically
from bssn_tf.io.markdown_block import rewrite_block
from bssn_tf.training.run_records import group_by_setting, read_run, record_run

README_BLOCK = "study"
CONVERGENCE_BLOCK = "convergence"
SCALE_RULE_BLOCK = "scale-rule"
# Runs of the scale rule are recorded as rule_<norm>[_c<scale>]_s<seed>.
SCALE_RULE_PATTERN = r"rule_"
# The FCD (2,000 samples) whose first crossing measures learning speed.
FCD_TARGET = 20.0
# Flags that tell a setting apart in the tables when they differ between groups.
NORM_FLAGS = ("norm", "scale")


class StudyError(ValueError):
    """Nothing to study, or a bad study setting."""


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The rule's choice against other candidates (BSSN scales, or "sn") in one more
    setting, scored as the rule scores; runs are the records whose name matches
    `pattern` (re.match), and its table goes to README block `block`. With a `budget`,
    a second table scores each run on its evaluations up to that step only, so that
    runs stopped at different steps also meet on equal terms."""

    block: str
    pattern: str
    candidates: tuple
    seeds: tuple
    budget: Optional[int] = None


# Does the order hold on a second data set? digits_<norm>[_c<scale>]_s<seed>.
DIGITS_DIRECTION = Comparison("digits-direction", r"digits_", (1.0, 1.6, "sn"), (0, 1))
# The ResNet at 32 px, trained to its plateau: resnet_<norm>[_c<scale>]_s<seed> (the
# older 2,000-step pair, recorded as resnet_sn and resnet_bssn, is not part of it).
RESNET_PLATEAU = Comparison(
    "resnet-plateau", r"resnet_(sn|bssn_c[0-9.]+)_s[0-9]+$", (1.0, "sn"), (0, 1), budget=10000
)
COMPARISONS = (DIGITS_DIRECTION, RESNET_PLATEAU)


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Which runs, and where the tables, curves and JSON go.

    `record`: finished run directories copied into `out_dir` first
    (run_records.record_run). `rise_factor`: a run diverged if it stopped early
    or its last FCD exceeds this times its best. `convergence_min_steps`: runs
    trained at least this long get convergence rows.
    """

    runs: str = "zoo/study/*"
    out_dir: str = "zoo/study"
    readme: str = "zoo/README.md"
    record: tuple = ()
    rise_factor: float = 1.5
    convergence_min_steps: int = 2000


def run_diverged(record, rise_factor):
    """Why the run counts as diverged (convergence.why_diverged), or None."""
    stopped = not record.finished
    return why_diverged(
        record.column("fcd"), rise_factor, "stopped before its last step" if stopped else None
    )


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
                if (reason := run_diverged(record, rise_factor))
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


def describe(setting, skip=NORM_FLAGS):
    """A setting as "name=value, ..." without the norm flags, or "base".

    A flag left unset (None) reads "default": the run used the library's choice
    (the architecture's image size, the machine's compile path)."""
    return (
        ", ".join(
            f"{name}={'default' if value is None else value}"
            for name, value in setting.items()
            if name not in skip
        )
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
        rows, key=lambda row: (describe(row["setting"]), row["norm"], row["scale"] or 0)
    ):
        scale = "-" if row["scale"] is None else row["scale"]
        diverged_runs = "; ".join(f"{name}: {why}" for name, why in row["diverged"].items())
        lines.append(
            f"| {describe(row['setting'])} | {row['norm']} | {scale} | {len(row['seeds'])} "
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
    for row in sorted(rows, key=lambda row: (describe(row["setting"]), row["norm"])):
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
            f"| {describe(row['setting'])} | {row['norm']} | {scale} | {len(runs)} "
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
        by_setting.setdefault(describe(row["setting"]), []).append(row)
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


def _score_table(records, pattern, planned_seeds, max_step=None):
    """Markdown rows of the run_score of every finished run whose name matches
    `pattern`, per candidate (a BSSN scale, or "sn") and seed, with each candidate's mean.
    With `max_step`, only evaluations up to that step count, and a run that stopped
    before it has no score.

    Returns `(lines, {candidate: {seed: score}})`, or None when no run matches.
    """
    named = [r for r in records if re.match(pattern, r.name)]
    if not named:
        return None
    finished = [r for r in named if r.finished]
    if max_step is not None:
        finished = [r for r in finished if r.final("step") >= max_step]
    seeds = sorted({r.flags["seed"] for r in named} | set(planned_seeds))
    candidates = {}
    for record in finished:
        key = "sn" if record.flags["norm"] == "sn" else float(record.flags["scale"])
        kept = [row for row in record.rows if max_step is None or row["step"] <= max_step]
        steps, fcds = [row["step"] for row in kept], [row["fcd"] for row in kept]
        result = convergence(steps, fcds)
        candidates.setdefault(key, {})[record.flags["seed"]] = (run_score(result), result.degraded)
    lines = [
        "| candidate | " + " | ".join(f"seed {seed}" for seed in seeds) + " | mean ± sd |",
        "|---|" + "---:|" * (len(seeds) + 1),
    ]
    for key in sorted(candidates, key=lambda k: (k == "sn", 0 if k == "sn" else k)):
        by_seed = candidates[key]
        cells = [
            "-"
            if seed not in by_seed
            else f"{by_seed[seed][0]:.2f}" + (" (final: degraded)" if by_seed[seed][1] else "")
            for seed in seeds
        ]
        stat = {"values": [score for score, _ in by_seed.values()]}
        stat["mean"], stat["std"] = mean_std(stat["values"])
        lines.append(
            f"| {_candidate_name(key)} | " + " | ".join(cells) + f" | {_mean_std_text(stat, 2)} |"
        )
    scores = {
        key: {seed: score for seed, (score, _) in by_seed.items()}
        for key, by_seed in candidates.items()
    }
    return lines, scores


def _candidate_name(key):
    return "SN (baseline)" if key == "sn" else f"BSSN c={key}"


def _pending(scores, candidates, seeds):
    """How many of the planned (candidate, seed) runs have no score yet."""
    planned = [(key, seed) for key in candidates for seed in seeds]
    return sum(seed not in scores.get(key, {}) for key, seed in planned), len(planned)


def scale_rule_table(records):
    """The scale rule's scores per seed, their means, and its choice once every run is
    done; None when no run of the rule is among `records`."""
    table = _score_table(records, SCALE_RULE_PATTERN, RULE_SEEDS)
    if table is None:
        return None
    lines, scores = table
    missing, planned = _pending(scores, (*RULE_SCALES, "sn"), RULE_SEEDS)
    if missing:
        done = planned - missing
        lines += ["", f"Choice pending: {done} of the rule's {planned} runs have finished."]
        return "\n".join(lines)
    chosen, reason = choose_scale(
        {scale: [scores[scale][seed] for seed in RULE_SEEDS] for scale in RULE_SCALES}
    )
    lines += ["", f"**The rule chooses c = {chosen}**: {reason}."]
    return "\n".join(lines)


def comparison_table(records, comparison):
    """A Comparison's scores per seed and their order by mean once every planned run is
    done (and the same within its budget, if it has one); None when no run of it is
    among `records`."""
    table = _ordered_scores(records, comparison, None)
    if table is None or comparison.budget is None:
        return table
    return "\n\n".join(
        [
            "Each run to the step it stopped at:",
            table,
            f"Each run on its evaluations up to step {comparison.budget:,} only:",
            _ordered_scores(records, comparison, comparison.budget),
        ]
    )


def _ordered_scores(records, comparison, max_step):
    table = _score_table(records, comparison.pattern, comparison.seeds, max_step)
    if table is None:
        return None
    lines, scores = table
    missing, planned = _pending(scores, comparison.candidates, comparison.seeds)
    if missing:
        lines += ["", f"Order pending: {planned - missing} of {planned} runs have finished."]
        return "\n".join(lines)
    means = {key: mean_std(list(scores[key].values()))[0] for key in comparison.candidates}
    order = " < ".join(
        f"{'SN' if key == 'sn' else f'c={key}'} ({means[key]:.2f})"
        for key in sorted(means, key=means.get)
    )
    lines += ["", f"Order by mean score, best first: {order}."]
    return "\n".join(lines)


def run_study(config):
    """Reads the runs, writes curves.png, convergence_curves.png, study.json and the
    README blocks; returns the tables as markdown.

    Raises:
      StudyError: the glob matches no run directory.
      FileNotFoundError: a matched directory is not a training run.
      RecordError: a run to record is unfinished, or its name holds another run.
    """
    for model_dir in config.record:
        record_run(model_dir, config.out_dir)
    run_dirs = sorted(path for path in glob.glob(config.runs) if os.path.isdir(path))
    if not run_dirs:
        raise StudyError(f"runs={config.runs} matches no run directory.")
    records = [read_run(path) for path in run_dirs]
    varying, rows = summarize(group_by_setting(records), config.rise_factor)
    # Long runs may stop at different steps (at or past their plateau): compare them all.
    long_records = [r for r in records if r.flags["steps"] >= config.convergence_min_steps]
    long_groups = group_by_setting(long_records, ignore=("steps",))
    _, long_rows = summarize(long_groups, config.rise_factor)
    os.makedirs(config.out_dir, exist_ok=True)
    plot_study_curves(rows, os.path.join(config.out_dir, "curves.png"), describe)
    if long_rows:
        plot_study_curves(
            long_rows, os.path.join(config.out_dir, "convergence_curves.png"), describe
        )
    write_json_atomically(
        os.path.join(config.out_dir, "study.json"),
        {
            "varying_flags": varying,
            "rise_factor": config.rise_factor,
            "settings": rows,
            "convergence_min_steps": config.convergence_min_steps,
            "convergence": long_rows,
        },
    )
    table = markdown_table(rows) + "\n\n" + seed_pairs(rows)
    rewrite_block(config.readme, README_BLOCK, table)
    long_table = convergence_table(long_rows)
    rewrite_block(config.readme, CONVERGENCE_BLOCK, long_table)
    tables = [table, long_table]
    for block, table in (
        (SCALE_RULE_BLOCK, scale_rule_table(records)),
        *((each.block, comparison_table(records, each)) for each in COMPARISONS),
    ):
        if table is not None:
            rewrite_block(config.readme, block, table)
            tables.append(table)
    return "\n\n".join(tables)
