#!/usr/bin/env python3
"""Python references for the lecture's second half (tests/golden/lecture.json), made with
sentence-transformers 6.2.0 (`pip install sentence-transformers==6.2.0`; a dev tool only):

* BinaryClassificationEvaluator's metrics — `find_best_acc_and_threshold`,
  `find_best_f1_and_threshold`, scikit-learn's `average_precision_score` / `matthews_corrcoef` —
  on seeded random scores with ties, both score directions;
* the evaluator on all-MiniLM-L6-v2 with the first 300 pairs of STS Benchmark dev, label 1 when
  the gold score is >= 3.0 (the pairs are read from the data at test time; only numbers are
  stored), cosine / dot / euclidean / manhattan;
* OnlineContrastiveLoss and ContrastiveLoss with SiameseDistanceMetric EUCLIDEAN and MANHATTAN:
  value and gradients w.r.t. the embeddings.

    python3 scripts/make_golden_lecture.py ../shared/data/stsbenchmark/sts-dev.csv > tests/golden/lecture.json
"""
import csv
import json
import sys

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer import losses
from sentence_transformers.sentence_transformer.evaluation import BinaryClassificationEvaluator
from sklearn.metrics import average_precision_score, matthews_corrcoef

out = {"versions": {"sentence_transformers": __import__("sentence_transformers").__version__,
                    "torch": torch.__version__}}

rng = np.random.default_rng(7)
cases = []
for n, levels, greater in [(50, 0, True), (50, 8, True), (37, 5, False), (200, 0, False), (9, 3, True)]:
    scores = rng.normal(size=n).astype(np.float32)
    if levels:
        scores = np.round(scores * levels) / levels  # ties
    labels = (rng.random(n) < 0.4).astype(int)
    labels[0] = 1
    acc, acc_t = BinaryClassificationEvaluator.find_best_acc_and_threshold(scores, labels, greater)
    f1, p, r, f1_t = BinaryClassificationEvaluator.find_best_f1_and_threshold(scores, labels, greater)
    ap = average_precision_score(labels, scores * (1 if greater else -1))
    pred = (scores >= f1_t) if greater else (scores <= f1_t)
    cases.append({"scores": scores.tolist(), "labels": labels.tolist(), "greater_is_better": greater,
                  "accuracy": float(acc), "accuracy_threshold": float(acc_t), "f1": float(f1),
                  "precision": float(p), "recall": float(r), "f1_threshold": float(f1_t),
                  "ap": float(ap), "mcc": float(matthews_corrcoef(labels, pred))})
out["binary_metrics"] = cases

rows = list(csv.reader(open(sys.argv[1], encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE))[:300]
s1 = [r[5] for r in rows]
s2 = [r[6] for r in rows]
labels = [1 if float(r[4]) >= 3.0 else 0 for r in rows]
model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2", device="cpu")
ev = BinaryClassificationEvaluator(s1, s2, labels, name="sts-dev-binary",
                                   similarity_fn_names=["cosine", "dot", "euclidean", "manhattan"])
out["evaluator"] = {"pairs": "first 300 of sts-dev.csv, label = score >= 3.0", "primary": ev.primary_metric,
                    "metrics": {k: float(v) for k, v in ev(model).items()}}
out["evaluator"]["primary"] = ev.primary_metric

torch.manual_seed(0)
loss_cases = []
for metric in ["EUCLIDEAN", "MANHATTAN"]:
    for cls in ["OnlineContrastiveLoss", "ContrastiveLoss"]:
        a = torch.randn(6, 8, dtype=torch.float32) * 0.3
        b = torch.randn(6, 8, dtype=torch.float32) * 0.3
        lab = torch.tensor([[1, 0, 1, 0, 0, 1], [0, 1, 0, 0, 1, 0]][len(loss_cases) % 2], dtype=torch.float32)
        margin = 2.0 if metric == "EUCLIDEAN" else 5.0
        loss = getattr(losses, cls)(model, distance_metric=getattr(losses.SiameseDistanceMetric, metric), margin=margin)
        a.requires_grad_(True)
        b.requires_grad_(True)
        value = loss.compute_loss_from_embeddings([a, b], lab)
        value.backward()
        loss_cases.append({"loss": cls, "distance_metric": metric, "margin": margin,
                           "embeddings": [a.detach().tolist(), b.detach().tolist()], "labels": lab.tolist(),
                           "loss_value": float(value), "grads": [a.grad.tolist(), b.grad.tolist()]})
out["distance_losses"] = loss_cases
json.dump(out, sys.stdout, indent=1)
