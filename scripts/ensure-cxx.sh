#!/usr/bin/env bash
# USearch (the `ann` feature: on by default, and in the notebook kernel) is C++: cargo's build needs
# a C++17 compiler. Installs Debian's g++ where none is found and this can (root with apt-get);
# otherwise says what to install. Called by scripts/test.sh and scripts/lab-setup.sh.
set -euo pipefail
command -v c++ >/dev/null && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing Debian's g++ (USearch, sbert's ANN index, is compiled from C++)"
  apt-get install -y -q g++ >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q g++ >/dev/null; }
else
  echo "error: no C++ compiler (Debian: sudo apt-get install g++), or build without the ann feature" >&2
  exit 1
fi
