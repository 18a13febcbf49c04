#!/usr/bin/env python3
"""sentence-transformers' CrossEncoderRerankingEvaluator on samples scored by a stand-in model
(tests/golden/ce_reranking.json): the reference for `sbert::cross_encoder::CrossEncoderRerankingEvaluator`
and `reranking_metrics` (tests/cross_encoder_evaluator.rs).

    pip install sentence-transformers==6.2.0
    python3 scripts/make_golden_ce_reranking.py > tests/golden/ce_reranking.json

The stand-in's score of (query, document) is the number of the query's words in the document
minus 0.001 x the document's length in characters, rounded to 0.5 when the document starts
with "tie" (so that scores tie) — the test computes the same. Cases: positives + negatives,
documents with always_rerank_positives true and false (positives the first stage missed, a sample
without positives), at_k 10 and 3, a name; each with its metrics and the CSV the evaluator wrote.
"""
import json
import os
import tempfile
from unittest import mock

import numpy as np

_argsort = np.argsort
np.argsort = lambda a, *args, **kw: _argsort(a, kind="stable")
import sentence_transformers
from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator


def score(query, doc):
    s = float(len(set(query.split()) & set(doc.split()))) - 0.001 * len(doc)
    if doc.startswith("tie"):
        s = round(s * 2) / 2
    return np.float32(s)


def model():
    m = mock.MagicMock()
    m.predict = lambda pairs, **kw: np.array([score(q, d) for q, d in pairs], dtype=np.float32)
    return m


rng = np.random.default_rng(5)
words = "cell gene protein dose mouse tumour cancer patient drug trial".split()


def text(n, prefix=""):
    return prefix + " ".join(rng.choice(words, size=n))


def samples(kind, n):
    out = []
    for i in range(n):
        query = text(3)
        positive = [text(int(rng.integers(2, 8)), "tie " if i % 3 == 0 else "") for _ in range(int(rng.integers(0 if i == 2 else 1, 4)))]
        others = [text(int(rng.integers(2, 8)), "tie " if j % 2 == 0 else "") for j in range(int(rng.integers(3, 15)))]
        if kind == "negative":
            out.append({"query": query, "positive": positive, "negative": others})
        else:
            # A first stage's list: some positives found (in the middle), some missed.
            docs = others[:]
            for p in positive[: max(0, len(positive) - 1)]:
                docs.insert(int(rng.integers(0, len(docs) + 1)), p)
            out.append({"query": query, "positive": positive, "documents": docs})
    return out


cases = []
for name, kind, n, at_k, always, label in [
    ("negatives", "negative", 12, 10, True, ""),
    ("documents", "documents", 12, 10, True, "dev"),
    ("documents, positives as ranked", "documents", 9, 10, False, ""),
    ("at_k 3", "negative", 10, 3, True, "k3"),
]:
    s = samples(kind, n)
    if kind == "negative":
        s = [x for x in s if x["positive"]] + [dict(s[2], positive=[])]
    ev = CrossEncoderRerankingEvaluator(s, at_k=at_k, always_rerank_positives=always, name=label)
    with tempfile.TemporaryDirectory() as d:
        ev(model(), output_path=d, epoch=1, steps=7)
        metrics = ev(model(), output_path=d, epoch=2, steps=14)
        csv_name = ev.csv_file
        csv_text = open(os.path.join(d, csv_name)).read()
    cases.append({"name": name, "samples": s, "at_k": at_k, "always_rerank_positives": always,
                  "label": label, "metrics": {k: float(v) for k, v in metrics.items()},
                  "csv_file": csv_name, "csv": csv_text})

# compute_metrics alone, on score lists with ties.
lists = []
ev = CrossEncoderRerankingEvaluator([], at_k=5)
for n in [2, 5, 9, 14, 30]:
    for tie in [False, True]:
        rel = [int(x) for x in rng.integers(0, 2, size=n)]
        if not any(rel):
            rel[0] = 1
        sc = rng.normal(size=n).astype(np.float32)
        if tie:
            sc = (np.round(sc * 2) / 2).astype(np.float32)
        mrr, ndcg, ap = ev.compute_metrics(rel, sc)
        lists.append({"relevant": rel, "scores": [float(x) for x in sc], "at_k": 5,
                      "mrr": float(mrr), "ndcg": float(ndcg), "ap": float(ap)})

print(json.dumps({"sentence_transformers": sentence_transformers.__version__, "cases": cases,
                  "lists": lists}, indent=1))
