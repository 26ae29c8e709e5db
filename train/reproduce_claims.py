"""Reproduces the paper's three claims on the embedded digits, as figures and JSON.

  python -m train.reproduce_claims --claim=exploding   # SN bounds D's gradients
  python -m train.reproduce_claims --claim=vanishing   # exact SN makes them vanish
  python -m train.reproduce_claims --claim=quality     # BSSN vs SN: FCD and stability

Each claim writes `<claim>_*.png` and `<claim>.json` (the numbers behind the
figures, and the settings that made them) into --out_dir, atomically. The
defaults are sized for about 20 minutes per claim on 2 CPU cores; the paper's
own runs are 400k iterations at full width, so these are small-scale checks.
"""

import json
import math
import os
import sys

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import (
    app,  # noqa: E402
    flags,  # noqa: E402
)

from bssn_tf import analysis, data  # noqa: E402
from bssn_tf.io import write_json_atomically  # noqa: E402
from bssn_tf.layers import DEFAULT_BSSN_SCALE  # noqa: E402
from bssn_tf.models import cnn_generator  # noqa: E402
from bssn_tf.training import GANTrainer, TrainConfig, inputs  # noqa: E402
from bssn_tf.training.parallel_runs import train_all  # noqa: E402
from bssn_tf.training.run_records import fcd_divergence, mean_std, read_run  # noqa: E402
from train.figure_file import save_figure

_CLAIM = flags.DEFINE_enum("claim", None, ["exploding", "vanishing", "quality"], "Which claim.")
_OUT_DIR = flags.DEFINE_string("out_dir", "docs/claims", "Where figures and JSON go.")
_WORK_DIR = flags.DEFINE_string(
    "work_dir", "/tmp/bssn_claims", "Training run directories of the quality claim (resumable)."
)
_DATASET = flags.DEFINE_string("dataset", "mnist5k", "bssn_tf.data dataset name.")
_STEPS = flags.DEFINE_integer("steps", None, "Generator steps per run (default: per claim).")
_WIDTH = flags.DEFINE_float("width", None, "Channel multiplier (default: per claim).")
_SEEDS = flags.DEFINE_integer("seeds", None, "Seeds per quality setting (default 1).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Batch size.")
_LR = flags.DEFINE_float("lr", 2e-4, "Adam lr of G and D (exploding, vanishing).")
_LOG_EVERY = flags.DEFINE_integer("log_every", 10, "Steps between measurements (exploding).")
_REPEATS = flags.DEFINE_integer(
    "repeats",
    None,
    "Copies of each stride-1 conv3x3 in D (1: the paper's D; default: "
    "1 for exploding, 3 for vanishing).",
)
_SCALE = flags.DEFINE_float("bssn_scale", DEFAULT_BSSN_SCALE, "The scale c of BSSN.")
_NORMS = flags.DEFINE_list("norms", None, "D normalizations to compare (default: per claim).")
_LRS = flags.DEFINE_list("lrs", ["1e-4", "2e-4", "4e-4"], "Stability grid: learning rates.")
_N_DIS = flags.DEFINE_list("n_dis", ["1", "5"], "Stability grid: D steps per G step.")
_PARALLEL_RUNS = flags.DEFINE_integer(
    "parallel_runs",
    2,
    "Stability grid: training runs at once, each its own process with "
    "an equal share of the cores (on 2 cores, 2 is ~25% faster than 1).",
)
_JIT_COMPILE = flags.DEFINE_boolean("jit_compile", True, "Stability grid: XLA-compile the steps.")
_EVAL_EVERY = flags.DEFINE_integer(
    "eval_every", None, "Steps between FCD evaluations (quality; default 25)."
)
_EVAL_SAMPLES = flags.DEFINE_integer("eval_num_samples", 1000, "Generated images per FCD.")
_RISE_FACTOR = flags.DEFINE_float(
    "rise_factor", 1.5, "A quality run diverged if its last FCD exceeds this times its best."
)
_OBJECTIVE = flags.DEFINE_enum(
    "objective",
    "mean_output",
    sorted(analysis.OBJECTIVES),
    "Scalar of D(real batch) whose kernel gradients are measured (exploding, vanishing). "
    "hinge_real is 0 once every real logit passes the margin; mean_output never saturates.",
)
_DEPTHS = flags.DEFINE_list(
    "depth_repeats",
    ["1", "2", "3", "4", "5"],
    "Vanishing: --repeats values of the at-init depth sweep.",
)
_POWER_ITERATIONS = flags.DEFINE_integer(
    "power_iterations", 100, "Power steps for each exact conv-operator norm (vanishing)."
)

