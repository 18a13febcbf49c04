#!/usr/bin/env python3
"""sbert against the fastest Python CPU set-ups, side by side, in one run on one machine.

Encode (--model, all-MiniLM-L6-v2 by default, the first --limit lines of corpus_10k.txt, batch 32, 2 threads, after a
64-line warm-up; the set-ups take turns, one timed run each per round, for --runs rounds, and
keep the median), each with its STS Benchmark test Spearman:
  Python  st-fp32   sentence-transformers 6.2 on torch (the lecture's set-up)
          st-bf16   the same model cast to bfloat16 (oneDNN: AMX / AVX512-BF16 where present)
          ort-fp32  ONNX Runtime on a torch.onnx export        (when onnxruntime is installed)
          ort-int8  that export, dynamically quantized to int8 (ST's export_dynamic_quantized_onnx_model)
  sbert   `sbert bench-encode --isa ISA --dtype DTYPE` for every instruction set this CPU runs (avx512,
          avx2) and every --dtypes (f32, bf16, int8)
Search (`util.semantic_search` vs `sbert bench-search`, --search-queries × --search-corpus × 384,
random unit vectors, top-10; sbert exact in f32, and scored in bf16 / int8 with the top 20 rescored
in f32, with the share of the exact hits found) and fine-tuning (`model.fit` with MultipleNegativesRankingLoss vs
`sbert bench-fit` in f32 and, where the path multiplies bf16, with --use-amp; --fit-pairs pairs of consecutive
corpus lines, batch 16, max_seq_length 128) too,
unless --no-encode / --no-search / --no-fit. Speed is compared only as the ratio measured here: the CPU decides.

    python3 scripts/bench_speed.py --python PY [--sbert target/release/sbert] [--limit 1000]

PY: a Python with sentence-transformers==6.2.0 (a dev tool, never needed by sbert) and, for the
ONNX rows, onnxruntime onnx onnxscript; scipy for the Spearman. Without --python only sbert's rows
are printed. The models come from the Hugging Face cache (scripts/provision-model.sh offline).
Prints Markdown tables (the README's speed table) and, with --json FILE, writes every figure.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_families import cpu_name  # scripts/ is on the path when this runs as a script

ROOT = Path(__file__).resolve().parent.parent

PY_ENCODE = r"""
import json, os, sys, time, statistics
import numpy as np
import torch
torch.set_num_threads(2)
cfg, corpus, limit, runs, sts = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
work, model = sys.argv[6], sys.argv[7]
lines = open(corpus, encoding="utf-8").read().splitlines()[:limit]
from sentence_transformers import SentenceTransformer
st = SentenceTransformer("sentence-transformers/" + model, device="cpu")
dim, max_len = st.get_sentence_embedding_dimension(), st.max_seq_length
if cfg.startswith("st-"):
    if cfg == "st-bf16":
        st = st.to(torch.bfloat16)
    def encode(texts):
        return st.encode(texts, batch_size=32, convert_to_tensor=True).float().numpy()
else:
    import onnxruntime as ort
    tok = st.tokenizer
    fp32 = os.path.join(work, model + ".onnx")
    ex = tok(["hello world", "a longer example sentence"], padding=True, return_tensors="pt")
    # MPNet has no token types.
    names = [n for n in ["input_ids", "attention_mask", "token_type_ids"] if n in ex]
    if not os.path.exists(fp32):
        base = st[0].auto_model.eval()
        class Wrap(torch.nn.Module):
            def __init__(self, m):
                super().__init__(); self.m = m
            def forward(self, *args):
                return self.m(**dict(zip(names, args))).last_hidden_state
        torch.onnx.export(Wrap(base).eval(), tuple(ex[n] for n in names), fp32, input_names=names,
                          output_names=["h"], dynamic_axes={n: {0: "b", 1: "s"} for n in names + ["h"]},
                          opset_version=17, dynamo=False)
    path = fp32
    if cfg == "ort-int8":
        from onnxruntime.quantization import quantize_dynamic, QuantType
        path = os.path.join(work, model + ".int8.onnx")
        if not os.path.exists(path):
            quantize_dynamic(fp32, path, weight_type=QuantType.QInt8, per_channel=True)
    so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    def encode(texts):
        out = np.zeros((len(texts), dim), np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for s in range(0, len(order), 32):
            idx = order[s:s + 32]
            e = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=max_len, return_tensors="np")
            h = sess.run(None, {n: e[n].astype(np.int64) for n in names})[0]
            m = e["attention_mask"][..., None].astype(np.float32)
            v = (h * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
            out[idx] = v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)
        return out
