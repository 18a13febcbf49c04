#!/usr/bin/env bash
# The kernel's preloaded environment in a terminal: evcxr_repl with the same config directory
# (sbert + `use sbert::prelude::*;`) and build folder. Run kernel/install.sh first.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
EVCXR_VERSION=0.22.0
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
[ -f "$ROOT/.lab/evcxr/evcxr.toml" ] || { echo "run: bash kernel/install.sh" >&2; exit 1; }
if ! { [ -x "$CARGO_BIN/evcxr_repl" ] && cargo install --list | grep -q "^evcxr_repl v$EVCXR_VERSION:"; }; then
  echo "== cargo install --locked evcxr_repl $EVCXR_VERSION (one time)"
  cargo install --locked evcxr_repl --version "$EVCXR_VERSION"
fi
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
EVCXR_TMPDIR="$dir" "$CARGO_BIN/evcxr_repl" "$@"
