#!/usr/bin/env python3
"""Gets the lab's data sets into one folder, the one `sbert::datasets::data_dir()` reads:
$SBERT_DATA, else ${XDG_DATA_HOME:-~/.local/share}/sbert/data.

    python3 scripts/fetch-data.py [--dest DIR] [--shared DIR] [--base-url URL]

For each data set, in this order:
1. already in DEST and every file matches its checksum: nothing to do;
2. a `shared/data` folder (the course workspace's, `--shared`, default `$SBERT_SHARED/data` or
   `../shared/data` beside the checkout; offline machines and CI have it): copied from there;
3. else downloaded from its public source (below), checked, unpacked.
Each data set appears in DEST whole or not at all (built in a temporary folder, then renamed).
A folder already in DEST that does not match is left alone and reported: never overwritten.

Sources (public):
- stsbenchmark/: STS Benchmark (Cer et al., 2017), http://ixa2.si.ehu.es/stswiki/images/4/48/Stsbenchmark.tar.gz
  — each unpacked file checked against its sha256 (the same bytes as the course's copy).
- beir-scifact/: SciFact in BEIR's format (Thakur et al., 2021),
  https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip — checked against the
  md5 that ir_datasets 0.6.3 publishes for it (no sha256 is published); unpacked to corpus.jsonl,
  queries.jsonl, qrels/train.tsv, qrels/test.tsv. (The course's copy is SciFact's own CSV release
  plus Anserini's BEIR topics and qrels; `sbert::datasets::scifact::load` reads either layout.)
Only the Python standard library is used. `--base-url` replaces every source's scheme and host
(a mirror, or the local server of the tests); `--checksums FILE` (JSON, tests) replaces checksums.
"""
import argparse
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

DATASETS = {
    "stsbenchmark": {
        "shared": {
            "sts-train.csv": "sha256:0f71910b59aa1ad973c5897f0791f3b0965a92b8f82b1a95f3eea9f4162fda82",
            "sts-dev.csv": "sha256:5d7e944d8b02734b07bfdb5df67db3420c64bed153fcaa1ba47ad03480cf4234",
            "sts-test.csv": "sha256:affe45928a66ee5a708531233c95b7dacbbdc57f974f002a3d32ea0180cf816a",
            "LICENSE.txt": "sha256:3dfc3217395f8c5dd05c5f8995f25fe2f8fd258e6dd770b3de480749caee8c70",
            "readme.txt": "sha256:e9488363d211c32ca5e912954f16eb9233cfed1b5b4b0475d0d812d35d7c8ef1",
        },
        "url": "http://ixa2.si.ehu.es/stswiki/images/4/48/Stsbenchmark.tar.gz",
        "archive": "tar.gz",
        "archive_checksum": None,  # each member is checked instead: the course's copy is the same bytes
        "members": {"stsbenchmark/" + f: f for f in
                    ["sts-train.csv", "sts-dev.csv", "sts-test.csv", "LICENSE.txt", "readme.txt"]},
        "member_checksums": "shared",
    },
    "beir-scifact": {
        # The course's copy (offline): SciFact's CSV release + Anserini's topics and qrels.
        "shared": {
            "scifact.zip": "sha256:a798a7046af0f6fa04476448459ce7cafeea5bd90d4d99c53a0e27dc5e1a4673",
            "topics.beir-v1.0.0-scifact.test.tsv.gz": "sha256:a624d39fa2a41da44b0148ac2b1c2cb9856ece2c4afbb6ac9360e8e524d66b4f",
            "qrels.beir-v1.0.0-scifact.test.txt": "sha256:8b7315286f8dc823956025a1fc9c9ff0bfe142d7b409458ccd758cfa0713ccba",
        },
        "url": "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip",
        "archive": "zip",
        "archive_checksum": "md5:5f7d1de60b170fc8027bb7898e2efca1",
        "members": {"scifact/corpus.jsonl": "corpus.jsonl", "scifact/queries.jsonl": "queries.jsonl",
                    "scifact/qrels/train.tsv": "qrels/train.tsv", "scifact/qrels/test.tsv": "qrels/test.tsv"},
        "member_checksums": None,  # the archive's md5 covers them
    },
}
MARKER = ".sbert-data.json"  # what was fetched, from where, with which checksums


