#!/usr/bin/env bash
# The whole suite under the TensorFlow backend, then the backend-agnostic
# layer tests again under JAX (the layers use keras.ops only).
set -euo pipefail
cd "$(dirname "$0")/.."
KERAS_BACKEND=tensorflow python -m pytest -q -p no:cacheprovider tests
KERAS_BACKEND=jax python -m pytest -q -p no:cacheprovider tests/test_layers.py
