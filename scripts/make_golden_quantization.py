#!/usr/bin/env python3
"""sentence-transformers' quantize_embeddings and semantic_search_usearch on seeded random
embeddings: the reference for `sbert::util::quantization` (tests/quantization.rs).

    pip install sentence-transformers==6.2.0 usearch==2.26.6
    python3 scripts/make_golden_quantization.py > tests/golden/quantization.json

Awkward sizes: 37 embeddings of dimension 13 (binary pads the last byte), int8 / uint8 with
ranges from the embeddings themselves, from calibration embeddings (values outside them clip to
0 / 255) and given explicitly (one dimension with a zero range); then an exact search of 6 queries
in 300 int8 embeddings of dimension 40 with the corpus's ranges and rescoring (multiplier 4), whose
rescored scores are continuous (no ties).
"""
import json
import sys
from importlib.metadata import version

import numpy as np
from sentence_transformers.util.quantization import quantize_embeddings, semantic_search_usearch

rng = np.random.default_rng(17)
emb = rng.standard_normal((37, 13)).astype(np.float32)
calib = (0.5 * rng.standard_normal((50, 13))).astype(np.float32)
ranges = np.vstack((np.full(13, -1.0), np.full(13, 1.0))).astype(np.float32)
ranges[:, 4] = 0.25  # a zero range: step 1

cases = []
for precision in ["int8", "uint8", "binary", "ubinary"]:
    for how in ["self", "calibration", "ranges"]:
        if precision.endswith("binary") and how != "self":
            continue
        kwargs = {"calibration": {"calibration_embeddings": calib}, "ranges": {"ranges": ranges}}.get(how, {})
        out = quantize_embeddings(emb, precision=precision, **kwargs)
        cases.append({"precision": precision, "ranges_from": how, "values": out.astype(int).tolist()})

corpus = rng.standard_normal((300, 40)).astype(np.float32)
queries = rng.standard_normal((6, 40)).astype(np.float32)
search_ranges = np.vstack((corpus.min(0), corpus.max(0)))
corpus_int8 = quantize_embeddings(corpus, precision="int8", ranges=search_ranges)
hits, _ = semantic_search_usearch(
    queries, corpus_embeddings=corpus_int8, corpus_precision="int8", top_k=5,
    ranges=search_ranges, rescore=True, rescore_multiplier=4, exact=True,
)
json.dump({
    "sentence_transformers": version("sentence-transformers"), "usearch": version("usearch"),
    "embeddings": emb.tolist(), "calibration": calib.tolist(), "ranges": ranges.tolist(),
    "cases": cases,
    "search": {"corpus": corpus.tolist(), "queries": queries.tolist(), "top_k": 5, "rescore_multiplier": 4,
               "hits": [[[h["corpus_id"], h["score"]] for h in q] for q in hits]},
}, sys.stdout)
