#!/usr/bin/env python3
"""Notebooks ⇄ examples: each notebook in notebooks/ is generated from one example in examples/,
so the two mirror each other cell for cell.

    python3 scripts/notebooks.py build [NAME…]   regenerate the notebooks' cells (outputs cleared)
    python3 scripts/notebooks.py check           fail if a notebook's cells differ from its example

Conversion: the example's `//!` header becomes the first markdown cell; `use` lines other than
`use sbert::prelude::*;` (the kernel preloads it) and items outside `main` become a code cell;
the body of `main` is split at `// # Title` comments: each title (and the `//` comment lines right
after it) becomes a markdown cell, the code up to the next title a code cell. A code cell whose
last line is `println!("{name}");` ends with `name` instead, so the notebook shows the value's rich
display (HTML table or SVG) where the terminal prints text; one whose last line closes a block
(`}` of a `for` or `if`) gets a `;`, so the notebook does not show the block's value `()`. `Ok(())` at the end of `main` is dropped.
"""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAIRS = {
    "01_cosine_similarity": "cos_sim",
    "02_top_pairs": "top_pairs",
    "03_semantic_search": "semantic_search",
    "04_retrieve_rerank": "retrieve_rerank",
    "05_fine_tuning": "fine_tuning",
    "06_project_part3": "project_part3",
    "07_model_families": "model_families",
    "08_large_corpora": "large_corpora",
}
DISPLAY = re.compile(r'^println!\("(?:\\n)?\{(\w+)\}"\);$')


def md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text.strip("\n")}


def code(text, body=False):
    lines = text.strip("\n").split("\n")
    m = DISPLAY.match(lines[-1].strip())
    if m:
        lines[-1] = lines[-1][: len(lines[-1]) - len(lines[-1].lstrip())] + m.group(1)
    elif body and lines[-1] == "}":
        # A cell of main's body ending with a `for`/`if` block: evcxr would show its value, `()`.
        lines[-1] = "};"
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": "\n".join(lines)}


def cells_of(example: Path):
    src = example.read_text().split("\n")
    cells = []
    header = [l[4:] if l.startswith("//! ") else l[3:] for l in src if l.startswith("//!")]
    cells.append(md("\n".join(header)))
    rest = [l for l in src if not l.startswith("//!")]
    start = next(i for i, l in enumerate(rest) if l.startswith("fn main()"))
    end = max(i for i, l in enumerate(rest) if l == "}")
    items = [l for l in rest[:start] + rest[end + 1 :] if l.strip() != "use sbert::prelude::*;"]
    if "\n".join(items).strip():
        cells.append(code("\n".join(items)))
    body = [l[4:] if l.startswith("    ") else l for l in rest[start + 1 : end]]
    while body and body[-1].strip() in ("Ok(())", ""):
        body.pop()
    chunk, i = [], 0
    while i < len(body):
        line = body[i]
        if line.startswith("// # "):
            if "\n".join(chunk).strip():
                cells.append(code("\n".join(chunk), body=True))
            chunk = []
            text = ["## " + line[5:]]
            i += 1
            while i < len(body) and body[i].startswith("//") and not body[i].startswith("// # "):
                text.append(body[i][3:])
                i += 1
            cells.append(md("\n".join(text)))
            continue
        chunk.append(line)
        i += 1
    if "\n".join(chunk).strip():
        cells.append(code("\n".join(chunk), body=True))
    return cells


def notebook(cells):
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Rust (sbert)", "language": "rust", "name": "sbert"},
            "language_info": {"codemirror_mode": "rust", "file_extension": ".rs", "mimetype": "text/rust", "name": "Rust", "pygment_lexer": "rust", "version": ""},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def sources(nb):
    return [(c["cell_type"], c["source"] if isinstance(c["source"], str) else "".join(c["source"])) for c in nb["cells"]]


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else "check"
    names = sys.argv[2:] or list(PAIRS)
    bad = 0
    for name in names:
        want = notebook(cells_of(ROOT / "examples" / f"{PAIRS[name]}.rs"))
        path = ROOT / "notebooks" / f"{name}.ipynb"
        if cmd == "build":
            for k, c in enumerate(want["cells"]):
                c["id"] = f"{name[:2]}-{k:02d}"
            path.write_text(json.dumps(want, indent=1, ensure_ascii=False) + "\n")
            print(f"wrote {path.relative_to(ROOT)} ({len(want['cells'])} cells)")
        elif cmd == "check":
            if not path.exists():
                print(f"{path.relative_to(ROOT)}: missing (python3 scripts/notebooks.py build {name})")
                bad += 1
            elif sources(json.loads(path.read_text())) != sources(want):
                print(f"{path.relative_to(ROOT)}: cells differ from examples/{PAIRS[name]}.rs (rebuild and re-execute it)")
                bad += 1
        else:
            sys.exit(__doc__)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
