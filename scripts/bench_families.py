#!/usr/bin/env python3
"""Encode throughput of every real model, sbert against Python, in one run on one machine.

For each model (all-MiniLM-L6-v2, all-mpnet-base-v2): Python's `model.encode(lines, batch_size=32)`
in a fresh child process (2 torch threads, after a 64-line warm-up, median of --runs) and
`sbert bench-encode` on the same lines (median of --runs), then the ratio. Speed is compared only as
this ratio: the CPU differs between machines of the same kind.

    python3 scripts/bench_families.py --python ~/.cache/sbert-pyref/bin/python \
        --sbert target/release/sbert [--limit 500] [--runs 3]

Needs a Python with sentence-transformers==6.2.0 (a dev tool only: `pip install
sentence-transformers==6.2.0`), the two models provisioned (scripts/provision-model.sh,
scripts/provision-mpnet.sh) and ../shared/bench/corpus_10k.txt. Prints a Markdown table.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["all-MiniLM-L6-v2", "all-mpnet-base-v2"]

WORKER = r"""
import json, sys, time
import torch
torch.set_num_threads(2)
from sentence_transformers import SentenceTransformer
name, corpus, limit, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lines = [l.rstrip("\n") for l in open(corpus, encoding="utf-8")][:limit]
model = SentenceTransformer(name, device="cpu")
model.encode(lines[:64], batch_size=32, show_progress_bar=False)
rates = []
for _ in range(runs):
    t = time.perf_counter()
    model.encode(lines, batch_size=32, show_progress_bar=False)
    rates.append(len(lines) / (time.perf_counter() - t))
print(json.dumps({"rates": rates}))
"""


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", required=True, help="a Python with sentence-transformers 6.2.0")
    ap.add_argument("--sbert", default=str(ROOT / "target/release/sbert"))
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared/bench/corpus_10k.txt"))
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="2", RAYON_NUM_THREADS="2")
    rows = []
    for name in MODELS:
        out = subprocess.run([a.python, "-c", WORKER, name, a.corpus, str(a.limit), str(a.runs)],
                             env=env, check=True, capture_output=True, text=True).stdout
        py = statistics.median(json.loads(out.strip().splitlines()[-1])["rates"])
        rates = []
        for _ in range(a.runs):
            out = subprocess.run([a.sbert, "bench-encode", "--model", name, "--input", a.corpus,
                                  "--limit", str(a.limit), "--batch-size", "32", "--json"],
                                 env=env, check=True, capture_output=True, text=True).stdout
            rates.append(json.loads(out)["sentences_per_s"])
        rs = statistics.median(rates)
        rows.append((name, py, rs))
        print(f"{name}: Python {py:.1f} sent/s, sbert {rs:.1f} sent/s", file=sys.stderr)
    print(f"CPU: {cpu_name()}; {a.limit} lines of corpus_10k, batch 32, 2 threads, median of {a.runs}\n")
    print("| model | Python 6.2 (sent/s) | sbert (sent/s) | sbert / Python |")
    print("|---|---|---|---|")
    for name, py, rs in rows:
        print(f"| {name} | {py:.1f} | {rs:.1f} | {rs / py:.2f}× |")


if __name__ == "__main__":
    main()
