#!/usr/bin/env bash
# The test command (README "Set-up" command 2; .ci/run calls it).
# 0. checks the layering of src/ (scripts/check_layers.py: no import cycle, imports only point down);
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
bash scripts/ensure-cxx.sh
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing Debian's chromium (for the notebook rendering check)"
    apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
  else
    echo "error: chromium not found (Debian: sudo apt-get install chromium)" >&2
    exit 1
  fi
fi

# Each stage prints its duration (CI has a 90-minute limit).
stage() {
  local name="$1" start=$SECONDS
  shift
  "$@"
  echo "== $name: $((SECONDS - start)) s (total $SECONDS s)"
}
stage "layering" bash -c 'python3 scripts/check_layers.py --self-test && python3 scripts/check_layers.py'
stage "models" bash -c "bash scripts/provision-model.sh && bash scripts/provision-mpnet.sh"
stage "cargo test" cargo test --all-targets --no-fail-fast
stage "doc tests" cargo test --doc

stage "lab set-up" bash scripts/lab-setup.sh
stage "notebooks" bash scripts/run-notebooks.sh target/notebooks-executed
stage "chromium check" .lab/venv/bin/python scripts/check_html_chromium.py target/notebooks-executed
