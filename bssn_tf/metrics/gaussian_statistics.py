"""FID statistics (mean and covariance of activations) and their `.npz` files.

The file format is pytorch-fid's and TTUR's: an `.npz` with `mu` [d] and
`sigma` [d, d], float64. Published real-data statistics (TTUR's CIFAR-10
train statistics, say) therefore drop in, and statistics saved here can be
used by those tools.
"""

import io

import numpy as np

from bssn_tf.io import write_bytes_atomically
from bssn_tf.metrics.activations import as_activation_matrix

STATISTICS_KEYS = ("mu", "sigma")


def fid_statistics(activations):
    """(mu [d], sigma [d, d]) of [n, d] activations in float64; sigma is unbiased (n - 1)."""
    activations = as_activation_matrix("activations", activations)
    mu = activations.mean(axis=0)
    centered = activations - mu
    return mu, centered.T @ centered / (len(activations) - 1)


def require_statistics(mu, sigma, source="statistics"):
    """(mu, sigma) as finite float64 [d] and [d, d] arrays, else ValueError naming `source`."""
    mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    if mu.ndim != 1:
        raise ValueError(f"{source}: mu must be a 1-D [d] vector; got shape {mu.shape}.")
    if sigma.shape != (len(mu), len(mu)):
        raise ValueError(
            f"{source}: sigma must be [d, d] = {(len(mu), len(mu))} to match mu; "
            f"got shape {sigma.shape}."
        )
    for key, value in (("mu", mu), ("sigma", sigma)):
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{source}: {key} contains NaN or Inf values.")
    return mu, sigma


def save_fid_statistics(path, mu, sigma):
    """Writes pytorch-fid/TTUR `.npz` statistics (float64 mu, sigma) to `path` atomically."""
    mu, sigma = require_statistics(mu, sigma, str(path))
    buffer = io.BytesIO()
    np.savez(buffer, mu=mu, sigma=sigma)
    write_bytes_atomically(str(path), buffer.getvalue())


def load_fid_statistics(path):
    """(mu, sigma) from a pytorch-fid/TTUR `.npz` file.

    Raises:
      FileNotFoundError: no file at `path`.
      ValueError: not an .npz, keys other than mu and sigma, or wrong shapes;
        the message names the file and the key.
    """
    path = str(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"FID statistics file {path} does not exist.") from None
    except (ValueError, OSError) as error:
        raise ValueError(f"{path}: not an .npz statistics file ({error}).") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not an .npz statistics file (it holds a single array).")
    with archive:
        keys = set(archive.files)
        missing = [key for key in STATISTICS_KEYS if key not in keys]
        if missing:
            raise ValueError(
                f"{path}: FID statistics need keys 'mu' and 'sigma'; key {missing[0]!r} is "
                f"missing (found {sorted(keys)})."
            )
        return require_statistics(archive["mu"], archive["sigma"], path)