# Per-claim defaults, sized for ~20 minutes each on 2 shared CPU cores.
DEFAULTS = {
    "exploding": {"steps": 300, "width": 0.25, "repeats": 1},
    "vanishing": {"steps": 100, "width": 0.25, "repeats": 3},
    "quality": {"steps": 100, "width": 0.125, "seeds": 1, "eval_every": 25},
}
NORMS = {
    "exploding": ("none", "sn", "bssn"),
    "vanishing": ("none", "sn", "exact", "bsn", "bssn"),
    "quality": ("sn", "bssn"),
}
IMAGE_SIZE, CHANNELS, Z_DIM = 28, 1, 128
# The paper's variant with n_dis=5 uses Adam betas (0.5, 0.9); n_dis=1 uses (0.5, 0.999).
BETA1 = 0.5


def beta2_for(n_dis):
    return 0.9 if n_dis > 1 else 0.999


def setting(name, claim):
    """A flag's value, or the claim's default when the flag was left unset."""
    value = {
        "steps": _STEPS,
        "width": _WIDTH,
        "seeds": _SEEDS,
        "repeats": _REPEATS,
        "eval_every": _EVAL_EVERY,
    }[name].value
    return DEFAULTS[claim][name] if value is None else value


def norms_for(claim):
    """--norms, checked against the claim's own list, or that list."""
    if _NORMS.value is None:
        return NORMS[claim]
    unknown = [norm for norm in _NORMS.value if norm not in NORMS[claim]]
    if unknown:
        raise ValueError(f"--norms for claim {claim} must come from {NORMS[claim]}; got {unknown}.")
    return tuple(_NORMS.value)


# ---------------------------------------------------------------- file output


def save_json(record, path):
    write_json_atomically(path, record)


def finite_or_none(value):
    value = float(value)
    return value if math.isfinite(value) else None


# ------------------------------------------- the library trainer, any given D


def make_trainer(norm, repeats, width, seed, lr, init="reference"):
    """A GANTrainer (the paper's step schedule) with a deep-CNN D built with `init` kernels."""
    scale = _SCALE.value if norm == "bssn" else 1.0
    keras.utils.set_random_seed(seed)
    config = TrainConfig(
        model_dir=_WORK_DIR.value,
        dataset=_DATASET.value,
        width=width,
        norm=norm,
        scale=scale,
        batch_size=_BATCH_SIZE.value,
        g_lr=lr,
        d_lr=lr,
        beta1=BETA1,
        beta2=beta2_for(1),
        seed=seed,
    )
    strategy = tf.distribute.get_strategy()
    return GANTrainer(
        config,
        strategy,
        lambda: cnn_generator(IMAGE_SIZE, CHANNELS, config.z_dim, width),
        lambda: analysis.deep_cnn_discriminator(
            repeats,
            norm=norm,
            scale=scale,
            width=width,
            image_size=IMAGE_SIZE,
            channels=CHANNELS,
            init=init,
        ),
    )


def input_iterators(trainer):
    """The trainer's (real, z) and z input streams, from the first batch."""
    strategy = trainer.strategy
    return (
        iter(
            strategy.experimental_distribute_dataset(
                inputs.discriminator_inputs(trainer.config, IMAGE_SIZE, 0)
            )
        ),
        iter(strategy.experimental_distribute_dataset(inputs.generator_inputs(trainer.config, 0))),
    )


def probe_batches(seed, batch_size):
    """A fixed real batch and a fixed z batch for measurements."""
    real = data.load_array(_DATASET.value, "train", image_size=IMAGE_SIZE, limit=batch_size)
    return real, inputs.latent_batch(seed, inputs.SAMPLE_STREAM, 0, batch_size, Z_DIM)


def measure(trainer, real, z):
    """Per-layer kernel-gradient norms of --objective on real images, and ||dD/dx||."""
    discriminator = trainer.discriminator
    fake = trainer.generate(z)
    return {
        "layer_grad_norms": analysis.layer_gradient_norms(discriminator, real, _OBJECTIVE.value),
        "input_grad_norm": {
            "real": analysis.input_gradient_stats(discriminator, real),
            "fake": analysis.input_gradient_stats(discriminator, fake),
        },
    }


