#!/usr/bin/env bash
# Builds a bundle for the Python interop check: models trained and saved by sbert, plus sbert's own
# numbers for them. Small (≈ 10 MB) so it can be checked on any machine that has Python
# sentence-transformers, with scripts/check_python_interop.py --bundle DIR.
#   bash scripts/interop-bundle.sh OUT_DIR [SBERT_BINARY]
# 1. a small random BERT with all-MiniLM-L6-v2's real tokenizer (scripts/make_mini_model.py);
# 2. `sbert fit` (MNRL + OnlineContrastiveLoss, 6 steps) → OUT/bi-encoder, and its embeddings of
#    sentences.txt (`sbert encode --no-normalize`) → OUT/bi-encoder.npy;
# 3. `sbert fit-cross-encoder` (6 steps) → OUT/cross-encoder, and its scores of (query, doc) pairs
#    (`sbert rerank --json`) → OUT/cross-encoder.json.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: interop-bundle.sh OUT_DIR [SBERT_BINARY]}"
SBERT="${2:-target/release/sbert}"
[ -x "$SBERT" ] || { echo "error: $SBERT not built (cargo build --release)" >&2; exit 1; }
bash scripts/provision-model.sh >/dev/null
MINILM=$(ls -d "${HF_HUB_CACHE:-${HF_HOME:-$HOME/.cache/huggingface}/hub}"/models--sentence-transformers--all-MiniLM-L6-v2/snapshots/*/ | head -1)
rm -rf "$OUT" && mkdir -p "$OUT"
python3 scripts/make_mini_model.py "$MINILM" "$OUT/mini" 42 >/dev/null

cat > "$OUT/sentences.txt" <<'TXT'
A man is eating food.
A man is eating a piece of bread.
The girl is carrying a baby.
A man is riding a horse.
A woman is playing violin.
Two men pushed carts through the woods.
A man is riding a white horse on an enclosed ground.
A monkey is playing drums.
Someone in a gorilla costume is playing a set of drums.
Crème brûlée, naïve café — Größe: 42 °C; 東京 ✓
TXT
# one long line: truncated at max_seq_length (128) by both
python3 -c "print(' '.join(['the quick brown fox jumps over the lazy dog'] * 40))" >> "$OUT/sentences.txt"
python3 - "$OUT/sentences.txt" "$OUT/train.jsonl" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()[:9]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for i, a in enumerate(lines):
        f.write(json.dumps({"texts": [a, lines[(i + 1) % len(lines)]], "label": 1.0}) + "\n")
        f.write(json.dumps({"texts": [a, lines[(i + 4) % len(lines)]], "label": 0.0}) + "\n")
PY

"$SBERT" fit --model "$OUT/mini" --train "$OUT/train.jsonl" --batch-size 4 --warmup-steps 0 --lr 1e-3 --max-steps 6 --output "$OUT/bi-encoder"
"$SBERT" encode --model "$OUT/bi-encoder" --no-normalize --input "$OUT/sentences.txt" --output "$OUT/bi-encoder.npy"
"$SBERT" fit-cross-encoder --model "$OUT/mini" --train "$OUT/train.jsonl" --batch-size 4 --warmup-steps 0 --lr 1e-3 --max-steps 6 --output "$OUT/cross-encoder"
"$SBERT" rerank --model "$OUT/cross-encoder" --query "A man is eating pasta." --input "$OUT/sentences.txt" --json > "$OUT/cross-encoder.json"
echo "bundle in $OUT: python3 scripts/check_python_interop.py --bundle $OUT"
