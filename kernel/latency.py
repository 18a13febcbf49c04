#!/usr/bin/env python3
"""Kernel start → first `encode` result, for the "Rust (sbert)" kernel.

    .lab/venv/bin/python kernel/latency.py [--timeout 1800] [--json]

Starts a fresh kernel (as JupyterLab does), waits until it answers, runs the lecture's first
cell (load all-MiniLM-L6-v2, encode two sentences, cos_sim) and prints the seconds to a ready
kernel and to the first result. The set-up command runs it once with a long timeout: that
first run compiles the kernel's dependency set into the persistent build folder (the warm-up),
so every later kernel start is warm. Exits non-zero if the cell errs or the score is not 0.6153.
"""
import argparse
import json
import sys
import time

from jupyter_client.manager import KernelManager

CELL = """let model = SentenceTransformer::load("all-MiniLM-L6-v2")?;
let emb = model.encode(&["This is a red cat with a hat.", "Have you seen my red cat?"], &EncodeOptions::default())?;
format!("{:.4}", cos_sim(&emb[0], &emb[1])?.item()?)"""


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
        outputs = []
        reply = kc.execute_interactive(CELL, timeout=args.timeout, output_hook=outputs.append)
        t_result = time.monotonic() - t0
        text = ""
        for msg in outputs:
            c = msg["content"]
            if msg["msg_type"] in ("execute_result", "display_data"):
                text += c.get("data", {}).get("text/plain", "")
            elif msg["msg_type"] == "stream":
                text += c.get("text", "")
            elif msg["msg_type"] == "error":
                text += "\n".join(c.get("traceback", [])) or c.get("evalue", "")
        ok = reply["content"]["status"] == "ok" and "0.6153" in text
        result = {"kernel_ready_s": round(t_ready, 2), "first_result_s": round(t_result, 2), "ok": ok, "output": text.strip()}
        if args.json:
            print(json.dumps(result))
        else:
            print(f"kernel ready after {t_ready:.1f} s; first encode result after {t_result:.1f} s: {text.strip()}")
        return 0 if ok else 1
    finally:
        km.shutdown_kernel(now=False)


if __name__ == "__main__":
    sys.exit(main())
