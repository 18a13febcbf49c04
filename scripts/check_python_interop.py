#!/usr/bin/env python3
"""Check that models saved by sbert load in Python sentence-transformers and give the same
numbers (max abs difference <= 1e-5).

Needs Python with sentence-transformers (not required by the project or CI):

    pip install sentence-transformers

Both at once, on a bundle made by `bash scripts/interop-bundle.sh DIR` (small models trained by
sbert and sbert's own numbers for them; ≈ 10 MB, so it can be checked on another machine):

    python3 scripts/check_python_interop.py --bundle DIR

A bi-encoder (`sbert fit`): the same embeddings.

    cargo run --release -- fit --train pairs.jsonl --output /tmp/finetuned --max-steps 5
    cargo run --release -- encode --model /tmp/finetuned --no-normalize --input sentences.txt --output /tmp/rust.npy
    python3 scripts/check_python_interop.py /tmp/finetuned sentences.txt /tmp/rust.npy

A cross-encoder (`sbert fit-cross-encoder`): the same scores (sigmoid of the logit) from Python's
CrossEncoder.predict.

    cargo run --release -- fit-cross-encoder --train pairs.jsonl --output /tmp/reranker --max-steps 5
    cargo run --release -- rerank --model /tmp/reranker --query "a query" --input docs.txt --json > /tmp/rust.json
    python3 scripts/check_python_interop.py --cross-encoder /tmp/reranker "a query" docs.txt /tmp/rust.json
"""
import json
import sys

import numpy as np
from sentence_transformers import SentenceTransformer


def cross_encoder(model_dir, query, docs_file, rust_json) -> int:
    from sentence_transformers import CrossEncoder

    with open(docs_file, encoding="utf-8") as f:
        docs = f.read().splitlines()
    model = CrossEncoder(model_dir, device="cpu")
    py = model.predict([(query, d) for d in docs], convert_to_numpy=True).reshape(-1)
    with open(rust_json, encoding="utf-8") as f:
        rust = {r["corpus_id"]: r["score"] for r in json.load(f)}
    diff = max(abs(float(py[i]) - s) for i, s in rust.items())
    print(f"cross-encoder, {len(rust)} pairs: max abs diff of the scores {diff:.3e}")
    return 0 if diff <= 1e-5 else 1


def bundle(d) -> int:
    import os
    import sentence_transformers

    print(f"sentence-transformers {sentence_transformers.__version__}")
    j = lambda name: os.path.join(d, name)
    failed = bi_encoder(j("bi-encoder"), j("sentences.txt"), j("bi-encoder.npy"))
    failed |= cross_encoder(j("cross-encoder"), "A man is eating pasta.", j("sentences.txt"), j("cross-encoder.json"))
    print("interop: ok" if failed == 0 else "interop: FAILED")
    return failed


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--bundle":
        return bundle(sys.argv[2])
    if len(sys.argv) == 6 and sys.argv[1] == "--cross-encoder":
        return cross_encoder(*sys.argv[2:])
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    return bi_encoder(*sys.argv[1:])


def bi_encoder(model_dir, sentences_file, rust_npy) -> int:
    with open(sentences_file, encoding="utf-8") as f:
        sentences = f.read().splitlines()
    model = SentenceTransformer(model_dir, device="cpu")
    py = model.encode(sentences, batch_size=32, convert_to_numpy=True)
    rust = np.load(rust_npy)
    if py.shape != rust.shape:
        print(f"shape mismatch: Python {py.shape}, sbert {rust.shape}")
        return 1
    diff = float(np.abs(py - rust).max())
    print(f"bi-encoder, {len(sentences)} sentences, dim {py.shape[1]}: max abs diff {diff:.3e}")
    return 0 if diff <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
