#!/usr/bin/env bash
# The whole suite under the TensorFlow backend, then the backend-agnostic
# layer tests again under JAX (the layers use keras.ops only).
# Scripts under train/ define absl flags at import, and two scripts may share
# a flag name, so the test files that import a script in-process each run in
# a pytest process of their own.
set -euo pipefail
cd "$(dirname "$0")/.."
# One code style: the tree must be ruff-formatted and lint-clean (pyproject.toml).
ruff format --check --quiet .
ruff check --quiet .
mapfile -t script_tests < <(grep -lE "^(from|import) train" tests/test_*.py)
ignores=()
for test in "${script_tests[@]}"; do ignores+=("--ignore=$test"); done
KERAS_BACKEND=tensorflow python -m pytest -q -p no:cacheprovider tests "${ignores[@]}"
for test in "${script_tests[@]}"; do
  KERAS_BACKEND=tensorflow python -m pytest -q -p no:cacheprovider "$test"
done
KERAS_BACKEND=jax python -m pytest -q -p no:cacheprovider tests/test_layers.py