encode(lines[:64])
ts = []
for _ in range(runs):
    t = time.perf_counter(); encode(lines); ts.append(time.perf_counter() - t)
r = {"sentences_per_s": len(lines) / statistics.median(ts), "runs_s": ts}
if sts:
    from scipy.stats import spearmanr
    a, b, g = [], [], []
    for line in open(sts, encoding="utf-8"):
        f = line.rstrip("\n").split("\t")
        if len(f) >= 7:
            g.append(float(f[4])); a.append(f[5]); b.append(f[6])
    ea, eb = encode(a), encode(b)
    r["stsb_spearman"] = float(spearmanr((ea * eb).sum(1), g).correlation)
print(json.dumps(r))
"""

PY_SEARCH = r"""
import json, sys, time
import torch
torch.set_num_threads(2)
from sentence_transformers import util
n, q, runs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
g = torch.Generator().manual_seed(42)
corpus = torch.nn.functional.normalize(torch.randn(n, 384, generator=g), dim=1)
queries = torch.nn.functional.normalize(torch.randn(q, 384, generator=g), dim=1)
ts = []
for _ in range(runs):
    t = time.perf_counter(); util.semantic_search(queries, corpus, top_k=10); ts.append(time.perf_counter() - t)
print(json.dumps({"seconds": sorted(ts)[len(ts) // 2], "runs_s": ts}))
"""

PY_FIT = r"""
import json, sys, time, os
os.environ.setdefault("WANDB_DISABLED", "true")
import torch
torch.set_num_threads(2)
from sentence_transformers import SentenceTransformer, InputExample, losses
from torch.utils.data import DataLoader
corpus, pairs = sys.argv[1], int(sys.argv[2])
lines = open(corpus, encoding="utf-8").read().splitlines()
ex = [InputExample(texts=[lines[i], lines[i + 1]]) for i in range(pairs)]
model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2", device="cpu")
model.max_seq_length = 128
loader = DataLoader(ex, shuffle=False, batch_size=16)
loss = losses.MultipleNegativesRankingLoss(model)
t = time.perf_counter()
model.old_fit(train_objectives=[(loader, loss)], epochs=1, warmup_steps=10, show_progress_bar=False)
s = time.perf_counter() - t
print(json.dumps({"seconds": s, "pairs_per_s": pairs / s}))
"""


def run_json(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd[:4]))} … failed:\n{out.stderr[-2000:]}")
    text = out.stdout.strip()
    return json.loads(text[text.index("{"):])


def python_has(py, module):
    return subprocess.run([py, "-c", f"import {module}"], capture_output=True).returncode == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", help="a Python with sentence-transformers==6.2.0 (optional)")
    ap.add_argument("--sbert", default=str(ROOT / "target/release/sbert"))
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared/bench/corpus_10k.txt"))
    ap.add_argument("--sts", help="sts-test.csv (default: the lab's data folder)")
    ap.add_argument("--model", default="all-MiniLM-L6-v2", help="all-MiniLM-L6-v2 or all-mpnet-base-v2")
    ap.add_argument("--dtypes", default="f32,bf16,int8", help="sbert's dtypes to run")
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--configs", default="st-fp32,st-bf16,ort-fp32,ort-int8")
    ap.add_argument("--search-corpus", type=int, default=200_000)
    ap.add_argument("--search-queries", type=int, default=1000)
    ap.add_argument("--fit-pairs", type=int, default=320)
    ap.add_argument("--no-encode", action="store_true")
    ap.add_argument("--no-search", action="store_true")
    ap.add_argument("--no-fit", action="store_true")
    ap.add_argument("--json", help="also write every figure to this file")
    a = ap.parse_args()

    sts = a.sts
    if sts is None:
        for cand in [Path.home() / ".local/share/sbert/data/stsbenchmark/sts-test.csv",
                     ROOT.parent / "shared/data/stsbenchmark/sts-test.csv"]:
            if cand.exists():
                sts = str(cand)
                break
    env = dict(os.environ, HF_HUB_OFFLINE="1", RAYON_NUM_THREADS="2", TOKENIZERS_PARALLELISM="false")
    # The paths this CPU runs (scalar, the portable fallback, is correct but not a speed path).
    isas = [i for i in ["amx", "avx512", "avx2"]
            if subprocess.run([a.sbert, "--isa", i, "bench-search", "--corpus-size", "10", "--queries", "1",
                               "--dim", "8", "--json"], capture_output=True, env=env).returncode == 0]
    results = {"cpu": cpu_name(), "encode": [], "search": [], "fit": []}
    print(f"CPU: {results['cpu']}; sbert paths: {', '.join(isas)}; 2 threads", flush=True)

    # Encode. The set-ups take turns, one timed run each per round (--runs rounds, the median
    # kept), so this kind of VM's drift in speed from minute to minute reaches every one alike.
    work = tempfile.mkdtemp()
    py_cfgs = [c for c in a.configs.split(",") if c and a.python and not a.no_encode
               and not (c.startswith("ort-") and not python_has(a.python, "onnxruntime"))]
    sb_cfgs = [(isa, d) for isa in isas for d in a.dtypes.split(",") if d and not a.no_encode]
    firsts, rates = {}, {}
    for rnd in range(a.runs):
        for cfg in py_cfgs:
            r = run_json([a.python, "-c", PY_ENCODE, cfg, a.corpus, str(a.limit), "1",
                          (sts or "") if rnd == 0 else "", work, a.model], env)
            firsts.setdefault(("Python", cfg), {"who": "Python", "config": cfg, **r})
            rates.setdefault(("Python", cfg), []).append(r["sentences_per_s"])
        for isa, dtype in sb_cfgs:
            flags = ["--isa", isa, "--model", a.model, "--dtype", dtype]
            rate = run_json([a.sbert, "bench-encode", *flags, "--input", a.corpus, "--limit", str(a.limit),
                             "--json"], env)["sentences_per_s"]
            key = ("sbert", f"{isa} {dtype}")
            if key not in firsts:
                firsts[key] = {"who": "sbert", "config": f"{isa} {dtype}"}
                if sts:
                    firsts[key]["stsb_spearman"] = run_json([a.sbert, "sts", *flags, "--data", sts, "--json"],
                                                            env)["spearman_cosine"]
            rates.setdefault(key, []).append(rate)
        print(f"  round {rnd + 1} of {a.runs}: " + ", ".join(
            f"{k[0]} {k[1]} {v[-1]:.1f}" for k, v in rates.items()), flush=True)
    for key, r in firsts.items():
        r.pop("runs_s", None)
        r.update(sentences_per_s=statistics.median(rates[key]), runs=rates[key])
        results["encode"].append(r)
        print(f"  {key[0].lower()} {key[1]}: {r['sentences_per_s']:.1f} sent/s (median of {len(rates[key])})",
              flush=True)

    # Search.
    if not a.no_search:
        if a.python:
            r = run_json([a.python, "-c", PY_SEARCH, str(a.search_corpus), str(a.search_queries), str(a.runs)], env)
            results["search"].append({"who": "Python", "config": "util.semantic_search", **r})
        for isa in isas:
            for precision in ["f32", "bf16", "int8"]:
                cmd = [a.sbert, "--isa", isa, "bench-search", "--corpus-size", str(a.search_corpus),
                       "--queries", str(a.search_queries), "--precision", precision, "--json"]
                secs = [run_json(cmd, env)["seconds"] for _ in range(a.runs)]
                r = {"who": "sbert", "config": f"{isa} {precision}", "seconds": statistics.median(secs)}
                if precision != "f32":
                    # The share of the exact hits the rescored reduced-precision search found.
                    r["recall"] = run_json(cmd + ["--recall"], env)["recall_of_f32_hits"]
                results["search"].append(r)

    # Fine-tuning.
    if not a.no_fit:
        if a.python:
            r = run_json([a.python, "-c", PY_FIT, a.corpus, str(a.fit_pairs)], env)
            results["fit"].append({"who": "Python", "config": "model.fit f32", **r})
        for isa in isas:
            # f32, then bf16 mixed precision (--use-amp) where this path multiplies bf16 (never
            # AVX2; for the others the report's dtype says whether it did).
            for amp in ([], ["--use-amp"]) if isa != "avx2" else ([],):
                r = run_json([a.sbert, "--isa", isa, "bench-fit", "--input", a.corpus, "--pairs", str(a.fit_pairs),
                              "--json", *amp], env)
                if amp and r["dtype"] != "bf16":
                    continue
                config = f"{isa} f32" if not amp else f"{isa} bf16 mixed precision"
                results["fit"].append({"who": "sbert", "config": config, "pairs_per_s": r["pairs_per_s"]})
                print(f"  sbert fit {config}: {r['pairs_per_s']:.2f} pairs/s", flush=True)

    # Tables: ratios against Python's f32 and against Python's fastest set-up.
    print(f"\nMeasured on {results['cpu']}, 2 threads, one run of this script (encode: median of {a.runs} "
          f"rounds, the set-ups in turn).\n")
    enc = results["encode"]
    py32 = next((r["sentences_per_s"] for r in enc if r["config"] == "st-fp32"), None)
    pybest = max((r["sentences_per_s"] for r in enc if r["who"] == "Python"), default=None)
    if enc:
        print(f"| encode ({a.model}, batch 32) | sentences/s | × Python f32 | × fastest Python | STSb test Spearman |")
        print("|---|---|---|---|---|")
    for r in enc:
        x = f"{r['sentences_per_s'] / py32:.2f}×" if py32 else "—"
        y = f"{r['sentences_per_s'] / pybest:.2f}×" if pybest else "—"
        sp = f"{r['stsb_spearman']:.4f}" if "stsb_spearman" in r else "—"
        print(f"| {r['who']} {r['config']} | {r['sentences_per_s']:.1f} | {x} | {y} | {sp} |")
    if results["search"]:
        py = next((r["seconds"] for r in results["search"] if r["who"] == "Python"), None)
        print(f"\n| search ({a.search_queries:,} × {a.search_corpus:,} × 384, top-10) | seconds | speed-up vs Python | share of the exact hits |")
        print("|---|---|---|---|")
        for r in results["search"]:
            x = f"{py / r['seconds']:.2f}×" if py else "—"
            rec = f"{r['recall']:.4f}" if "recall" in r else "1 (exact)"
            print(f"| {r['who']} {r['config']} | {r['seconds']:.2f} | {x} | {rec} |")
    if results["fit"]:
        py = next((r["pairs_per_s"] for r in results["fit"] if r["who"] == "Python"), None)
        print(f"\n| fine-tuning (MNRL, {a.fit_pairs} pairs, batch 16, max_seq_length 128) | pairs/s | × Python |")
        print("|---|---|---|")
        for r in results["fit"]:
            x = f"{r['pairs_per_s'] / py:.2f}×" if py else "—"
            print(f"| {r['who']} {r['config']} | {r['pairs_per_s']:.2f} | {x} |")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
