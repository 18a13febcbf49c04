#!/usr/bin/env bash
# Starts evcxr_jupyter for one "Rust (sbert)" kernel (kernel.json's argv; installed by install.sh).
#
# evcxr keeps a whole Cargo project in its build folder (the cell's source, Cargo.toml, target/),
# so two kernels sharing one folder overwrite each other's cells. Each kernel therefore gets its own
# folder under $SBERT_EVCXR_TMPDIR/../kernels/, whose target/ starts from the warm build (the
# dependencies compiled once by the set-up's warm-up; kernel/build-folder.sh): no rebuild.
# The folder is removed when the kernel exits (or, if it was killed, at the next kernel's start).
# SBERT_EVCXR_WARMUP=1 builds into the shared folder itself (what the warm-up does).
set -euo pipefail
master="${SBERT_EVCXR_TMPDIR:?set by the kernelspec}"
exe="${SBERT_EVCXR_JUPYTER:?set by the kernelspec}"
mkdir -p "$master"
if [ "${SBERT_EVCXR_WARMUP:-}" = 1 ]; then
  exec env EVCXR_TMPDIR="$master" "$exe" "$@"
fi
. "$(dirname "$0")/build-folder.sh"
# Folders of kernels and REPLs that are gone (killed before their cleanup could run).
clean_build_folders "$(dirname "$master")/kernels"
dir="$(new_build_folder "$master" k)"
trap 'rm -rf "$dir"' EXIT
trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP
EVCXR_TMPDIR="$dir" "$exe" "$@" &
child=$!
wait "$child" || status=$?
wait "$child" 2>/dev/null || true
exit "${status:-0}"
