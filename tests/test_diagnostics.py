"""bssn_tf.training.diagnostics: per-group gradient norms against numpy."""

import numpy as np

from bssn_tf.training import diagnostics


def test_grouped_gradient_norms_match_numpy():
    rng = np.random.default_rng(0)
    gradients = [rng.normal(size=shape).astype(np.float32) for shape in ((3, 4), (4,), (2, 2, 5))]
    groups = [("conv", [0, 1]), ("logit", [2])]
    norms = diagnostics.grouped_gradient_norms(gradients, groups).numpy()
    expected = [
        np.sqrt(np.sum(gradients[0].astype(np.float64) ** 2) + np.sum(gradients[1] ** 2.0)),
        np.linalg.norm(gradients[2].astype(np.float64)),
    ]
    np.testing.assert_allclose(norms, expected, rtol=1e-6)  # float32 sums of ~20 squares
