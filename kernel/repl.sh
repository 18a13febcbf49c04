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
# Its own build folder, hard-linked from the warm one (see kernel/kernel.sh), beside the kernels'
# folders so that the Cargo settings install.sh writes above them apply.
master="${SBERT_EVCXR_TMPDIR:-$HOME/.cache/sbert-lab/evcxr-target}"
mkdir -p "$(dirname "$master")/kernels"
dir="$(mktemp -d "$(dirname "$master")/kernels/repl.XXXXXX")"
trap 'rm -rf "$dir"' EXIT
if [ -d "$master/target" ]; then
  cp -al "$master/target" "$dir/target" 2>/dev/null || cp -a "$master/target" "$dir/target"
  find "$dir/target" \( -name 'libcode_*' -o -name '*ctx*' \) -prune -exec rm -rf {} +
fi
[ -f "$master/Cargo.lock" ] && cp "$master/Cargo.lock" "$dir/"
EVCXR_TMPDIR="$dir" "$EXE" "$@"
