#!/usr/bin/env python3
"""Q4_0 quantization of 64 MiB of float32 from Python: quantize.gguf.quantize (libquantize) on
one thread and on every core, against gguf.quants.quantize (the PyPI gguf package's numpy
code), in one run. Prints the times, the throughputs and the ratios; checks that all three give
the same bytes.

Usage: python scripts/bench_python.py [--mib 64] [--repeat 5]
Needs the quantize package (pip install ./python) and gguf (pip install gguf).
"""

import argparse
import os
import platform
import time

import numpy as np


def best(fn, repeat):
    """The fastest of ``repeat`` runs (seconds) and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=64, help="float32 input size (default 64)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of libquantize (best kept)")
    parser.add_argument("--gguf-repeat", type=int, default=2, help="runs of gguf (best kept)")
    args = parser.parse_args()

    import quantize
    import quantize.gguf as qg
    from quantize import _parallel
    from gguf import GGMLQuantizationType, quants

    cores = _parallel.default_threads()
    n = args.mib * (1 << 20) // 4
    x = np.random.default_rng(0).standard_normal((n // 4096, 4096)).astype(np.float32)
    qtype = GGMLQuantizationType.Q4_0
    print("CPU: %s, %d cores usable; libquantize %s, kernel %s; numpy %s"
          % (cpu_name(), cores, quantize.version(), quantize.kernel_name(), np.__version__))
    print("input: %d MiB of float32 (%d x %d), Q4_0" % (args.mib, x.shape[0], x.shape[1]))

    t_gguf, ref = best(lambda: quants.quantize(x, qtype), args.gguf_repeat)
    t_one, one = best(lambda: qg.quantize(x, qtype, threads=1), args.repeat)
    t_all, many = best(lambda: qg.quantize(x, qtype, threads=cores), args.repeat)
    assert np.array_equal(one, ref) and np.array_equal(many, ref), "results differ"

    mib = x.nbytes / (1 << 20)
    rows = [
        ("gguf.quants.quantize (numpy)", t_gguf),
        ("quantize.gguf.quantize, threads=1", t_one),
        ("quantize.gguf.quantize, threads=%d" % cores, t_all),
    ]
    for name, t in rows:
        print("%-40s %9.1f ms  %8.1f MiB/s" % (name, t * 1e3, mib / t))
    print("libquantize 1 thread vs gguf:   %6.1fx" % (t_gguf / t_one))
    print("libquantize %d threads vs gguf: %6.1fx" % (cores, t_gguf / t_all))
    print("%d threads vs 1 thread:          %6.2fx" % (cores, t_one / t_all))


if __name__ == "__main__":
    main()
