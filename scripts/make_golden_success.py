#!/usr/bin/env python3
"""pytrec_eval's success_k (ranx's hit_rate@k) on the hand-made trec_eval cases of
../shared/golden/ir_metrics_cases.json (tests/golden/success.json), the reference for
`Measure::Success` (tests/evaluation.rs).

    pip install pytrec-eval-terrier==0.5.11
    python3 scripts/make_golden_success.py ../shared/golden/ir_metrics_cases.json > tests/golden/success.json

Each case's run is given as [docid, score] lists; as in the cases' own README, the evaluated run is
the dict after de-duplication (the highest score kept). Only the computed values are written.
"""
import json
import sys
from importlib.metadata import version

import pytrec_eval

CUTS = [1, 2, 3, 5, 10]

cases = json.load(open(sys.argv[1], encoding="utf-8"))["cases"]
out = []
for c in cases:
    run = {}
    for q, docs in c["run"].items():
        d = run.setdefault(q, {})
        for doc, score in docs:
            d[doc] = max(d.get(doc, float("-inf")), float(score))
    ev = pytrec_eval.RelevanceEvaluator(c["qrels"], {"success." + ",".join(map(str, CUTS))})
    per_query = ev.evaluate(run)
    names = [f"success_{k}" for k in CUTS]
    mean = {m: sum(v[m] for v in per_query.values()) / len(per_query) for m in names} if per_query else {}
    out.append({"name": c["name"], "per_query": per_query, "mean": mean})
json.dump({"description": "pytrec_eval success_k on ir_metrics_cases.json",
           "versions": {"pytrec_eval": version("pytrec-eval-terrier")}, "cases": out},
          sys.stdout, indent=1, sort_keys=True)
print()
