#!/usr/bin/env bash
# Builds evcxr_jupyter (or evcxr_repl, whose binary is `evcxr`) 0.22.0, pinned, with sbert's small patch to the evcxr library
# (kernel/evcxr-0.22.0.patch), into its own folder, and prints the binary's path on stdout.
#
#   bash kernel/install-evcxr.sh evcxr_jupyter|evcxr_repl
#
# The patch adds three opt-in switches, off unless their environment variable is "1" (the
# "Rust (sbert)" kernelspec sets them), so the binary otherwise behaves as upstream's:
#   EVCXR_RA_WARMUP            a background thread computes, on the second core, what evcxr's
#                              rust-analyzer needs at the first cell with a `let` (every crate's
#                              def map and trait impls): that cell took ≈ 5.5 s, now ≈ 2 s
#   EVCXR_ALLOW_QUESTION_MARK  cells start in the mode evcxr switches to after a first `?` has
#                              failed to compile (saves that wasted build in the first cell)
#   EVCXR_SKIP_STARTUP_EVAL    no internal `42` evaluation at start-up when the config has a
#                              prelude (whose evaluation follows and does the same job)
#
# The crates come from crates.io (cargo's download cache when it has them), checked against their
# published sha256; `cargo install --locked` builds with each crate's own Cargo.lock (only evcxr's
# entry points at the patched copy). Idempotent: skipped when the same patch is installed.
# Installs into $SBERT_LAB_HOME/evcxr-0.22.0-sbert-<patch hash> (default ~/.cache/sbert-lab), not
# ~/.cargo/bin, so a user's own evcxr is untouched.
set -euo pipefail
bin="${1:?usage: install-evcxr.sh evcxr_jupyter|evcxr_repl}"
VERSION=0.22.0
declare -A SHA256=(
  [evcxr]=ee69caeeefc311959b85962458e370d8eccb165123edbc5270134aaee6d7ed80
  [evcxr_jupyter]=3ce0d7b3058f68a9673df4f1266b641942fea0ec131881d095306e509a382764
  [evcxr_repl]=17998f5f330bc8880c03d2543e40aa13a99ff15fa9a34a1d0cff0216566f51ee
)
[ -n "${SHA256[$bin]:-}" ] && [ "$bin" != evcxr ] || { echo "usage: install-evcxr.sh evcxr_jupyter|evcxr_repl" >&2; exit 2; }
# The binary each crate installs (evcxr_repl's is called `evcxr`).
exe_name="$bin"
[ "$bin" = evcxr_repl ] && exe_name=evcxr
here="$(cd "$(dirname "$0")" && pwd)"
patch_file="$here/evcxr-$VERSION.patch"
hash="$(sha256sum "$patch_file" | cut -c1-12)"
home="${SBERT_LAB_HOME:-$HOME/.cache/sbert-lab}"
root="$home/evcxr-$VERSION-sbert-$hash"
if [ -x "$root/bin/$exe_name" ]; then
  echo "$root/bin/$exe_name"
  exit 0
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/sbert-evcxr.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# A crate's .crate file: cargo's download cache, else crates.io; checked either way.
fetch() {
  local name="$1" file="$work/$1-$VERSION.crate" cached
  cached="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$name-$VERSION.crate" 2>/dev/null | head -n1 || true)"
  if [ -n "$cached" ]; then
    cp "$cached" "$file"
  else
    curl -fsSL --retry 3 -o "$file" "https://static.crates.io/crates/$name/$name-$VERSION.crate"
  fi
  echo "${SHA256[$name]}  $file" | sha256sum -c --quiet - >&2
  tar -xzf "$file" -C "$work"
}
fetch evcxr
fetch "$bin"
(cd "$work/evcxr-$VERSION" && patch -s -p1 < "$patch_file")
# Point the binary crate at the patched library: a [patch] section, and its lock entry without the
# registry source and checksum (what Cargo writes for a path crate), so --locked still holds.
cat >> "$work/$bin-$VERSION/Cargo.toml" <<TOML

[patch.crates-io]
evcxr = { path = "../evcxr-$VERSION" }
TOML
python3 - "$work/$bin-$VERSION/Cargo.lock" <<'PY'
import re, sys
path = sys.argv[1]
lock = open(path).read()
entry = re.compile(r'(name = "evcxr"\nversion = "0\.22\.0"\n)source = "[^"]*"\nchecksum = "[^"]*"\n')
lock, n = entry.subn(r"\1", lock)
if n != 1:
    sys.exit(f"{path}: expected one registry entry for evcxr 0.22.0, found {n}")
open(path, "w").write(lock)
PY
echo "== building $bin $VERSION with sbert's evcxr patch (one time, ~5 min on 2 cores)" >&2
cargo install --locked --quiet --path "$work/$bin-$VERSION" --root "$work/root" --target-dir "$work/target" >&2
# Installed whole or not at all: the binary appears under its name in one rename.
mkdir -p "$root/bin"
cp "$work/root/bin/$exe_name" "$root/bin/.$exe_name.partial"
mv -f "$root/bin/.$exe_name.partial" "$root/bin/$exe_name"
echo "$root/bin/$exe_name"
