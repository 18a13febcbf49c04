#!/usr/bin/env python3
"""The layering check (run by scripts/test.sh; ARCHITECTURE.md "Layers").

Builds the file-level import graph of the library in src/ and fails when
  1. the graph has a cycle (file A imports from B and B, directly or not, from A), or
  2. a file imports from a layer above its own (the order is LAYERS below, lowest first).

An import is every `use` tree and every `crate::` / `super::` / `self::` path in a file's code
(comments and string literals removed), test modules included. A path is resolved to the file that
defines the module it names; a name that a `mod.rs` only re-exports (`pub use child::Name`, or
`pub use child::*` where `child` defines `Name`) resolves to the file that defines it, so a parent
module that re-exports its children does not form a cycle with them.

Usage: python3 scripts/check_layers.py [SRC_DIR]      (prints the graph with -v)
       python3 scripts/check_layers.py --self-test   (checks that it finds a planted cycle and an
                                                      upward import, and passes a clean tree)
"""
import os
import re
import sys

# Lowest layer first. A file may import from its own layer and from the layers before it.
# The crate root (lib.rs) and the prelude re-export the public API and sit on top.
LAYERS = [
    "core",
    "display",
    "util",
    "ann",
    "vectordb",
    "encoder",
    "models",
    "datasets",
    "bm25",
    "evaluation",
    "losses",
    "train",
    "cross_encoder",
    "prelude",
    "",  # lib.rs
]

ITEM_RE = re.compile(
    r"\b(?:fn|struct|enum|trait|type|const|static|union|mod)\s+([A-Za-z_][A-Za-z0-9_]*)"
    r"|\bmacro_rules!\s*([A-Za-z_][A-Za-z0-9_]*)"
)
PATH_RE = re.compile(r"(?<![A-Za-z0-9_:])((?:crate|super|self)(?:::(?:[A-Za-z_][A-Za-z0-9_]*))+)")
# A path that starts at a child module of the current one (`beir::write_dir(…)` in datasets/mod.rs).
BARE_RE = re.compile(r"(?<![A-Za-z0-9_:.])([a-z_][a-z0-9_]*(?:::(?:[A-Za-z_][A-Za-z0-9_]*))+)")


