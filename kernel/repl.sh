#!/usr/bin/env bash
# The kernel's preloaded environment in a terminal: evcxr_repl with the same config directory
# (sbert + `use sbert::prelude::*;`) and build folder. Run kernel/install.sh first.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
[ -f "$ROOT/.lab/evcxr/evcxr.toml" ] || { echo "run: bash kernel/install.sh" >&2; exit 1; }
# The same pinned, patched evcxr as the kernel (kernel/install-evcxr.sh; built on first use).
EXE="$(bash "$ROOT/kernel/install-evcxr.sh" evcxr_repl)"
export EVCXR_RA_WARMUP=1 EVCXR_ALLOW_QUESTION_MARK=1 EVCXR_SKIP_STARTUP_EVAL=1
export EVCXR_CONFIG_DIR="$ROOT/.lab/evcxr"
# See kernel/install.sh: the standard library's folder, which evcxr's relative rpath can miss.
export LD_LIBRARY_PATH="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export SBERT_SHARED="${SBERT_SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
# Its own build folder, hard-linked from the warm one, beside the kernels' (kernel/build-folder.sh).
. "$ROOT/kernel/build-folder.sh"
dir="$(new_build_folder "${SBERT_EVCXR_TMPDIR:-$HOME/.cache/sbert-lab/evcxr-target}" repl)"
trap 'rm -rf "$dir"' EXIT
EVCXR_TMPDIR="$dir" "$EXE" "$@"
