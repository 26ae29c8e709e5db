"""The paper's three claims, measured on small models: each returns its record and writes it.

- `exploding`: the same D (paper init) under none / sn / bssn; per-layer
  kernel-gradient norms and ||dD/dx|| over training. SN bounds them.
- `vanishing`: a deeper D; gradient norms over depth at init and after
  training, effective weight scales, exact-over-reshaped operator norms, and
  an at-init sweep over depth. Exact SN makes gradients vanish.
- `quality`: a stability grid lr x n_dis x {sn, bssn} x seeds; FCD curves.

Each claim writes `<claim>_*.png` and `<claim>.json` (the numbers behind the
figures, and the settings that made them) into `config.out_dir`, atomically.
docs/CLAIMS.md describes the results.
"""

import dataclasses
import math
import os
from typing import Optional

import keras
import tensorflow as tf

from bssn_tf import data
from bssn_tf.analysis import plots
from bssn_tf.analysis.convergence import mean_std, why_diverged
from bssn_tf.analysis.gradient_norms import OBJECTIVES, input_gradient_stats, layer_gradient_norms
from bssn_tf.analysis.operator_norm_ratio import operator_norm_ratios
from bssn_tf.analysis.weight_scale import effective_weight_scales
from bssn_tf.io import write_json_atomically
from bssn_tf.models import cnn_discriminator, cnn_generator, effective_scale
from bssn_tf.training import GANTrainer, TrainConfig, inputs
from bssn_tf.training.duties import finite_or_none
from bssn_tf.training.run_records import read_run
from bssn_tf.workflows import stepping
from bssn_tf.workflows.parallel_runs import train_all

# Per-claim defaults, sized for ~20 minutes each on 2 shared CPU cores.
DEFAULTS = {
    "exploding": {"steps": 300, "width": 0.25, "repeats": 1},
    "vanishing": {"steps": 100, "width": 0.25, "repeats": 3},
    "quality": {"steps": 100, "width": 0.125, "seeds": 1, "eval_every": 25},
}
CLAIM_NORMS = {
    "exploding": ("none", "sn", "bssn"),
    "vanishing": ("none", "sn", "exact", "bsn", "bssn"),
    "quality": ("sn", "bssn"),
}
IMAGE_SIZE, CHANNELS = 28, 1
# The paper's variant with n_dis=5 uses Adam betas (0.5, 0.9); n_dis=1 uses (0.5, 0.999).
BETA1 = 0.5


def beta2_for(n_dis):
    return 0.9 if n_dis > 1 else 0.999