def strip_code(text):
    """Removes comments, string and char literals (keeps newlines and braces of code)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not text[i - 1].isalnum()):
            m = re.match(r'r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + len(m.group(0)))
            out.append('""')
            i = n if end < 0 else end + 1 + len(m.group(1))
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            out.append('""')
            i += 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]) or re.match(r"'\\u\{[0-9a-fA-F]+\}'", text[i:i + 12]):
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:])
            out.append("' '")
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_use_tree(s):
    """'a::{b, c::d as e, f::*}' -> [['a','b'], ['a','c','d'], ['a','f','*']] (aliases dropped)."""
    s = re.sub(r"\s+", " ", s).strip()
    paths = []

    def parse(prefix, s, i):
        # parses one tree starting at s[i]; returns index after it
        seg = ""
        cur = list(prefix)
        while i < len(s):
            c = s[i]
            if s.startswith("::", i):
                if seg.strip():
                    cur.append(seg.strip())
                seg = ""
                i += 2
            elif c == "{":
                if seg.strip():
                    cur.append(seg.strip())
                    seg = ""
                i += 1
                while True:
                    while i < len(s) and s[i] in " ,":
                        i += 1
                    if i >= len(s) or s[i] == "}":
                        return i + 1
                    i = parse(cur, s, i)
            elif c in ",}":
                break
            else:
                seg += c
                i += 1
        seg = seg.strip()
        if seg:
            seg = seg.split(" as ")[0].strip()
            cur.append(seg)
        if cur and cur != list(prefix):
            paths.append(cur)
        elif seg == "" and cur == list(prefix) and prefix:
            pass
        return i

    parse([], s, 0)
    return paths


class Module:
    def __init__(self, path, file, parent):
        self.path = path  # tuple of segments from the crate root
        self.file = file
        self.parent = parent
        self.children = {}
        self.items = set()
        self.reexports = {}  # name -> absolute path (list)
        self.globs = []  # absolute module paths re-exported with *
        self.uses = []  # (absolute path list) imported / referenced


def file_module_path(src, file):
    rel = os.path.relpath(file, src)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib"):
        rel = rel[:-1]
    return tuple(rel)


def build(src):
    files = []
    for root, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                files.append(os.path.join(root, name))
    # the library only: main.rs and src/bin/ are binary crates with their own `crate`
    files = [f for f in files if os.path.relpath(f, src) != "main.rs"
             and not os.path.relpath(f, src).startswith("bin" + os.sep)
             and not os.path.relpath(f, src).startswith("cli" + os.sep)]
    modules = {}
    raw_uses = []  # (module, raw path list, is_pub_use)
    for f in sorted(files):
        mpath = file_module_path(src, f)
        code = strip_code(open(f, encoding="utf-8").read())
        top = Module(mpath, f, None)
        modules[mpath] = top
        # walk the code tracking inline `mod name {` blocks
        stack = [(top, -1)]  # (module, brace depth at which it closes)
        depth = 0
        i = 0
        token_re = re.compile(r"\bmod\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{|\{|\}|(\bpub(?:\s*\([^)]*\))?\s+)?\buse\s+([^;]*);")
        last = 0
        for m in token_re.finditer(code):
            segment = code[last:m.start()]
            cur = stack[-1][0]
            _collect(cur, segment, raw_uses)
            last = m.end()
            tok = m.group(0)
            if m.group(1):
                child = Module(cur.path + (m.group(1),), f, cur)
                cur.items.add(m.group(1))
                modules[child.path] = child
                depth += 1
                stack.append((child, depth))
            elif tok == "{":
                depth += 1
            elif tok == "}":
                if len(stack) > 1 and stack[-1][1] == depth:
                    stack.pop()
                depth -= 1
            else:
                is_pub = bool(m.group(2))
                for p in parse_use_tree(m.group(3)):
                    raw_uses.append((cur, p, is_pub))
        _collect(stack[-1][0], code[last:], raw_uses)
    for mpath, mod in modules.items():
        if mpath and mpath[:-1] in modules and mod.parent is None:
            mod.parent = modules[mpath[:-1]]
    # absolutise
    for mod, p, is_pub in raw_uses:
        ab = absolutise(mod, p, modules)
        if ab is None:
            continue
        if is_pub:
            if ab[-1] == "*":
                mod.globs.append(tuple(ab[:-1]))
            else:
                mod.reexports[ab[-1]] = ab
        mod.uses.append(ab)
    return modules


def _collect(mod, segment, raw_uses):
    for m in ITEM_RE.finditer(segment):
        mod.items.add(m.group(1) or m.group(2))
    for m in PATH_RE.finditer(segment):
        raw_uses.append((mod, m.group(1).split("::"), False))
    for m in BARE_RE.finditer(segment):
        p = m.group(1).split("::")
        if p[0] not in ("crate", "super", "self", "std", "core", "alloc"):
            raw_uses.append((mod, p, False))


def absolutise(mod, p, modules):
    if p[0] == "crate":
        return list(p[1:])
    if p[0] in ("self", "super"):
        base = list(mod.path)
        i = 0
        while i < len(p) and p[i] in ("self", "super"):
            if p[i] == "super":
                if not base:
                    return None
                base.pop()
            i += 1
        return base + list(p[i:])
    # a path relative to the current module: `use child::X` (2018 edition: child modules or crates)
    if tuple(mod.path) + (p[0],) in modules:
        return list(mod.path) + list(p)
    return None  # an external crate or std


def resolve(path, modules, seen=None):
    """The file that defines what `path` (absolute segments) names."""
    seen = seen or set()
    i = 0
    while i < len(path) and tuple(path[:i + 1]) in modules:
        i += 1
    mod = modules[tuple(path[:i])]
    rest = path[i:]
    if not rest or rest[0] == "*" or rest[0] in mod.items:
        return mod.file
    name = rest[0]
    key = (mod.path, name)
    if key in seen:
        return mod.file
    seen.add(key)
    if name in mod.reexports:
        return resolve(list(mod.reexports[name]) + rest[1:], modules, seen)
    for g in mod.globs:
        target = modules.get(g)
        if target and (name in target.items or name in target.reexports or target.globs):
            r = resolve(list(g) + rest, modules, seen)
            if r is not None and (name in target.items or name in target.reexports):
                return r
    return mod.file


def layer_of(src, file):
    rel = os.path.relpath(file, src)[:-3].split(os.sep)
    top = rel[0]
    if top == "lib":
        return ""
    return top


def self_test():
    """Plants trees in a temporary folder and checks the verdicts."""
    import subprocess
    import tempfile

    def verdict(files):
        with tempfile.TemporaryDirectory() as d:
            for rel, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
                open(os.path.join(d, rel), "w").write(text)
            r = subprocess.run([sys.executable, os.path.abspath(__file__), d], capture_output=True, text=True)
            return r.returncode, r.stdout + r.stderr

    base = {
        "lib.rs": "pub mod core;\npub mod util;\npub use crate::util::Top;\n",
        "core/mod.rs": "pub mod a;\npub mod b;\npub use a::A;\npub use b::*;\n",
        "core/a.rs": "use super::b::B;\npub struct A(B);\n",
        "core/b.rs": "/// doc with crate::util::Top in a comment\npub struct B;\nconst S: &str = \"crate::util::Top\";\n",
        "util/mod.rs": "use crate::core::{A, B};\npub struct Top(A, B);\n",
    }
    rc, out = verdict(base)
    assert rc == 0, "a clean tree must pass:\n" + out
    cycle = dict(base, **{"core/b.rs": "use super::a::A;\npub struct B;\nfn f(_: A) {}\n"})
    rc, out = verdict(cycle)
    assert rc == 1 and "import cycle of 2 files" in out, "a cycle a.rs <-> b.rs must fail:\n" + out
    parent = dict(base, **{"core/a.rs": "use super::B;\npub struct A(B);\n", "core/mod.rs": "pub mod a;\npub mod b;\npub use a::A;\npub struct B;\n"})
    rc, out = verdict(parent)
    assert rc == 1 and "import cycle" in out, "a child importing its parent's own item must fail:\n" + out
    bare = dict(base, **{"core/mod.rs": "pub mod a;\npub mod b;\npub use a::A;\npub use b::*;\npub struct C;\nfn f() { b::g(); }\n",
                         "core/b.rs": "pub struct B;\npub fn g() { let _ = super::C; }\n"})
    rc, out = verdict(bare)
    assert rc == 1 and "import cycle" in out, "a call through a child module's path must count:\n" + out
    up = dict(base, **{"core/b.rs": "pub struct B;\nfn f() { let _ = crate::util::Top; }\n"})
    rc, out = verdict(up)
    assert rc == 1 and "from the higher layer util" in out, "an upward import must fail:\n" + out
    print("layering self-test: ok (clean tree passes; cycle, parent import and upward import fail)")


def main():
    if "--self-test" in sys.argv:
        return self_test()
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    verbose = "-v" in sys.argv
    src = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    src = os.path.normpath(src)
    modules = build(src)
    graph = {}
    for mod in modules.values():
        for p in mod.uses:
            target = resolve(p, modules)
            if target and target != mod.file:
                graph.setdefault(mod.file, set()).add(target)
    files = sorted({m.file for m in modules.values()})
    rel = lambda f: os.path.relpath(f, src)
    if verbose:
        for f in files:
            print(f"{rel(f)} -> {', '.join(sorted(rel(t) for t in graph.get(f, ())))}")

    errors = []
    # 1. cycles (Tarjan's strongly connected components)
    index, low, on, stack, sccs = {}, {}, set(), [], []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(comp)

    sys.setrecursionlimit(10000)
    for f in files:
        if f not in index:
            strong(f)
    for comp in sccs:
        members = set(comp)
        edges = sorted(f"{rel(a)} -> {rel(b)}" for a in comp for b in graph.get(a, ()) if b in members)
        errors.append(f"import cycle of {len(comp)} files: " + "; ".join(edges))
    # 2. layer order
    rank = {name: i for i, name in enumerate(LAYERS)}
    for f in files:
        lf = layer_of(src, f)
        if lf not in rank:
            errors.append(f"{rel(f)}: folder or file '{lf}' is not a layer (add it to LAYERS in {sys.argv[0]})")
            continue
        for t in sorted(graph.get(f, ())):
            lt = layer_of(src, t)
            if lt in rank and rank[lt] > rank[lf]:
                errors.append(f"{rel(f)} (layer {lf}) imports {rel(t)} from the higher layer {lt}")
    n_edges = sum(len(v) for v in graph.values())
    if errors:
        for e in errors:
            print("layering: " + e, file=sys.stderr)
        print(f"layering: FAILED ({len(errors)} problems; {len(files)} files, {n_edges} imports)", file=sys.stderr)
        sys.exit(1)
    print(f"layering: ok ({len(files)} files, {n_edges} file-level imports, no cycle, every import points down)")


if __name__ == "__main__":
    main()
