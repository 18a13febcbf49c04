#!/usr/bin/env python3
"""Kernel start → first `encode` result, for the "Rust (sbert)" kernel.

    .lab/venv/bin/python kernel/latency.py [--timeout 1800] [--json]

Starts a fresh kernel (as JupyterLab does), waits until it answers, runs the lecture's first
cell (load all-MiniLM-L6-v2, encode two sentences, cos_sim) and prints the seconds to a ready
kernel and to the first result. The set-up command runs it once with a long timeout: that
first run compiles the kernel's dependency set into the persistent build folder (the warm-up),
so every later kernel start is warm. Exits non-zero if the cell errs or the score is not 0.6153.

With SBERT_EVCXR_WARMUP=1 (the set-up's warm-up, which builds into the shared build folder) it
also runs a cell that evcxr must reject (a closure kept in a variable): evcxr answers such cells
after a `cargo check`, whose metadata build of the dependencies (≈ 20 s) then happens once here
instead of in every new kernel.
"""
import argparse
import json
import os
import sys
import time

from jupyter_client.manager import KernelManager

CELL = """let model = SentenceTransformer::load("all-MiniLM-L6-v2")?;
let emb = model.encode(&["This is a red cat with a hat.", "Have you seen my red cat?"], &EncodeOptions::default())?;
format!("{:.4}", cos_sim(&emb[0], &emb[1])?.item()?)"""

# A cell evcxr rejects after running `cargo check` (see the docstring).
CHECK_CELL = "let sbert_warm_up = |x: i32| x + 1;"


def run_cell(kc, code, timeout):
    """Executes one cell; returns (status, text of its results, streams and errors)."""
    outputs = []
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=outputs.append)
    text = ""
    for msg in outputs:
        c = msg["content"]
        if msg["msg_type"] in ("execute_result", "display_data"):
            text += c.get("data", {}).get("text/plain", "")
        elif msg["msg_type"] == "stream":
            text += c.get("text", "")
        elif msg["msg_type"] == "error":
            text += "\n".join(c.get("traceback", [])) or c.get("evalue", "")
    return reply["content"]["status"], text


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    t0 = time.monotonic()
    km = KernelManager(kernel_name="sbert")
    km.start_kernel()
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=args.timeout)
        t_ready = time.monotonic() - t0
        status, text = run_cell(kc, CELL, args.timeout)
        t_result = time.monotonic() - t0
        ok = status == "ok" and "0.6153" in text
        result = {"kernel_ready_s": round(t_ready, 2), "first_result_s": round(t_result, 2), "ok": ok, "output": text.strip()}
        if os.environ.get("SBERT_EVCXR_WARMUP") == "1":
            t = time.monotonic()
            _, check_text = run_cell(kc, CHECK_CELL, args.timeout)
            result["check_cell_s"] = round(time.monotonic() - t, 2)
            if "cannot be persisted" not in check_text:
                print(f"warm-up: unexpected answer to {CHECK_CELL!r}: {check_text.strip()}", file=sys.stderr)
                result["ok"] = ok = False
        if args.json:
            print(json.dumps(result))
        else:
            print(f"kernel ready after {t_ready:.1f} s; first encode result after {t_result:.1f} s: {text.strip()}")
            if "check_cell_s" in result:
                print(f"warm-up: `cargo check` metadata built ({result['check_cell_s']:.1f} s)")
        return 0 if ok else 1
    finally:
        km.shutdown_kernel(now=False)


if __name__ == "__main__":
    sys.exit(main())
