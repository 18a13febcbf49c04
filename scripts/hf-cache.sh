# Sourced by scripts/provision-*.sh: one model snapshot in the Hugging Face cache layout.
# The caller sets NAME (the model, e.g. all-MiniLM-L6-v2), SHA256 (of its model.safetensors) and
# REV (the snapshot's revision) before sourcing; this sets CACHE, REPO_DIR and SNAP.
CACHE="${HF_HUB_CACHE:-${HF_HOME:-$HOME/.cache/huggingface}/hub}"
REPO_DIR="$CACHE/models--sentence-transformers--$NAME"
SNAP="$REPO_DIR/snapshots/$REV"

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA256" ]; }

# Exits the calling script when a verified copy is already in place (provisioning is idempotent).
exit_if_provisioned() {
  if sha_ok "$SNAP/model.safetensors" && [ -f "$SNAP/tokenizer.json" ] && [ -f "$SNAP/modules.json" ] \
     && [ "$(cat "$REPO_DIR/refs/main" 2>/dev/null)" = "$REV" ]; then
    echo "$NAME already provisioned at $SNAP"
    exit 0
  fi
}

# install_snapshot SRC_DIR [HINT]: checks SRC_DIR/model.safetensors, then moves SRC_DIR into place as the
# snapshot (through a .partial folder, so an interrupted run never leaves a half snapshot) and
# points refs/main at it.
install_snapshot() {
  local src="$1" hint="${2:-}"
  if ! sha_ok "$src/model.safetensors"; then
    echo "error: model.safetensors of $NAME does not have sha256 $SHA256${hint:+ ($hint)}" >&2
    exit 1
  fi
  mkdir -p "$REPO_DIR/snapshots" "$REPO_DIR/refs"
  rm -rf "$SNAP.partial"
  mv "$src" "$SNAP.partial"
  rm -rf "$SNAP"
  mv "$SNAP.partial" "$SNAP"
  printf '%s' "$REV" > "$REPO_DIR/refs/main"
  echo "provisioned $NAME at $SNAP"
}
