#!/usr/bin/env python3
"""Picks a small seed corpus: a few inputs that together keep all the coverage edges found.

libFuzzer's -merge keeps one input per *feature* (edge hit counts too): hundreds of files per
target. For the committed seeds we want a few dozen, so this
  1. merges the candidate directories into a temporary one (libFuzzer -merge=1);
  2. notes the edge coverage of that set ("cov:" of libFuzzer's INITED line with -runs=0);
  3. tries to drop each input, smallest first, keeping the drop when the coverage of the rest
     stays the same;
  4. writes what is left to the output directory, each input under its SHA-1.

Usage (from fuzz/, after `cargo +nightly fuzz build`; no Python packages needed):
  python3 select_seeds.py target/x86_64-unknown-linux-gnu/release/T corpus/T corpus-run/T ... \\
      --out corpus/T
"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile


def coverage(binary, d):
    r = subprocess.run([binary, "-runs=0", d], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, check=True)
    m = re.search(r"INITED cov: (\d+)", r.stderr)
    return int(m.group(1))


def main():
    args = sys.argv[1:]
    out = args[args.index("--out") + 1]
    args = args[:args.index("--out")]
    binary, dirs = args[0], [d for d in args[1:] if os.path.isdir(d)]
    with tempfile.TemporaryDirectory() as tmp:
        merged, aside = os.path.join(tmp, "merged"), os.path.join(tmp, "aside")
        os.makedirs(merged)
        os.makedirs(aside)
        subprocess.run([binary, "-merge=1", merged, *dirs],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        full = coverage(binary, merged)
        names = sorted(os.listdir(merged), key=lambda n: (os.path.getsize(os.path.join(merged, n)), n))
        for name in names:
            os.rename(os.path.join(merged, name), os.path.join(aside, name))
            if coverage(binary, merged) < full:
                os.rename(os.path.join(aside, name), os.path.join(merged, name))
        left = coverage(binary, merged)
        os.makedirs(out, exist_ok=True)
        for name in os.listdir(out):
            os.remove(os.path.join(out, name))
        total = 0
        for name in os.listdir(merged):
            with open(os.path.join(merged, name), "rb") as f:
                b = f.read()
            with open(os.path.join(out, hashlib.sha1(b).hexdigest()), "wb") as f:
                f.write(b)
            total += len(b)
        print(f"{out}: {len(os.listdir(merged))} of {len(names)} merged inputs, {total} bytes, "
              f"cov {left} (all merged: {full})")


if __name__ == "__main__":
    main()
