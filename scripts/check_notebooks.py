#!/usr/bin/env python3
"""Checks executed notebooks: every code cell ran, no error output (an `error` output, a traceback,
or an `Error:` line on stderr), and each notebook shows what the lecture shows (its key number, its
HTML tables, its SVG plots).

    python3 scripts/check_notebooks.py DIR     (the executed copies of notebooks/0*.ipynb)
"""
import json
import re
import sys
from pathlib import Path

# notebook → [(MIME type pattern or "text", regular expression that must match one output of that type)]
EXPECT = {
    "01_cosine_similarity": [("text", r"Cosine-Similarity: 0\.6153")],
    "02_top_pairs": [("text/html", r"<table"), ("text/html", r"A man is eating food\."), ("text", r"Top-5 most similar pairs:\n"),
                     ("text", r"(?m)^A man is eating food\. \t A man is eating a piece of bread\. \t 0\.\d{4}$"), ("text", r"same pairs as the loop: true")],
    "03_semantic_search": [("text/html", r"A cheetah is running behind its prey"), ("text", r"identical rankings: true"), ("text", r"same hits: true")],
    "04_retrieve_rerank": [("text/html", r"ndcg_cut_10"), ("text/html", r"cross-encoder alone"), ("text/html", r"interpolated \(w = "), (r"image/svg\+xml|text/html", r"<svg")],
    "05_fine_tuning": [("text", r"Score: 0\.\d+, Epoch: 0, Steps: -1"), ("text", r"(?m)^0\.\d+, 0, -1$"), ("text", r"ndcg_cut_10 +pretrained 0\.\d{4}  fine-tuned 0\.\d{4}"),
                       ("text", r"Epoch 1/1: 100%"), ("text", r"cosine_ap +pretrained 0\.\d{4}  fine-tuned 0\.\d{4}"),
                       (r"image/svg\+xml", r"OnlineContrastiveLoss")],
    "06_project_part3": [("text", r"300 test topics, 5183 answers"), ("text/html", r"P_1"), ("text/html", r"ndcg_cut_5"), ("text/html", r"<svg"),
                         ("text", r"fine-tuning helped \d+ queries"), ("text", r"(?m)^ndcg_cut_10 +0\.\d{4} → 0\.\d{4} \([+-]0\.\d{4}\)  paired t-test: t = -?\d+\.\d{3} \(df \d+\), p = [01]\.\d{4}$"), ("text/html", r"Judged relevant"), ("text/html", r"Top 5 of fine-tuned"),
                         ("text", r"indexed 5183 answers in \d+\.\d\d s"), ("text/html", r"BM25 \+ fine-tuned \(RRF\)"), ("text", r"\| \(a\) BM25 \| 0\.68\d\d<sup>"),
                         ("text", r"\\begin\{tabular\}"), ("text", r"paired randomization test: mean difference"), ("text/html", r"gm_map"),
                         ("text/html", r"bm25-top10_ndcg@10"), ("text", r"2 tokens added, vocabulary 30524"), ("text", r"activation from the config: Sigmoid"), (r"image/svg\+xml", r"CoSENTLoss")],
    "08_large_corpora": [("text", r"5183 binary embeddings of dimension 384: 248784 bytes \(32\.0× smaller than float32\)"), ("text", r"(?m)^binary, int8-rescored ×10 +0\.2 +0\.9\d{3} "),
                         ("text/html", r"ndcg_cut_10"), ("text", r"binary, int8-rescored ×10: \d+\.\d\d s, 48 MB in memory"),
                         ("text", r"(?m)^HNSW float32 +\d+\.\d\d +0\.9[89]\d{2} ")],
    "07_model_families": [("text", r"MPNetModel \(12 layers\)"), ("text/html", r"A cheetah is running behind its prey"), ("text", r"all-MiniLM-L6-v2 \| bert \| 384 \| 0\.820\d"), ("text", r"all-mpnet-base-v2 \| mpnet \| 768 \| 0\.83[34]\d")],
}


def outputs(nb):
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        yield cell, cell.get("outputs", [])


def text_of(o):
    if o["output_type"] == "stream":
        return [("text", "".join(o["text"]))]
    if o["output_type"] in ("execute_result", "display_data"):
        out = []
        for mime, v in o.get("data", {}).items():
            out.append(("text" if mime == "text/plain" else mime, "".join(v) if isinstance(v, list) else v))
        return out
    return []


def check(path: Path):
    nb = json.loads(path.read_text())
    problems = []
    seen = []
    for cell, outs in outputs(nb):
        if cell.get("execution_count") is None:
            problems.append(f"cell not executed: {cell['source'][:60]!r}")
        for o in outs:
            if o["output_type"] == "error":
                problems.append(f"error output: {o.get('ename')}: {o.get('evalue')}")
            if o["output_type"] == "stream" and o.get("name") == "stderr":
                text = "".join(o["text"])
                if re.search(r"^(Error|error)[:\[]|panicked at", text, re.M):
                    problems.append(f"error on stderr: {text.strip()[:200]}")
            if o["output_type"] in ("execute_result", "display_data"):
                data = o.get("data", {})
                if "".join(data.get("text/plain", "")).strip() == "()":
                    problems.append(f"a cell shows the unit value () in cell {cell['source'][:40]!r}")
                if any(m in data for m in ("text/html", "image/svg+xml")) and "text/plain" not in data:
                    problems.append(f"rich output without a text/plain fallback in cell {cell['source'][:40]!r}")
            seen.extend(text_of(o))
    for mime, pattern in EXPECT.get(path.stem, []):
        if not any(re.fullmatch(mime, m) and re.search(pattern, t) for m, t in seen):
            problems.append(f"no {mime} output matching /{pattern}/")
    return problems


def main():
    d = Path(sys.argv[1] if len(sys.argv) > 1 else "target/notebooks-executed")
    names = sorted(EXPECT)
    bad = 0
    for name in names:
        p = d / f"{name}.ipynb"
        if not p.exists():
            print(f"{p}: missing")
            bad += 1
            continue
        problems = check(p)
        for pr in problems:
            print(f"{p}: {pr}")
        bad += bool(problems)
        if not problems:
            print(f"{p}: ok")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
