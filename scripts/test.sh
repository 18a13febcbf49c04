#!/usr/bin/env bash
# The test command (README "Set-up" command 2; .ci/run calls it).
# Provisions the real model offline, then runs every test: unit, integration, doc tests.
# Tests that need the model fail (never skip) if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d ../shared/golden ] && [ -z "${SBERT_SHARED:-}" ]; then
  echo "error: ../shared (golden values and data) not found beside the checkout; set SBERT_SHARED" >&2
  exit 1
fi
command -v cargo >/dev/null || { echo "error: cargo not found (install Rust: https://rustup.rs)" >&2; exit 1; }

bash scripts/provision-model.sh
cargo test --all-targets --no-fail-fast
cargo test --doc
