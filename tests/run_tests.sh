#!/usr/bin/env bash
# The whole suite under the TensorFlow backend in one pytest process, then the
# backend-agnostic layer tests again under JAX and PyTorch (the layers use keras.ops only).
# Tests call the library with configs; a script's CLI is tested through a
# subprocess, so no two scripts' absl flags meet in one process.
# `pytest -m "not slow"` skips the multi-process and claims runs for a quick check.
set -euo pipefail
cd "$(dirname "$0")/.."
# One code style: the tree must be ruff-formatted and lint-clean (pyproject.toml).
ruff format --check --quiet .
ruff check --quiet .
KERAS_BACKEND=tensorflow python -m pytest -q -p no:cacheprovider tests "$@"
for backend in jax torch; do
  KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider tests/test_layers.py \
    tests/test_power_iteration.py tests/test_kernel_layout.py
done
