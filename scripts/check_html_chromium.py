#!/usr/bin/env python3
"""Renders executed notebooks to HTML and opens them in headless Chromium (a real browser), then
checks the rendered DOM: notebook 02's top-5 pairs table has five rows, best pair first, scores
descending, and its 9 × 9 cos_sim table is there; notebook 01 shows 0.6153.

    python3 scripts/check_html_chromium.py DIR     (executed notebooks; needs Debian's chromium)
Also writes DIR/02_top_pairs.png, a screenshot of the rendered page.
"""
import html.parser
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Tables(html.parser.HTMLParser):
    """Collects every table's rows (cell texts) and the page's visible text."""

    def __init__(self):
        super().__init__()
        self.tables, self.text, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def render(nb: Path, out: Path, browser: str) -> Tables:
    html_file = out / (nb.stem + ".html")
    subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", "--output-dir", str(out), str(nb)], check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", html_file.resolve().as_uri()],
                             check=True, capture_output=True, text=True, timeout=120).stdout
        subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", "--window-size=1200,2400",
                        f"--screenshot={(out / (nb.stem + '.png')).resolve()}", html_file.resolve().as_uri()],
                       capture_output=True, timeout=120)
    if "<html" not in dom:
        raise SystemExit(f"{html_file}: the browser returned no DOM")
    p = Tables()
    p.feed(dom)
    return p


def main():
    d = Path(sys.argv[1] if len(sys.argv) > 1 else "target/notebooks-executed")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        raise SystemExit("error: chromium not found (Debian: apt-get install chromium)")
    problems = []
    page = render(d / "01_cosine_similarity.ipynb", d, browser)
    if "Cosine-Similarity: 0.6153" not in "".join(page.text):
        problems.append("01: 'Cosine-Similarity: 0.6153' is not on the rendered page")
    page = render(d / "02_top_pairs.ipynb", d, browser)
    pairs = [t for t in page.tables if t and t[0][:6] == ["rank", "i", "sentence i", "j", "sentence j", "score"]]
    matrix = [t for t in page.tables if len(t) == 10 and len(t[0]) == 10]
    if not pairs:
        problems.append(f"02: no top-pairs table among {len(page.tables)} rendered tables")
    else:
        rows = pairs[0][1:]
        scores = [float(r[5]) for r in rows]
        if len(rows) != 5:
            problems.append(f"02: top-pairs table has {len(rows)} rows, want 5")
        if scores != sorted(scores, reverse=True):
            problems.append(f"02: scores not descending: {scores}")
        if {rows[0][2], rows[0][4]} != {"A man is eating food.", "A man is eating a piece of bread."}:
            problems.append(f"02: best pair is {rows[0][2]!r} / {rows[0][4]!r}")
    if not matrix:
        problems.append("02: no 9 × 9 cos_sim table (header row + 9 rows, label column + 9 columns)")
    for pr in problems:
        print("error:", pr)
    if problems:
        sys.exit(1)
    print(f"chromium: rendered 01 and 02; top-pairs table {[r[5] for r in pairs[0][1:]]}, cos_sim table 9 × 9; screenshot {d / '02_top_pairs.png'}")


if __name__ == "__main__":
    main()
