"""Command-line scripts: train, evaluate and export GANs (absl flags)."""
