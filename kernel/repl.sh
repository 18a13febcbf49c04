#!/usr/bin/env bash
# The kernel's preloaded environment in a terminal: evcxr_repl with the same config directory
# (sbert + `use sbert::prelude::*;`) and build folder. Run kernel/install.sh first.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/kernel/env.sh"
[ -f "$EVCXR_CONFIG_DIR/evcxr.toml" ] || { echo "run: bash kernel/install.sh" >&2; exit 1; }
# The same pinned, patched evcxr as the kernel (kernel/install-evcxr.sh; built on first use).
EXE="$(bash "$ROOT/kernel/install-evcxr.sh" evcxr_repl)"
for switch in $SBERT_EVCXR_SWITCHES; do export "$switch=1"; done
export EVCXR_CONFIG_DIR SBERT_SHARED
export LD_LIBRARY_PATH="$SBERT_RUSTLIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Its own build folder, made from the warm one, beside the kernels' (kernel/build-folder.sh).
. "$ROOT/kernel/build-folder.sh"
clean_build_folders "$(dirname "$SBERT_EVCXR_TMPDIR")/kernels"
dir="$(new_build_folder "$SBERT_EVCXR_TMPDIR" repl)"
trap 'rm -rf "$dir"' EXIT
EVCXR_TMPDIR="$dir" "$EXE" "$@"
