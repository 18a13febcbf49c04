# Sourced by kernel.sh and repl.sh. evcxr keeps a whole Cargo project in its build folder (the
# cell's source, Cargo.toml, target/), so every kernel or REPL works in a folder of its own:
#
#   new_build_folder MASTER PREFIX    prints the new folder <MASTER>/../kernels/PREFIX.XXXXXX
#                                     (its .pid: the calling shell's)
#   clean_build_folders BASE          removes the kernels' and REPLs' folders in BASE whose owner
#                                     is gone
#
# The new folder's target/ starts from the warm build MASTER (the dependencies compiled once by the
# set-up's warm-up), with MASTER's Cargo.lock (same dependency versions, no re-resolution):
#   - compiled artifacts (.rlib, .rmeta, .so, .a, .o, build-script executables) are hard links —
#     rustc and cargo replace them by new files, never rewrite them, so sharing is safe and free;
#   - every other file (.cargo-lock, whose lock is on the inode; fingerprints, dep-info and
#     build-script output, which cargo rewrites in place) is a copy of its own (about 11 MB, with
#     its nanosecond mtime: cargo compares those), so a
#     build in one folder never blocks or changes another, nor the warm build;
#   - the cell crate's own outputs and rustc's incremental caches (each with its own lock file) are
#     left out: each folder makes fresh ones.
# It sits beside the other kernels' folders, below the Cargo settings install.sh writes.

# The files of target/ that stay hard links (find's expression).
_linked_artifacts=( \( -name '*.rlib' -o -name '*.rmeta' -o -name '*.so' -o -name '*.a' -o -name '*.o'
  -o -name 'build-script-build' -o -name 'build_script_build-*' \) )
# What a new folder leaves out.
_own_outputs=( \( -name 'libcode_*' -o -name '*ctx*' -o -name incremental \) )

new_build_folder() {
  local master="$1" prefix="$2" base tmp dir
  base="$(dirname "$master")/kernels"
  mkdir -p "$base"
  # Made under a hidden name with its owner's pid inside, then renamed: a kernel starting at the same
  # moment never sees it without its .pid (and so never takes it for a dead kernel's).
  tmp="$(mktemp -d "$base/.new.$prefix.XXXXXX")"
  echo $$ > "$tmp/.pid"
  if [ -d "$master/target" ]; then
    if cp -al "$master/target" "$tmp/target" 2>/dev/null; then
      find "$tmp/target" "${_own_outputs[@]}" -prune -exec rm -rf {} +
      (cd "$tmp/target" && find . -type f ! "${_linked_artifacts[@]}" -delete)
      # cp -a keeps the nanosecond mtimes cargo's fingerprints compare (tar's default format
      # keeps whole seconds, and every dependency would look stale).
      (cd "$master/target" && find . "${_own_outputs[@]}" -prune -o -type f ! "${_linked_artifacts[@]}" -print0 |
        xargs -0 -r cp -a --parents -t "$tmp/target")
    else
      # No hard links on this file system: a plain copy.
      cp -a "$master/target" "$tmp/target"
      find "$tmp/target" "${_own_outputs[@]}" -prune -exec rm -rf {} +
    fi
  fi
  if [ -f "$master/Cargo.lock" ]; then cp "$master/Cargo.lock" "$tmp/"; fi
  dir="$base/$prefix.${tmp##*.}"
  mv -T "$tmp" "$dir"
  echo "$dir"
}

clean_build_folders() {
  local base="$1" d pid
  [ -d "$base" ] || return 0
  for d in "$base"/k.* "$base"/repl.* "$base"/.new.*; do
    [ -d "$d" ] || continue
    pid="$(cat "$d/.pid" 2>/dev/null || echo)"
    if [ -z "$pid" ]; then
      # Being made right now (its .pid comes next), or left by a kill at that moment: removed
      # only once it is old.
      if [ -n "$(find "$d" -maxdepth 0 -mmin +10)" ]; then rm -rf "$d"; fi
    elif ! kill -0 "$pid" 2>/dev/null; then
      rm -rf "$d"
    fi
  done
}
