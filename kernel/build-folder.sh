# Sourced by kernel.sh and repl.sh. evcxr keeps a whole Cargo project in its build folder (the
# cell's source, Cargo.toml, target/), so every kernel or REPL works in a folder of its own:
#
#   new_build_folder MASTER PREFIX    prints the new folder <MASTER>/../kernels/PREFIX.XXXXXX
#                                     (its .pid: the calling shell's)
#
# whose target/ starts as hard links to the warm build MASTER (the dependencies compiled once by
# the set-up's warm-up; a plain copy where hard links are impossible), without the cell crate's own
# outputs (rewritten at every cell: each folder makes fresh ones), and with MASTER's Cargo.lock
# (same dependency versions, no re-resolution). It sits beside the other kernels' folders, below the
# Cargo settings install.sh writes.
new_build_folder() {
  local master="$1" prefix="$2" base dir
  base="$(dirname "$master")/kernels"
  mkdir -p "$base"
  dir="$(mktemp -d "$base/$prefix.XXXXXX")"
  # The owner's pid at once: kernel.sh removes kernels' folders whose owner is gone.
  echo $$ > "$dir/.pid"
  if [ -d "$master/target" ]; then
    cp -al "$master/target" "$dir/target" 2>/dev/null || cp -a "$master/target" "$dir/target"
    find "$dir/target" \( -name 'libcode_*' -o -name '*ctx*' \) -prune -exec rm -rf {} +
  fi
  if [ -f "$master/Cargo.lock" ]; then cp "$master/Cargo.lock" "$dir/"; fi
  echo "$dir"
}
