#!/usr/bin/env python3
"""Checks the shape of the crate that review alone would let drift (README, Development):

1. No import circle between the crate's modules: every `crate::...` and `super::...` path in the
   non-test code of src/ is an edge from its file's module to the module it names, at the
   granularity of the top-level modules and of the children of `kernels`, `reference` and `ffi`
   (a module using its own parent or child is not an edge). Any cycle fails.
2. Each format's name (any case) appears in at most 6 files under src/ outside test code, so a
   format lives in its own files plus the places that list every format.
3. Prints the SIMD code size: non-blank, non-comment lines outside test modules in
   src/kernels/{lanes,simd,x86_64,aarch64}.

Test code is a file named tests*.rs, the test-only reference renderings (plain.rs), and a
`#[cfg(test)]` module written inline (from its attribute to the end of the file, where this
crate keeps them). Usage: python3 scripts/check_layout.py (exit status 1 on a failed check).
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
MAX_FILES = 6
FORMATS = {
    "Q4_0": r"q4_0",
    "Q4_1": r"q4_1",
    "IQ4_NL": r"iq4_?nl",
    "MXFP4": r"mxfp4",
    "Q4_K": r"q4_k",
    "IQ4_XS": r"iq4_xs",
    "NVFP4": r"nvfp4",
    "NF4": r"nf4",
    "FP4": r"(?<![a-z])fp4",
}
TEST_MODULE = re.compile(r"\n[ \t]*#\[cfg\((?:all\()?test[^\]]*\]\s*\n[ \t]*(?:pub(?:\([a-z]+\))? )?mod \w+ \{")


def sources():
    for d, _, files in os.walk(ROOT):
        for f in sorted(files):
            path = os.path.join(d, f)
            if f.endswith(".rs") and not re.match(r"tests\w*\.rs$|plain\.rs$", f):
                yield path


def code_of(path):
    text = open(path, encoding="utf-8").read()
    m = TEST_MODULE.search(text)
    return text[: m.start()] if m else text


def module_of(path):
    parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return parts


def group(parts):
    return "::".join(parts[:2] if parts and parts[0] in ("kernels", "reference", "ffi") else parts[:1])


def cycles(edges):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
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
                found.append(sorted(comp))

    for v in list(edges):
        if v not in index:
            visit(v)
    return found


def main():
    files = {p: code_of(p) for p in sources()}
    modules = {"::".join(module_of(p)) for p in files}
    edges = {}
    for path, code in files.items():
        me = module_of(path)
        code = re.sub(r"//[^\n]*", "", code)
        paths = [p.split("::") for p in re.findall(r"crate::(\w+(?:::\w+)*)", code)]
        for ups, rest in re.findall(r"\b((?:super::)+)(\w+(?:::\w+)*)", code):
            base = me[: len(me) - ups.count("super::")]
            paths.append(base + rest.split("::"))
        for p in paths:
            target = next(("::".join(p[:k]) for k in range(len(p), 0, -1) if "::".join(p[:k]) in modules), None)
            if target is None:
                continue
            a, b = group(me), group(target.split("::"))
            if a != b and not a.startswith(b + "::") and not b.startswith(a + "::"):
                edges.setdefault(a, set()).add(b)
    ok = True
    for comp in cycles(edges):
        ok = False
        print("import circle: " + " <-> ".join(comp))
    for name, pattern in FORMATS.items():
        hits = sorted(os.path.relpath(p, ROOT) for p, c in files.items() if re.search(pattern, c, re.I))
        flag = "" if len(hits) <= MAX_FILES else "  (more than %d)" % MAX_FILES
        ok &= len(hits) <= MAX_FILES
        print("%-7s %d files: %s%s" % (name, len(hits), " ".join(hits), flag))
    simd = 0
    for p, c in files.items():
        if re.search(r"kernels/(lanes|simd|x86_64|aarch64)/", p.replace(os.sep, "/")):
            simd += sum(1 for l in c.splitlines() if l.strip() and not l.strip().startswith("//"))
    print("SIMD code: %d lines (non-blank, non-comment, outside tests)" % simd)
    print("layout: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
