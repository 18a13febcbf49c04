#!/usr/bin/env bash
# The main job (README "Set-up" command 1): provision the model and replay the lecture's
# examples in the terminal. (The Jupyter lab with the sbert kernel will be started from here too.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/provision-model.sh
cargo build --release --examples --bin sbert
for ex in cos_sim top_pairs; do
  echo "=== cargo run --release --example $ex"
  cargo run -q --release --example "$ex"
done