def train_and_measure(trainer, steps, measure_every, real, z):
    """Trains `steps` steps, measuring at step 0 and every `measure_every`; stops on NaN/Inf."""
    history = {"steps": [], "d_loss": [], "g_loss": [], "measurements": [], "diverged_at": None}
    d_iterator, g_iterator = input_iterators(trainer)
    for step in range(steps + 1):
        if step % measure_every == 0 or step == steps:
            history["steps"].append(step)
            history["measurements"].append(measure(trainer, real, z))
        if step == steps:
            break
        outputs = trainer.train_step(d_iterator, g_iterator)
        d_loss, g_loss = float(outputs["d_loss"]), float(outputs["g_loss"])
        history["d_loss"].append(finite_or_none(d_loss))
        history["g_loss"].append(finite_or_none(g_loss))
        if not (math.isfinite(d_loss) and math.isfinite(g_loss)):
            history["diverged_at"] = step + 1
            break
        if (step + 1) % 50 == 0:
            print(f"  step {step + 1}/{steps} d_loss={d_loss:.3f} g_loss={g_loss:.3f}", flush=True)
    return history


def series(history, *keys):
    """One measured quantity over the recorded steps, e.g. ("input_grad_norm", "real", "mean")."""
    values = []
    for record in history["measurements"]:
        for key in keys:
            record = record[key]
        values.append(finite_or_none(record))
    return values


# ------------------------------------------------------------------- claim 1


def exploding():
    """Same D (paper init), norm none / sn / bssn: gradient norms over training."""
    steps, width = setting("steps", "exploding"), setting("width", "exploding")
    repeats = setting("repeats", "exploding")
    real, z = probe_batches(0, _BATCH_SIZE.value)
    runs = {}
    for norm in norms_for("exploding"):
        print(f"exploding: norm={norm}", flush=True)
        trainer = make_trainer(norm, repeats, width, seed=0, lr=_LR.value)
        history = train_and_measure(trainer, steps, _LOG_EVERY.value, real, z)
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
    summary = {norm: exploding_summary(run) for norm, run in runs.items()}
    plot_exploding(runs)
    save_json(
        {
            "claim": "exploding",
            "settings": {
                "steps": steps,
                "width": width,
                "repeats": repeats,
                "lr": _LR.value,
                "batch_size": _BATCH_SIZE.value,
                "bssn_scale": _SCALE.value,
                "seed": 0,
                "objective": f"{_OBJECTIVE.value} of D on a fixed real batch",
                "init": "truncated normal stddev 0.02 for every norm",
            },
            "summary": summary,
            "runs": runs,
        },
        os.path.join(_OUT_DIR.value, "exploding.json"),
    )
    return summary


def exploding_summary(run):
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


def plot_exploding(runs):

    figure, axes = plt.subplots(
        1, len(runs), figsize=(5 * len(runs), 4), sharey=True, squeeze=False
    )
    axes = axes[0]
    for axis, (norm, run) in zip(axes, runs.items()):
        colors = plt.cm.viridis(
            [
                i / max(1, len(run["layer_grad_norms"]) - 1)
                for i in range(len(run["layer_grad_norms"]))
            ]
        )
        for color, (layer, values) in zip(colors, run["layer_grad_norms"].items()):
            axis.plot(run["steps"], values, color=color, label=layer)
        axis.set_yscale("log")
        axis.set_title(f"D norm = {norm}")
        axis.set_xlabel("training step")
    axes[0].set_ylabel(f"||dL/dW_l||, L = {_OBJECTIVE.value}(real batch)")
    axes[-1].legend(fontsize=7, loc="best")
    save_figure(figure, os.path.join(_OUT_DIR.value, "exploding_layer_grad_norms.png"))
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(6, 4))
    for norm, run in runs.items():
        stats = run["input_grad_norm"]["real"]
        (line,) = axis.plot(run["steps"], stats["mean"], label=f"{norm} (mean)")
        axis.fill_between(
            run["steps"],
            [v if v is not None else math.nan for v in stats["min"]],
            [v if v is not None else math.nan for v in stats["max"]],
            color=line.get_color(),
            alpha=0.2,
        )
    axis.set_yscale("log")
    axis.set_xlabel("training step")
    axis.set_ylabel("||dD(x)/dx||, real batch (band: min..max)")
    axis.legend()
    save_figure(figure, os.path.join(_OUT_DIR.value, "exploding_input_grad_norm.png"))
    plt.close(figure)


