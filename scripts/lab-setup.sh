#!/usr/bin/env bash
# Sets up the lab (idempotent): the data sets (scripts/fetch-data.py: from ../shared/data where it
# exists, else downloaded from their public sources and checked), the model, a Python venv with JupyterLab (.lab/venv), evcxr_jupyter
# and the "Rust (sbert)" kernel (kernel/install.sh), then a warm-up that starts the kernel once and
# runs the first lecture cell, which compiles the kernel's dependencies into the persistent build
# folder — so later kernel starts answer in seconds and never hit Jupyter's start-up timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "error: cargo not found (install Rust: https://rustup.rs)" >&2; exit 1; }
bash scripts/ensure-cxx.sh   # the kernel builds sbert with USearch (C++)
python3 scripts/fetch-data.py >/dev/null
bash scripts/provision-model.sh
bash scripts/provision-mpnet.sh
if [ ! -x .lab/venv/bin/jupyter-lab ] || ! cmp -s kernel/requirements.txt .lab/requirements.installed; then
  echo "== Python venv with JupyterLab (.lab/venv)"
  python3 -m venv .lab/venv
  .lab/venv/bin/pip install -q --disable-pip-version-check -r kernel/requirements.txt
  cp kernel/requirements.txt .lab/requirements.installed
fi
JUPYTER=.lab/venv/bin/jupyter bash kernel/install.sh
echo "== warm-up: first kernel start (compiles the kernel's dependencies once; minutes when cold)"
(cd notebooks && SBERT_EVCXR_WARMUP=1 ../.lab/venv/bin/python ../kernel/latency.py --timeout 3600)
