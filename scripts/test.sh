#!/usr/bin/env bash
# The test command (README "Set-up" command 2; .ci/run calls it).
# 1. provisions the real model offline, runs every Rust test (unit, integration, doc tests);
#    tests that need the model fail (never skip) if it is missing;
# 2. sets up the lab (JupyterLab venv, evcxr_jupyter, the "Rust (sbert)" kernel, warm-up), executes
#    every notebook headless with that kernel (any error output fails), and renders two of them in
#    headless Chromium to check their tables in a real browser.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d ../shared/golden ] && [ -z "${SBERT_SHARED:-}" ]; then
  echo "error: ../shared (golden values and data) not found beside the checkout; set SBERT_SHARED" >&2
  exit 1
fi
command -v cargo >/dev/null || { echo "error: cargo not found (install Rust: https://rustup.rs)" >&2; exit 1; }
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing Debian's chromium (for the notebook rendering check)"
    apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
  else
    echo "error: chromium not found (Debian: sudo apt-get install chromium)" >&2
    exit 1
  fi
fi

bash scripts/provision-model.sh
cargo test --all-targets --no-fail-fast
cargo test --doc

bash scripts/lab-setup.sh
bash scripts/run-notebooks.sh target/notebooks-executed
.lab/venv/bin/python scripts/check_html_chromium.py target/notebooks-executed