# ------------------------------------------------------------------- claim 2


def vanishing():
    """Deeper D; per-layer gradient norms vs depth at init and after training."""
    steps, width = setting("steps", "vanishing"), setting("width", "vanishing")
    repeats = setting("repeats", "vanishing")
    real, z = probe_batches(0, _BATCH_SIZE.value)
    runs = {}
    for norm in norms_for("vanishing"):
        print(f"vanishing: norm={norm}", flush=True)
        # Unnormalized D gets LeCun init, the baseline SN is said to mimic.
        trainer = make_trainer(
            norm,
            repeats,
            width,
            seed=0,
            lr=_LR.value,
            init="lecun" if norm == "none" else "reference",
        )
        snapshots = {}
        history = None
        for moment in ("init", "trained"):
            if moment == "trained":
                history = train_and_measure(trainer, steps, steps, real, z)
            measured = measure(trainer, real, z)
            snapshots[moment] = {
                "layer_grad_norms": measured["layer_grad_norms"],
                "input_grad_norm": measured["input_grad_norm"],
                "weight_scales": analysis.effective_weight_scales(trainer.discriminator),
                "operator_norm_ratios": analysis.operator_norm_ratios(
                    trainer.discriminator, _POWER_ITERATIONS.value
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
    sweep = depth_sweep(real, width)
    for norm, points in sweep.items():
        summary[norm]["depth_sweep_input_grad_norm"] = {
            str(point["layers"]): point["input_grad_norm_real_mean"] for point in points
        }
    plot_vanishing(runs, steps, sweep)
    save_json(
        {
            "claim": "vanishing",
            "settings": {
                "steps": steps,
                "width": width,
                "repeats": repeats,
                "lr": _LR.value,
                "batch_size": _BATCH_SIZE.value,
                "bssn_scale": _SCALE.value,
                "seed": 0,
                "power_iterations": _POWER_ITERATIONS.value,
                "objective": f"{_OBJECTIVE.value} of D on a fixed real batch",
            },
            "summary": summary,
            "runs": runs,
            "depth_sweep": sweep,
        },
        os.path.join(_OUT_DIR.value, "vanishing.json"),
    )
    return summary


def depth_sweep(real, width):
    """At init, for each norm and depth: gradient norms of the first and last layer, ||dD/dx||."""
    sweep = {}
    for norm in norms_for("vanishing"):
        for repeats in (int(value) for value in _DEPTHS.value):
            keras.utils.set_random_seed(0)
            discriminator = analysis.deep_cnn_discriminator(
                repeats,
                norm=norm,
                scale=_SCALE.value if norm == "bssn" else 1.0,
                width=width,
                image_size=IMAGE_SIZE,
                channels=CHANNELS,
                init="lecun" if norm == "none" else "reference",
            )
            norms = list(
                analysis.layer_gradient_norms(discriminator, real, _OBJECTIVE.value).values()
            )
            sweep.setdefault(norm, []).append(
                {
                    "repeats": repeats,
                    "layers": len(norms),
                    "first_layer_grad_norm": norms[0],
                    "last_layer_grad_norm": norms[-1],
                    "input_grad_norm_real_mean": analysis.input_gradient_stats(discriminator, real)[
                        "mean"
                    ],
                }
            )
    return sweep


def vanishing_summary(snapshot):
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


def plot_vanishing(runs, steps, sweep):

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for axis, moment, title in zip(
        axes, ("init", "trained"), ("at initialization", f"after {steps} steps")
    ):
        for norm, run in runs.items():
            values = list(run[moment]["layer_grad_norms"].values())
            label = f"{norm} (LeCun init)" if norm == "none" else norm
            axis.plot(range(1, len(values) + 1), values, marker="o", label=label)
        axis.set_yscale("log")
        axis.set_xlabel("layer depth (1 = input side)")
        axis.set_title(title)
    axes[0].set_ylabel(f"||dL/dW_l||, L = {_OBJECTIVE.value}(real batch)")
    axes[1].legend()
    save_figure(figure, os.path.join(_OUT_DIR.value, "vanishing_layer_grad_norms.png"))
    plt.close(figure)

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for norm, run in runs.items():
        scales = [entry["std_over_lecun"] for entry in run["init"]["weight_scales"].values()]
        axes[0].plot(range(1, len(scales) + 1), scales, marker="o", label=norm)
    # The ratio depends on the raw kernel only, and every D starts from the same one.
    first = next(iter(runs.values()))
    sn_ratios = [entry["ratio"] for entry in first["init"]["operator_norm_ratios"].values()]
    axes[1].plot(range(1, len(sn_ratios) + 1), sn_ratios, marker="o", color="black")
    axes[0].axhline(1.0, color="gray", linestyle="--")
    axes[0].set_ylabel("std(forward kernel) / (1/sqrt(fan_in))")
    axes[0].set_title("effective weight scale vs LeCun, at init")
    axes[1].set_ylabel("||conv||_op / ||reshaped kernel||_2")
    axes[1].set_title("exact over reshaped norm, conv layers, at init")
    for axis in axes:
        axis.set_xlabel("layer depth (1 = input side)")
    axes[0].legend()
    save_figure(figure, os.path.join(_OUT_DIR.value, "vanishing_weight_scale.png"))
    plt.close(figure)

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for norm, points in sweep.items():
        layers = [point["layers"] for point in points]
        axes[0].plot(
            layers, [point["first_layer_grad_norm"] for point in points], marker="o", label=norm
        )
        axes[1].plot(
            layers, [point["input_grad_norm_real_mean"] for point in points], marker="o", label=norm
        )
    axes[0].set_ylabel(f"first layer ||dL/dW_1||, L = {_OBJECTIVE.value}")
    axes[1].set_ylabel("mean ||dD(x)/dx||, real batch")
    for axis in axes:
        axis.set_yscale("log")
        axis.set_xlabel("number of layers in D (at initialization)")
    axes[1].legend()
    save_figure(figure, os.path.join(_OUT_DIR.value, "vanishing_depth_sweep.png"))
    plt.close(figure)


# ------------------------------------------------------------------- claim 3


def quality_run_dir(norm, lr, n_dis, seed):
    return os.path.join(_WORK_DIR.value, "quality", f"{norm}_lr{lr:g}_ndis{n_dis}_seed{seed}")


def quality_config(norm, lr, n_dis, seed, steps, width, eval_every):
    """The library TrainConfig of one grid run."""
    return TrainConfig(
        model_dir=quality_run_dir(norm, lr, n_dis, seed),
        dataset=_DATASET.value,
        width=width,
        norm=norm,
        scale=_SCALE.value if norm == "bssn" else 1.0,
        steps=steps,
        batch_size=_BATCH_SIZE.value,
        n_dis=n_dis,
        g_lr=lr,
        d_lr=lr,
        beta1=BETA1,
        beta2=beta2_for(n_dis),
        seed=seed,
        checkpoint_every=steps,
        sample_every=0,
        eval_every=eval_every,
        eval_num_samples=_EVAL_SAMPLES.value,
        eval_num_real=_EVAL_SAMPLES.value,
        log_every=steps,
        jit_compile=_JIT_COMPILE.value,
    )


def diverged(fcds, error):
    """Non-finite loss, or the last FCD above --rise_factor times the run's best."""
    if error is not None:
        return "non-finite loss"
    return fcd_divergence(fcds, _RISE_FACTOR.value)


def quality():
    """Stability grid lr x n_dis x {sn, bssn} x seeds; FCD curves and final FCD per cell."""
    steps, width = setting("steps", "quality"), setting("width", "quality")
    seeds, eval_every = setting("seeds", "quality"), setting("eval_every", "quality")
    lrs = [float(value) for value in _LRS.value]
    n_dis_values = [int(value) for value in _N_DIS.value]
    grid = [
        (lr, n_dis, norm) for lr in lrs for n_dis in n_dis_values for norm in norms_for("quality")
    ]
    # Every cell's seed 0 first: an interrupted grid leaves complete seeds,
    # which a rerun with fewer --seeds reuses (finished runs are not retrained).
    order = [(lr, n_dis, norm, seed) for seed in range(seeds) for lr, n_dis, norm in grid]
    print(f"quality: {len(order)} runs, {_PARALLEL_RUNS.value} at a time", flush=True)
    errors = dict(
        zip(
            order,
            train_all(
                [
                    quality_config(norm, lr, n_dis, seed, steps, width, eval_every)
                    for lr, n_dis, norm, seed in order
                ],
                _PARALLEL_RUNS.value,
            ),
        )
    )
    cells = []
    for lr, n_dis, norm in grid:
        runs = []
        for seed in range(seeds):
            error = errors[(lr, n_dis, norm, seed)]
            record = read_run(quality_run_dir(norm, lr, n_dis, seed))
            run_steps, fcds = record.column("step"), record.column("fcd")
            runs.append(
                {
                    "seed": seed,
                    "steps": run_steps,
                    "fcd": fcds,
                    "error": error,
                    "diverged": diverged(fcds, error),
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
    summary = quality_summary(cells)
    plot_quality(cells, lrs, n_dis_values)
    save_json(
        {
            "claim": "quality",
            "settings": {
                "steps": steps,
                "width": width,
                "seeds": seeds,
                "eval_every": eval_every,
                "eval_num_samples": _EVAL_SAMPLES.value,
                "eval_num_real": _EVAL_SAMPLES.value,
                "batch_size": _BATCH_SIZE.value,
                "bssn_scale": _SCALE.value,
                "lrs": lrs,
                "n_dis": n_dis_values,
                "betas": "(0.5, 0.999) for n_dis=1, (0.5, 0.9) for n_dis>1",
                "rise_factor": _RISE_FACTOR.value,
                "extractor": "digits (shipped classifier)",
            },
            "summary": summary,
            "cells": cells,
        },
        os.path.join(_OUT_DIR.value, "quality.json"),
    )
    return summary


def quality_summary(cells):
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


def plot_quality(cells, lrs, n_dis_values):

    figure, axes = plt.subplots(
        len(n_dis_values),
        len(lrs),
        squeeze=False,
        sharey=True,
        figsize=(4.2 * len(lrs), 3.4 * len(n_dis_values)),
    )
    for cell in cells:
        axis = axes[n_dis_values.index(cell["n_dis"])][lrs.index(cell["lr"])]
        finished = [run for run in cell["runs"] if run["steps"]]
        if not finished:
            continue
        length = min(len(run["steps"]) for run in finished)
        stats = [mean_std([run["fcd"][i] for run in finished]) for i in range(length)]
        steps = finished[0]["steps"][:length]
        means = [mean for mean, _ in stats]
        (line,) = axis.plot(steps, means, marker="o", label=cell["norm"])
        axis.fill_between(
            steps,
            [m - s for m, s in stats],
            [m + s for m, s in stats],
            color=line.get_color(),
            alpha=0.2,
        )
        axis.set_title(f"lr={cell['lr']:g}, n_dis={cell['n_dis']}")
    for axis in axes[-1]:
        axis.set_xlabel("generator step")
    for row in axes:
        row[0].set_ylabel("FCD (lower is better)")
    axes[0][0].legend()
    save_figure(figure, os.path.join(_OUT_DIR.value, "quality_fcd_curves.png"))
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(7, 4))
    labels = [f"lr={lr:g}\nn_dis={n}" for n in n_dis_values for lr in lrs]
    present = sorted({cell["norm"] for cell in cells}, key=NORMS["quality"].index)
    for offset, norm in zip((-0.2, 0.2), present):
        values, errors, marks = [], [], []
        for n_dis in n_dis_values:
            for lr in lrs:
                cell = next(
                    c for c in cells if (c["norm"], c["lr"], c["n_dis"]) == (norm, lr, n_dis)
                )
                values.append(cell["final_fcd_mean"] if cell["final_fcd_mean"] is not None else 0)
                errors.append(cell["final_fcd_std"] or 0)
                marks.append(cell["diverged_runs"])
        positions = [i + offset for i in range(len(values))]
        axis.bar(positions, values, width=0.4, yerr=errors, label=norm)
        for position, value, mark in zip(positions, values, marks):
            if mark:
                axis.text(position, value, f"{mark} div.", ha="center", va="bottom", fontsize=7)
    axis.set_xticks(range(len(labels)), labels, fontsize=8)
    axis.set_ylabel("final FCD (mean +- std over seeds)")
    axis.legend()
    save_figure(figure, os.path.join(_OUT_DIR.value, "quality_stability_grid.png"))
    plt.close(figure)


CLAIMS = {"exploding": exploding, "vanishing": vanishing, "quality": quality}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if _CLAIM.value is None:
        sys.exit("--claim must be one of exploding, vanishing, quality.")
    os.makedirs(_OUT_DIR.value, exist_ok=True)
    summary = CLAIMS[_CLAIM.value]()
    print(json.dumps(summary, indent=1, sort_keys=True))


if __name__ == "__main__":
    app.run(main)
