#!/usr/bin/env python3
"""pytrec_eval on the hand-made trec_eval cases of ../shared/golden/ir_metrics_cases.json for the
measures that golden file does not hold (tests/golden/measures.json): success_k (ranx's
hit_rate@k), map_cut_k, Rprec, gm_map, iprec_at_recall_0.00 … 1.00, num_ret, num_rel and
num_rel_ret — the reference for those `Measure`s (tests/evaluation.rs).

    pip install pytrec-eval-terrier==0.5.11
    python3 scripts/make_golden_measures.py ../shared/golden/ir_metrics_cases.json > tests/golden/measures.json

Each case's run is given as [docid, score] lists; as in the cases' own README, the evaluated run is
the dict after de-duplication (the highest score kept). "all" is what trec_eval prints on its
`all` line, from pytrec_eval's own `compute_aggregated_measure` (the mean; the sum for num_*, the
geometric mean for gm_map). Only the computed values are written.
"""
import json
import sys
from importlib.metadata import version

import pytrec_eval

MEASURES = {"success.1,2,3,5,10", "map_cut.5,10", "Rprec", "gm_map", "iprec_at_recall",
            "num_ret", "num_rel", "num_rel_ret"}

cases = json.load(open(sys.argv[1], encoding="utf-8"))["cases"]
out = []
for c in cases:
    run = {}
    for q, docs in c["run"].items():
        d = run.setdefault(q, {})
        for doc, score in docs:
            d[doc] = max(d.get(doc, float("-inf")), float(score))
    ev = pytrec_eval.RelevanceEvaluator(c["qrels"], MEASURES)
    per_query = ev.evaluate(run)
    names = sorted({m for v in per_query.values() for m in v})
    all_ = {m: pytrec_eval.compute_aggregated_measure(m, [v[m] for v in per_query.values()])
            for m in names} if per_query else {}
    out.append({"name": c["name"], "per_query": per_query, "all": all_})
json.dump({"description": "pytrec_eval on ir_metrics_cases.json: " + ", ".join(sorted(MEASURES)),
           "versions": {"pytrec_eval": version("pytrec-eval-terrier")}, "cases": out},
          sys.stdout, indent=1, sort_keys=True)
print()
