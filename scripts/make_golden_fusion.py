#!/usr/bin/env python3
"""ranx.fuse on seeded random runs: the reference for `sbert::evaluation::fuse` (tests/fusion.rs).

    pip install ranx==0.3.21
    python3 scripts/make_golden_fusion.py > tests/golden/fusion.json

Three runs over the same queries, each query's documents drawn from a pool of 20 with distinct
scores (negative ones too), listed best first (ranx ranks by list order); one query has a run of a
single document and one a run with no document in common with the others. Every method
(rrf k=60 and k=10, sum, max, min, mnz, wsum) under every normalization (none, min-max, max, sum,
zmuv, rank) is written: the inputs the script generated and ranx's fused scores.
"""
import json
import random
import sys
from importlib.metadata import version

from ranx import Run, fuse

rng = random.Random(7)
QUERIES = ["q1", "q2", "q3"]


def make_run(depths):
    run = {}
    for q, depth in zip(QUERIES, depths):
        docs = rng.sample([f"d{i}" for i in range(20)], depth)
        scores = rng.sample(range(-500, 1500), depth)
        pairs = sorted(((d, s / 100.0) for d, s in zip(docs, scores)), key=lambda p: -p[1])
        run[q] = pairs
    return run


runs = [make_run([10, 1, 12]), make_run([8, 9, 15]), make_run([12, 6, 5])]
# q3 of the third run shares no document with the others.
runs[2]["q3"] = [(f"x{i}", s) for i, (_, s) in enumerate(runs[2]["q3"])]

METHODS = [("rrf", {"k": 60}), ("rrf", {"k": 10}), ("sum", {}), ("max", {}), ("min", {}), ("mnz", {}),
           ("wsum", {"weights": [0.5, 0.3, 0.2]})]
NORMS = [None, "min-max", "max", "sum", "zmuv", "rank"]
out = []
for method, params in METHODS:
    for norm in NORMS:
        ranx_runs = [Run({q: dict(docs) for q, docs in r.items()}) for r in runs]
        fused = fuse(ranx_runs, norm=norm, method=method, params=dict(params))
        out.append({"method": method, "params": params, "norm": norm or "none",
                    "fused": {q: dict(d) for q, d in fused.to_dict().items()}})
json.dump({"description": "ranx.fuse on three seeded runs (scripts/make_golden_fusion.py)",
           "versions": {"ranx": version("ranx")},
           "runs": [{q: [[d, s] for d, s in docs] for q, docs in r.items()} for r in runs],
           "cases": out}, sys.stdout, indent=1, sort_keys=True)
print()
