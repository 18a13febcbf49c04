#!/usr/bin/env bash
# The main job (README "Set-up" command 1): set up the lab (model, JupyterLab, the "Rust (sbert)"
# kernel, warm-up) and open JupyterLab on notebooks/. Idempotent: later runs start in seconds.
# Without a display (or with --no-browser) JupyterLab prints the URL to open.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/lab-setup.sh
root=()
[ "$(id -u)" = 0 ] && root=(--allow-root)
exec .lab/venv/bin/jupyter lab --notebook-dir=notebooks "${root[@]}" "$@"
