"""bssn_tf.analysis.plots: figures from hand-made claim records land as whole PNG files."""

import os

import matplotlib.pyplot as plt

from bssn_tf.analysis import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_save_figure_writes_a_png_and_closes_the_figure(tmp_path):
    figure, axis = plt.subplots()
    axis.plot([0, 1], [1, 0])
    plots.save_figure(figure, str(tmp_path / "line.png"))
    assert (tmp_path / "line.png").read_bytes()[:8] == PNG_SIGNATURE
    assert not plt.fignum_exists(figure.number)
    assert os.listdir(tmp_path) == ["line.png"]  # no temporary file left behind


def test_quality_figures_from_a_hand_made_grid(tmp_path):
    def cell(norm, lr, fcds, diverged):
        runs = [{"steps": [1, 2], "fcd": fcds}]
        return {"norm": norm, "lr": lr, "n_dis": 1, "runs": runs, "final_fcd_mean": fcds[-1],
                "final_fcd_std": 0.0, "diverged_runs": diverged}  # fmt: skip

    cells = [cell("sn", 1e-4, [9.0, 7.0], 0), cell("bssn", 1e-4, [8.0, 6.0], 1)]
    plots.plot_quality(cells, [1e-4], [1], ("sn", "bssn"), str(tmp_path))
    for name in ("quality_fcd_curves.png", "quality_stability_grid.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE


def test_exploding_figures_tolerate_non_finite_points(tmp_path):
    stats = {"mean": [1.0, None], "min": [0.5, None], "max": [2.0, None]}
    runs = {
        "sn": {
            "steps": [0, 1],
            "layer_grad_norms": {"conv0": [1.0, 2.0], "logit": [0.1, None]},
            "input_grad_norm": {"real": stats},
        }
    }
    plots.plot_exploding(runs, "mean_output", str(tmp_path))
    for name in ("exploding_layer_grad_norms.png", "exploding_input_grad_norm.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE
