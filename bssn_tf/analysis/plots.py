"""The claims' and the zoo study's figures, as PNG files written atomically (Agg backend)."""

import io
import math
import os
import textwrap

import matplotlib
import numpy as np

matplotlib.use("Agg")  # before pyplot anywhere: figures go to files only

import matplotlib.pyplot as plt  # noqa: E402

from bssn_tf.analysis.convergence import mean_std  # noqa: E402
from bssn_tf.io import write_bytes_atomically  # noqa: E402


def save_figure(figure, path):
    """Writes `figure` to `path` as PNG atomically, then closes it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    write_bytes_atomically(path, buffer.getvalue())
    plt.close(figure)


def _nan_for_none(values):
    return [math.nan if value is None else value for value in values]


def plot_exploding(runs, objective, out_dir):
    """exploding_layer_grad_norms.png and exploding_input_grad_norm.png from the claim's runs."""
    figure, axes = plt.subplots(
        1, len(runs), figsize=(5 * len(runs), 4), sharey=True, squeeze=False
    )
    axes = axes[0]
    for axis, (norm, run) in zip(axes, runs.items()):
        count = len(run["layer_grad_norms"])
        colors = plt.cm.viridis([i / max(1, count - 1) for i in range(count)])
        for color, (layer, values) in zip(colors, run["layer_grad_norms"].items()):
            axis.plot(run["steps"], values, color=color, label=layer)
        axis.set_yscale("log")
        axis.set_title(f"D norm = {norm}")
        axis.set_xlabel("training step")
    axes[0].set_ylabel(f"||dL/dW_l||, L = {objective}(real batch)")
    axes[-1].legend(fontsize=7, loc="best")
    save_figure(figure, os.path.join(out_dir, "exploding_layer_grad_norms.png"))

    figure, axis = plt.subplots(figsize=(6, 4))
    for norm, run in runs.items():
        stats = run["input_grad_norm"]["real"]
        (line,) = axis.plot(run["steps"], stats["mean"], label=f"{norm} (mean)")
        axis.fill_between(
            run["steps"],
            _nan_for_none(stats["min"]),
            _nan_for_none(stats["max"]),
            color=line.get_color(),
            alpha=0.2,
        )
    axis.set_yscale("log")
    axis.set_xlabel("training step")
    axis.set_ylabel("||dD(x)/dx||, real batch (band: min..max)")
    axis.legend()
    save_figure(figure, os.path.join(out_dir, "exploding_input_grad_norm.png"))


def plot_vanishing(runs, steps, sweep, objective, out_dir):
    """vanishing_{layer_grad_norms,weight_scale,depth_sweep}.png from the claim's runs."""
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
    axes[0].set_ylabel(f"||dL/dW_l||, L = {objective}(real batch)")
    axes[1].legend()
    save_figure(figure, os.path.join(out_dir, "vanishing_layer_grad_norms.png"))

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
    save_figure(figure, os.path.join(out_dir, "vanishing_weight_scale.png"))

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for norm, points in sweep.items():
        layers = [point["layers"] for point in points]
        axes[0].plot(
            layers, [point["first_layer_grad_norm"] for point in points], marker="o", label=norm
        )
        axes[1].plot(
            layers, [point["input_grad_norm_real_mean"] for point in points], marker="o", label=norm
        )
    axes[0].set_ylabel(f"first layer ||dL/dW_1||, L = {objective}")
    axes[1].set_ylabel("mean ||dD(x)/dx||, real batch")
    for axis in axes:
        axis.set_yscale("log")
        axis.set_xlabel("number of layers in D (at initialization)")
    axes[1].legend()
    save_figure(figure, os.path.join(out_dir, "vanishing_depth_sweep.png"))


def plot_quality(cells, lrs, n_dis_values, norm_order, out_dir):
    """quality_fcd_curves.png and quality_stability_grid.png from the claim's grid cells.

    `norm_order` fixes the order (and bar offsets) of the norms present.
    """
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
    save_figure(figure, os.path.join(out_dir, "quality_fcd_curves.png"))

    figure, axis = plt.subplots(figsize=(7, 4))
    labels = [f"lr={lr:g}\nn_dis={n}" for n in n_dis_values for lr in lrs]
    present = sorted({cell["norm"] for cell in cells}, key=norm_order.index)
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
    save_figure(figure, os.path.join(out_dir, "quality_stability_grid.png"))


def plot_study_curves(rows, path, describe):
    """One panel per setting (norm aside); a mean line and a std band per norm."""
    panels = {}
    for row in rows:
        panels.setdefault(describe(row["setting"]), []).append(row)
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