@dataclasses.dataclass(frozen=True)
class ClaimsConfig:
    """One claim run. Fields left None take the claim's default (DEFAULTS, CLAIM_NORMS).

    `repeats` is the number of copies of each stride-1 conv3x3 in D (1: the
    paper's D); `depth_repeats` are the `repeats` values of the vanishing
    claim's at-init depth sweep. `lr`, `log_every`, `objective` and
    `power_iterations` apply to exploding/vanishing; `lrs`, `n_dis`, `seeds`,
    `parallel_runs`, `eval_*` and `rise_factor` to quality; `jit_compile` to all.
    """

    claim: str
    out_dir: str = "docs/claims"
    work_dir: str = "/tmp/bssn_claims"
    dataset: str = "mnist5k"
    steps: Optional[int] = None
    width: Optional[float] = None
    seeds: Optional[int] = None
    batch_size: int = 64
    lr: float = 2e-4
    log_every: int = 10
    repeats: Optional[int] = None
    # The scale the recorded claims ran at (docs/CLAIMS.md), not today's default.
    bssn_scale: float = 1.6
    norms: Optional[tuple] = None
    lrs: tuple = (1e-4, 2e-4, 4e-4)
    n_dis: tuple = (1, 5)
    parallel_runs: int = 2
    jit_compile: bool = True
    eval_every: Optional[int] = None
    eval_num_samples: int = 1000
    rise_factor: float = 1.5
    objective: str = "mean_output"
    depth_repeats: tuple = (1, 2, 3, 4, 5)
    power_iterations: int = 100

    def __post_init__(self):
        if self.claim not in CLAIMS:
            raise ValueError(f"claim must be one of {sorted(CLAIMS)}; got claim={self.claim!r}.")
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"objective must be one of {sorted(OBJECTIVES)}; got objective={self.objective!r}."
            )
        allowed = CLAIM_NORMS[self.claim]
        if self.norms is not None:
            unknown = [norm for norm in self.norms if norm not in allowed]
            if unknown:
                raise ValueError(
                    f"norms for claim {self.claim} must come from {allowed}; got {unknown}."
                )
        # Resolve the per-claim defaults once, so every reader sees plain values.
        for name, value in DEFAULTS[self.claim].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        object.__setattr__(self, "norms", tuple(self.norms) if self.norms else allowed)
        for name in ("lrs", "n_dis", "depth_repeats"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def scale_for(self, norm):
        """The scale a `norm` D uses: bssn_scale for the scaled norms, 1.0 otherwise."""
        return effective_scale(norm, self.bssn_scale)


def _save_record(config, record):
    write_json_atomically(os.path.join(config.out_dir, f"{record['claim']}.json"), record)
    return record


# ------------------------------------------- the library trainer, any given D


def _init_for(claim, norm):
    # The vanishing claim gives the unnormalized D LeCun init, the baseline SN is said to mimic.
    return "lecun" if claim == "vanishing" and norm == "none" else "reference"


def deep_discriminator(config, norm, repeats):
    """The claims' D: the paper's CNN D with `repeats` copies of each stride-1 conv3x3."""
    return cnn_discriminator(
        IMAGE_SIZE,
        CHANNELS,
        norm,
        config.scale_for(norm),
        config.width,
        conv3x3_repeats=repeats,
        init=_init_for(config.claim, norm),
    )


def make_trainer(config, norm, seed=0):
    """A GANTrainer (the paper's step schedule) with the claims' D, seeded with `seed`."""
    keras.utils.set_random_seed(seed)
    train_config = TrainConfig(
        model_dir=config.work_dir,
        dataset=config.dataset,
        width=config.width,
        norm=norm,
        scale=config.scale_for(norm),
        batch_size=config.batch_size,
        g_lr=config.lr,
        d_lr=config.lr,
        beta1=BETA1,
        beta2=beta2_for(1),
        seed=seed,
        # The recorded claims ran compiled; the machine's fastest path could differ.
        jit_compile=config.jit_compile,
    )
    return GANTrainer(
        train_config,
        tf.distribute.get_strategy(),
        lambda: cnn_generator(IMAGE_SIZE, CHANNELS, train_config.z_dim, config.width),
        lambda: deep_discriminator(config, norm, config.repeats),
    )


def probe_batches(config, seed=0):
    """A fixed real batch and a fixed z batch for measurements."""
    real = data.load_array(config.dataset, "train", image_size=IMAGE_SIZE, limit=config.batch_size)
    z_dim = TrainConfig.z_dim
    return real, inputs.latent_batch(seed, inputs.SAMPLE_STREAM, 0, config.batch_size, z_dim)


def measure(trainer, objective, real, z):
    """Per-layer kernel-gradient norms of `objective` on real images, and ||dD/dx||."""
    discriminator = trainer.discriminator
    fake = trainer.generate(z)
    return {
        "layer_grad_norms": layer_gradient_norms(discriminator, real, objective),
        "input_grad_norm": {
            "real": input_gradient_stats(discriminator, real),
            "fake": input_gradient_stats(discriminator, fake),
        },
    }


def train_and_measure(trainer, objective, steps, measure_every, real, z):
    """Trains `steps` steps, measuring at step 0, every `measure_every` and at the end."""
    measured = {"steps": [], "measurements": []}

    def on_step(step):
        if step % measure_every == 0 or step == steps:
            measured["steps"].append(step)
            measured["measurements"].append(measure(trainer, objective, real, z))

    history = stepping.run_steps(trainer, steps, IMAGE_SIZE, on_step)
    return dict(history, **measured)


def series(history, *keys):
    """One measured quantity over the recorded steps, e.g. ("input_grad_norm", "real", "mean")."""
    values = []
    for record in history["measurements"]:
        for key in keys:
            record = record[key]
        values.append(finite_or_none(record))
    return values


def _gradient_claim_settings(config):
    """The settings both gradient claims (exploding, vanishing) record."""
    return {
        "steps": config.steps,
        "width": config.width,
        "repeats": config.repeats,
        "lr": config.lr,
        "batch_size": config.batch_size,
        "bssn_scale": config.bssn_scale,
        "seed": 0,
        "objective": f"{config.objective} of D on a fixed real batch",
    }


# ------------------------------------------------------------------- claim 1


def exploding(config):
    """Same D (paper init), norm none / sn / bssn: gradient norms over training."""
    real, z = probe_batches(config)
    runs = {}
    for norm in config.norms:
        print(f"exploding: norm={norm}", flush=True)
        trainer = make_trainer(config, norm)
        history = train_and_measure(
            trainer, config.objective, config.steps, config.log_every, real, z
        )
        layers = list(history["measurements"][0]["layer_grad_norms"])
        runs[norm] = {
            "steps": history["steps"],
            "diverged_at": history["diverged_at"],
            "d_loss": history["d_loss"],
            "g_loss": history["g_loss"],
            "layer_grad_norms": {
                layer: series(history, "layer_grad_norms", layer) for layer in layers
            },
            "input_grad_norm": {
                kind: {
                    stat: series(history, "input_grad_norm", kind, stat)
                    for stat in ("mean", "min", "max")
                }
                for kind in ("real", "fake")
            },
        }
    plots.plot_exploding(runs, config.objective, config.out_dir)
    return _save_record(
        config,
        {
            "claim": "exploding",
            "settings": dict(
                _gradient_claim_settings(config),
                init="truncated normal stddev 0.02 for every norm",
            ),
            "summary": {norm: exploding_summary(run) for norm, run in runs.items()},
            "runs": runs,
        },
    )


def exploding_summary(run):
    """Largest layer-gradient norm (over the run and at init) and ||dD/dx|| at start and end."""
    finite = lambda values: [value for value in values if value is not None]
    layer_values = [finite(values) for values in run["layer_grad_norms"].values()]
    input_mean = finite(run["input_grad_norm"]["real"]["mean"])
    return {
        "max_layer_grad_norm": max(max(values) for values in layer_values),
        "max_layer_grad_norm_at_init": max(values[0] for values in layer_values),
        "input_grad_norm_real_mean_init": input_mean[0],
        "input_grad_norm_real_mean_final": input_mean[-1],
        "input_grad_norm_real_max_over_run": max(finite(run["input_grad_norm"]["real"]["max"])),
        "diverged_at": run["diverged_at"],
    }


# ------------------------------------------------------------------- claim 2


def vanishing(config):
    """Deeper D; per-layer gradient norms vs depth at init and after training."""
    real, z = probe_batches(config)
    runs = {}
    for norm in config.norms:
        print(f"vanishing: norm={norm}", flush=True)
        trainer = make_trainer(config, norm)
        snapshots = {}
        history = None
        for moment in ("init", "trained"):
            if moment == "trained":
                history = stepping.run_steps(trainer, config.steps, IMAGE_SIZE)
            measured = measure(trainer, config.objective, real, z)
            snapshots[moment] = {
                "layer_grad_norms": measured["layer_grad_norms"],
                "input_grad_norm": measured["input_grad_norm"],
                "weight_scales": effective_weight_scales(trainer.discriminator),
                "operator_norm_ratios": operator_norm_ratios(
                    trainer.discriminator, config.power_iterations
                ),
            }
        runs[norm] = dict(
            snapshots,
            diverged_at=history["diverged_at"],
            kernel_init="lecun" if norm == "none" else "truncated normal 0.02",
        )
    summary = {
        norm: {moment: vanishing_summary(run[moment]) for moment in ("init", "trained")}
        for norm, run in runs.items()
    }
    sweep = depth_sweep(config, real)
    for norm, points in sweep.items():
        summary[norm]["depth_sweep_input_grad_norm"] = {
            str(point["layers"]): point["input_grad_norm_real_mean"] for point in points
        }
    plots.plot_vanishing(runs, config.steps, sweep, config.objective, config.out_dir)
    return _save_record(
        config,
        {
            "claim": "vanishing",
            "settings": dict(
                _gradient_claim_settings(config), power_iterations=config.power_iterations
            ),
            "summary": summary,
            "runs": runs,
            "depth_sweep": sweep,
        },
    )


def depth_sweep(config, real):
    """At init, for each norm and depth: gradient norms of the first and last layer, ||dD/dx||."""
    sweep = {}
    for norm in config.norms:
        for repeats in config.depth_repeats:
            keras.utils.set_random_seed(0)
            discriminator = deep_discriminator(config, norm, int(repeats))
            norms = list(layer_gradient_norms(discriminator, real, config.objective).values())
            sweep.setdefault(norm, []).append(
                {
                    "repeats": int(repeats),
                    "layers": len(norms),
                    "first_layer_grad_norm": norms[0],
                    "last_layer_grad_norm": norms[-1],
                    "input_grad_norm_real_mean": input_gradient_stats(discriminator, real)["mean"],
                }
            )
    return sweep


def vanishing_summary(snapshot):
    """First/last layer-gradient norms, their ratio and geometric mean, median scales and ratios."""
    norms = list(snapshot["layer_grad_norms"].values())
    scales = [entry["std_over_lecun"] for entry in snapshot["weight_scales"].values()]
    ratios = [entry["ratio"] for entry in snapshot["operator_norm_ratios"].values()]
    return {
        "first_layer_grad_norm": norms[0],
        "last_layer_grad_norm": norms[-1],
        "first_over_last": norms[0] / norms[-1] if norms[-1] else None,
        "geometric_mean_grad_norm": math.exp(
            sum(math.log(max(v, 1e-30)) for v in norms) / len(norms)
        ),
        "input_grad_norm_real_mean": snapshot["input_grad_norm"]["real"]["mean"],
        "median_std_over_lecun": sorted(scales)[len(scales) // 2],
        "median_exact_over_reshaped": sorted(ratios)[len(ratios) // 2],
    }


# ------------------------------------------------------------------- claim 3


def quality_run_dir(config, norm, lr, n_dis, seed):
    return os.path.join(config.work_dir, "quality", f"{norm}_lr{lr:g}_ndis{n_dis}_seed{seed}")


def quality_train_config(config, norm, lr, n_dis, seed):
    """The library TrainConfig of one grid run."""
    return TrainConfig(
        model_dir=quality_run_dir(config, norm, lr, n_dis, seed),
        dataset=config.dataset,
        width=config.width,
        norm=norm,
        scale=config.scale_for(norm),
        steps=config.steps,
        batch_size=config.batch_size,
        n_dis=n_dis,
        g_lr=lr,
        d_lr=lr,
        beta1=BETA1,
        beta2=beta2_for(n_dis),
        seed=seed,
        checkpoint_every=config.steps,
        sample_every=0,
        eval_every=config.eval_every,
        eval_num_samples=config.eval_num_samples,
        eval_num_real=config.eval_num_samples,
        log_every=config.steps,
        jit_compile=config.jit_compile,
    )


def quality(config):
    """Stability grid lr x n_dis x {sn, bssn} x seeds; FCD curves and final FCD per cell."""
    lrs = [float(value) for value in config.lrs]
    n_dis_values = [int(value) for value in config.n_dis]
    grid = [(lr, n_dis, norm) for lr in lrs for n_dis in n_dis_values for norm in config.norms]
    # Every cell's seed 0 first: an interrupted grid leaves complete seeds,
    # which a rerun with fewer seeds reuses (finished runs are not retrained).
    order = [(lr, n_dis, norm, seed) for seed in range(config.seeds) for lr, n_dis, norm in grid]
    print(f"quality: {len(order)} runs, {config.parallel_runs} at a time", flush=True)
    configs = [
        quality_train_config(config, norm, lr, n_dis, seed) for lr, n_dis, norm, seed in order
    ]
    errors = dict(zip(order, train_all(configs, config.parallel_runs)))
    cells = []
    for lr, n_dis, norm in grid:
        runs = []
        for seed in range(config.seeds):
            error = errors[(lr, n_dis, norm, seed)]
            record = read_run(quality_run_dir(config, norm, lr, n_dis, seed))
            run_steps, fcds = record.column("step"), record.column("fcd")
            runs.append(
                {
                    "seed": seed,
                    "steps": run_steps,
                    "fcd": fcds,
                    "error": error,
                    "diverged": why_diverged(
                        fcds, config.rise_factor, None if error is None else "non-finite loss"
                    ),
                }
            )
        finals = [run["fcd"][-1] for run in runs if run["fcd"] and not run["error"]]
        final_mean, final_std = mean_std(finals) if finals else (None, None)
        cells.append(
            {
                "norm": norm,
                "lr": lr,
                "n_dis": n_dis,
                "runs": runs,
                "final_fcd_mean": final_mean,
                "final_fcd_std": final_std,
                "diverged_runs": sum(run["diverged"] is not None for run in runs),
            }
        )
    plots.plot_quality(cells, lrs, n_dis_values, CLAIM_NORMS["quality"], config.out_dir)
    return _save_record(
        config,
        {
            "claim": "quality",
            "settings": {
                "steps": config.steps,
                "width": config.width,
                "seeds": config.seeds,
                "eval_every": config.eval_every,
                "eval_num_samples": config.eval_num_samples,
                "eval_num_real": config.eval_num_samples,
                "batch_size": config.batch_size,
                "bssn_scale": config.bssn_scale,
                "lrs": lrs,
                "n_dis": n_dis_values,
                "betas": "(0.5, 0.999) for n_dis=1, (0.5, 0.9) for n_dis>1",
                "rise_factor": config.rise_factor,
                "extractor": "digits (shipped classifier)",
            },
            "summary": quality_summary(cells),
            "cells": cells,
        },
    )


def quality_summary(cells):
    """Per norm: cells, runs, diverged runs, best/worst/mean cell FCD; and bssn-vs-sn wins."""
    summary = {}
    for norm in sorted({cell["norm"] for cell in cells}):
        mine = [cell for cell in cells if cell["norm"] == norm]
        finals = [cell["final_fcd_mean"] for cell in mine if cell["final_fcd_mean"] is not None]
        summary[norm] = {
            "cells": len(mine),
            "diverged_runs": sum(cell["diverged_runs"] for cell in mine),
            "runs": sum(len(cell["runs"]) for cell in mine),
            "best_cell_final_fcd": min(finals) if finals else None,
            "worst_cell_final_fcd": max(finals) if finals else None,
            "mean_cell_final_fcd": sum(finals) / len(finals) if finals else None,
        }
    final = {(cell["norm"], cell["lr"], cell["n_dis"]): cell["final_fcd_mean"] for cell in cells}
    paired = [
        (value, final.get(("bssn", lr, n_dis)))
        for (norm, lr, n_dis), value in final.items()
        if norm == "sn"
    ]
    paired = [(sn, bssn) for sn, bssn in paired if sn is not None and bssn is not None]
    if paired:
        summary["cells_where_bssn_beats_sn"] = f"{sum(b < s for s, b in paired)}/{len(paired)}"
    return summary


CLAIMS = {"exploding": exploding, "vanishing": vanishing, "quality": quality}


def reproduce_claim(config):
    """Runs `config.claim`, writes its figures and JSON into `config.out_dir`; returns the record.

    Raises:
      ValueError: from ClaimsConfig for a bad claim, objective or norm list.
    """
    os.makedirs(config.out_dir, exist_ok=True)
    return CLAIMS[config.claim](config)
