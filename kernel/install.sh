#!/usr/bin/env bash
# Registers the Jupyter kernel "Rust (sbert)": evcxr_jupyter (pinned 0.22.0, `cargo install
# --locked`, with sbert's small patch for the first cell's latency: kernel/install-evcxr.sh)
# with its own evcxr config directory, so it never touches a user's other kernels or their
# global evcxr config.
#
#   bash kernel/install.sh [--user | --prefix DIR]     (default: --prefix of the lab's venv, .lab/venv)
#
# What it writes:
#   .lab/evcxr/evcxr.toml    the kernel's evcxr config (EVCXR_CONFIG_DIR): `sbert` from this
#                            checkout (library only, no CLI deps), `use sbert::prelude::*;`,
#                            opt-level 2, and a persistent build folder (below)
#   $SBERT_EVCXR_TMPDIR      evcxr's build folder, kept between kernel starts so the dependencies
#                            compile once (default ~/.cache/sbert-lab/evcxr-target); each kernel
#                            works in its own hard-linked copy (kernel/kernel.sh)
#   kernelspec "sbert"       argv = kernel/kernel.sh → evcxr_jupyter, env = EVCXR_CONFIG_DIR,
#                            SBERT_SHARED, the build folder
#   <build folder>/../.cargo/config.toml
#                            Cargo settings for the kernels' builds (the master build folder and
#                            the per-kernel copies are below it): the dependencies (sbert, candle,
#                            tokenizers, …) optimised, without debug assertions and overflow checks
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
. "$ROOT/kernel/env.sh"
TARGET="$SBERT_EVCXR_TMPDIR"
SHARED="$SBERT_SHARED"

where=(--prefix "$ROOT/.lab/venv")
case "${1:-}" in
  --user) where=(--user) ;;
  --prefix) where=(--prefix "$2") ;;
  "") ;;
  *) echo "usage: bash kernel/install.sh [--user | --prefix DIR]" >&2; exit 2 ;;
esac

# 1. evcxr_jupyter, pinned, with sbert's patch (kernel/install-evcxr.sh: one build, then skipped).
EXE="$(bash "$ROOT/kernel/install-evcxr.sh" evcxr_jupyter)"

# 2. The kernel's own evcxr config directory.
mkdir -p "$EVCXR_CONFIG_DIR" "$TARGET"
cat > "$EVCXR_CONFIG_DIR/evcxr.toml" <<TOML
# Written by kernel/install.sh; EVCXR_CONFIG_DIR of the "Rust (sbert)" kernel only.
[evcxr]
opt_level = "2"
prelude = "use sbert::prelude::*;"

[dependencies]
sbert = { path = "$ROOT", default-features = false, features = ["hub", "bm25", "ann"] }
TOML

# evcxr's Cargo.toml turns debug assertions and overflow checks on for every crate, the
# dependencies included: encoding SciFact's corpus in a notebook took 7.8 min instead of 4.5.
# Cargo reads .cargo/config.toml from the folders above the build folder, and profile settings
# there win over Cargo.toml's; "*" is every dependency, not the cell crate itself.
mkdir -p "$(dirname "$TARGET")/.cargo"
cat > "$(dirname "$TARGET")/.cargo/config.toml" <<TOML
# Written by sbert's kernel/install.sh for the "Rust (sbert)" kernels' builds below this folder.
[profile.dev.package."*"]
opt-level = 3
debug-assertions = false
overflow-checks = false
TOML

# 3. The kernelspec.
spec="$ROOT/.lab/kernelspec/sbert"
mkdir -p "$spec"
cp "$ROOT/kernel/logo-64x64.png" "$spec/" 2>/dev/null || true
# The environment of kernel/env.sh (the standard library's folder: see there).
python3 - "$spec/kernel.json" "$EXE" "$EVCXR_CONFIG_DIR" "$SHARED" "$SBERT_RUSTLIB" "$ROOT/kernel/kernel.sh" "$TARGET" "$SBERT_EVCXR_SWITCHES" <<'PY'
import json, sys
path, exe, config, shared, rustlib, wrapper, target, switches = sys.argv[1:]
json.dump({
    "argv": [wrapper, "--control_file", "{connection_file}"],
    "display_name": "Rust (sbert)",
    "language": "rust",
    "interrupt_mode": "message",
    "env": {"EVCXR_CONFIG_DIR": config, "SBERT_SHARED": shared, "LD_LIBRARY_PATH": rustlib,
            "SBERT_EVCXR_JUPYTER": exe, "SBERT_EVCXR_TMPDIR": target,
            # The switches of sbert's evcxr patch (kernel/install-evcxr.sh).
            **{switch: "1" for switch in switches.split()}},
}, open(path, "w"), indent=2)
PY
JUPYTER="${JUPYTER:-$ROOT/.lab/venv/bin/jupyter}"
[ -x "$JUPYTER" ] || JUPYTER=jupyter
"$JUPYTER" kernelspec install "$spec" --name sbert "${where[@]}" >/dev/null
echo "== kernel 'Rust (sbert)' registered (${where[*]}); config $EVCXR_CONFIG_DIR, build folder $TARGET"