def digest(data: bytes, spec: str) -> bool:
    algo, want = spec.split(":", 1)
    return hashlib.new(algo, data).hexdigest() == want


def default_dest() -> Path:
    if os.environ.get("SBERT_DATA"):
        return Path(os.environ["SBERT_DATA"])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "sbert" / "data"


def default_shared() -> Path:
    if os.environ.get("SBERT_SHARED"):
        return Path(os.environ["SBERT_SHARED"]) / "data"
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def verified(folder: Path) -> bool:
    """A folder this script wrote whole: its marker lists every file with a checksum that holds."""
    try:
        marker = json.loads((folder / MARKER).read_text())
        return all(digest((folder / f).read_bytes(), c) for f, c in marker["files"].items())
    except (OSError, ValueError, KeyError):
        return False


def from_shared(name: str, spec: dict, shared: Path, tmp: Path) -> dict:
    files = {}
    for f, checksum in spec["shared"].items():
        data = (shared / name / f).read_bytes()
        if not digest(data, checksum):
            raise SystemExit(f"error: {shared / name / f} does not match its checksum {checksum}")
        (tmp / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp / f).write_bytes(data)
        files[f] = checksum
    return {"source": str(shared / name), "files": files}


def download(name: str, spec: dict, base_url, tmp: Path) -> dict:
    url = spec["url"]
    if base_url:
        url = base_url.rstrip("/") + urlsplit(url).path
    print(f"== downloading {name} from {url}", file=sys.stderr)
    with urllib.request.urlopen(url, timeout=60) as r:
        data = r.read()
    if spec["archive_checksum"] and not digest(data, spec["archive_checksum"]):
        raise SystemExit(f"error: {url} does not match its checksum {spec['archive_checksum']}: nothing written")
    members = {}
    if spec["archive"] == "zip":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for m, f in spec["members"].items():
                members[f] = z.read(m)
    else:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
            for m, f in spec["members"].items():
                member = t.extractfile(m)
                if member is None:
                    raise SystemExit(f"error: {url} has no file {m}")
                members[f] = member.read()
    files = {}
    for f, content in members.items():
        checksum = spec["shared"].get(f) if spec["member_checksums"] == "shared" else None
        if checksum and not digest(content, checksum):
            raise SystemExit(f"error: {f} from {url} does not match its checksum {checksum}: nothing written")
        checksum = checksum or "sha256:" + hashlib.sha256(content).hexdigest()
        (tmp / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp / f).write_bytes(content)
        files[f] = checksum
    return {"source": url, "files": files}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dest", type=Path, default=default_dest())
    ap.add_argument("--shared", type=Path, default=default_shared())
    ap.add_argument("--base-url")
    ap.add_argument("--checksums", type=Path)
    args = ap.parse_args()
    if args.checksums:
        for name, over in json.loads(args.checksums.read_text()).items():
            DATASETS[name].update(over)
    args.dest.mkdir(parents=True, exist_ok=True)
    problems = 0
    for name, spec in DATASETS.items():
        target = args.dest / name
        if verified(target):
            print(f"== {name}: {target} (checked)", file=sys.stderr)
            continue
        if target.exists():
            print(f"error: {target} exists but was not written whole by this script (or its files changed); "
                  "it is left as it is: move it away to fetch it again", file=sys.stderr)
            problems += 1
            continue
        tmp = args.dest / f".{name}.partial-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            if all((args.shared / name / f).is_file() for f in spec["shared"]):
                marker = from_shared(name, spec, args.shared, tmp)
            else:
                marker = download(name, spec, args.base_url, tmp)
            (tmp / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        print(f"== {name}: {target} (from {marker['source']})", file=sys.stderr)
    print(args.dest)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
