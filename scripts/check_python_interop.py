#!/usr/bin/env python3
"""Check that a model saved by sbert loads in Python sentence-transformers and gives the same
embeddings (max abs difference <= 1e-5).

Needs Python with sentence-transformers (not required by the project or CI):

    pip install sentence-transformers
    cargo run --release -- fit --train pairs.jsonl --output /tmp/finetuned --max-steps 5
    cargo run --release -- encode --model /tmp/finetuned --no-normalize --input sentences.txt --output /tmp/rust.npy
    python3 scripts/check_python_interop.py /tmp/finetuned sentences.txt /tmp/rust.npy
"""
import sys

import numpy as np
from sentence_transformers import SentenceTransformer


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    model_dir, sentences_file, rust_npy = sys.argv[1:]
    with open(sentences_file, encoding="utf-8") as f:
        sentences = f.read().splitlines()
    model = SentenceTransformer(model_dir, device="cpu")
    py = model.encode(sentences, batch_size=32, convert_to_numpy=True)
    rust = np.load(rust_npy)
    if py.shape != rust.shape:
        print(f"shape mismatch: Python {py.shape}, sbert {rust.shape}")
        return 1
    diff = float(np.abs(py - rust).max())
    print(f"{len(sentences)} sentences, dim {py.shape[1]}: max abs diff {diff:.3e}")
    return 0 if diff <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
