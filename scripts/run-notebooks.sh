#!/usr/bin/env bash
# Executes every notebook headless with the "Rust (sbert)" kernel and checks the results.
#   bash scripts/run-notebooks.sh [OUT_DIR]     executed copies go to OUT_DIR (default target/notebooks-executed)
#   bash scripts/run-notebooks.sh --inplace     execute the committed notebooks in place (to refresh their outputs)
# Needs scripts/lab-setup.sh first. Fails on any error output (scripts/check_notebooks.py).
set -euo pipefail
cd "$(dirname "$0")/.."
NB=(notebooks/0*.ipynb)
if [ "${1:-}" = "--inplace" ]; then where=(--inplace); OUT=notebooks; else OUT="${1:-target/notebooks-executed}"; mkdir -p "$OUT"; where=(--output-dir "$OUT"); fi
.lab/venv/bin/python scripts/notebooks.py check
for nb in "${NB[@]}"; do
  start=$(date +%s)
  if ! .lab/venv/bin/jupyter nbconvert --to notebook --execute "${where[@]}" \
      --ExecutePreprocessor.kernel_name=sbert --ExecutePreprocessor.timeout=3600 \
      --ExecutePreprocessor.startup_timeout=1800 "$nb"; then
    echo "error: $nb failed" >&2
    exit 1
  fi
  echo "== $nb executed in $(( $(date +%s) - start )) s"
done
.lab/venv/bin/python scripts/check_notebooks.py "$OUT"
