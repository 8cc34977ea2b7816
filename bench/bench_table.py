#!/usr/bin/env python3
"""Markdown tables for bench/README.md from Google Benchmark JSON files.

    bench_table.py conv A.json B.json ONE_THREAD.json   # conv2d tables (runs A and B, 1 thread)
    bench_table.py matmul A.json B.json ONE_THREAD.json

Rates are GFLOP/s (2 x multiply-adds per wall second, all threads). "% peak" divides by the
large Eigen GEMM of the same run (peak/eigen_gemm, or eigen_gemm/2048 for matmul). The
one-thread column is GFLOP per CPU-second of a single-thread run, against its own peak.
"""
import json
import sys


def load(path):
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    return {r["name"].replace("/real_time", ""): r for r in runs if r.get("run_type") != "aggregate"}


def rate(run, key="GFLOPS"):
    return run.get(key, float("nan"))


def conv_tables(a, b, one):
    peak_name = "peak/eigen_gemm/2048"
    peaks = [rate(r[peak_name]) for r in (a, b)]
    peak_one = rate(one[peak_name], "GFLOPS_per_cpu")
    print(f"Practical peak in these runs (Eigen 2048^3 GEMM): run A {peaks[0]:.1f}, "
          f"run B {peaks[1]:.1f} GFLOP/s on 2 threads;\n{peak_one:.1f} GFLOP per CPU-second "
          f"on 1 thread.\n")
    layers = [(1, 6, 150), (6, 6, 150), (6, 16, 75), (16, 16, 75), (16, 32, 37), (32, 32, 37),
              (32, 64, 18), (64, 64, 18)]
    for kernel in (3, 1):
        for batch in (1, 16):
            print(f"#### {kernel}x{kernel} kernel{', pad 1' if kernel == 3 else ''}, "
                  f"batch {batch}\n")
            print("| layer | direction | ms (A) | GFLOP/s A / B | % peak A / B | "
                  "1 thread GFLOP/cpu-s | 1 thread % peak |")
            print("|---|---|---:|---:|---:|---:|---:|")
            for ci, co, size in layers:
                for direction in ("forward", "backward_input", "backward_weight"):
                    name = f"conv2d_{direction}/k{kernel}/n{batch}/{ci}->{co}@{size}"
                    ra, rb, r1 = a[name], b[name], one[name]
                    ga, gb = rate(ra), rate(rb)
                    g1 = rate(r1, "GFLOPS_per_cpu")
                    print(f"| {ci}->{co} @ {size} | {direction} | {ra['real_time']:.2f} | "
                          f"{ga:.1f} / {gb:.1f} | {100 * ga / peaks[0]:.0f} / "
                          f"{100 * gb / peaks[1]:.0f} | {g1:.1f} | {100 * g1 / peak_one:.0f} |")
            print()
    print("#### Algorithms side by side (3x3 pad 1, batch 16; same run)\n")
    print("| layer | direction | im2col GFLOP/s A / B | direct GFLOP/s A / B | "
          "direct / im2col A / B | 1 thread direct / im2col |")
    print("|---|---|---:|---:|---:|---:|")
    for ci, co, size in layers:
        for direction in ("forward", "backward_weight"):
            base = f"algorithm/{direction}/{{}}/k3/n16/{ci}->{co}@{size}"
            i = [rate(r[base.format("im2col")]) for r in (a, b)]
            d = [rate(r[base.format("direct")]) for r in (a, b)]
            i1 = rate(one[base.format("im2col")], "GFLOPS_per_cpu")
            d1 = rate(one[base.format("direct")], "GFLOPS_per_cpu")
            print(f"| {ci}->{co} @ {size} | {direction} | {i[0]:.1f} / {i[1]:.1f} | "
                  f"{d[0]:.1f} / {d[1]:.1f} | {d[0] / i[0]:.2f} / {d[1] / i[1]:.2f} | "
                  f"{d1 / i1:.2f} |")
    print()


def matmul_table(a, b, one):
    peaks = [rate(r["eigen_gemm/2048"]) for r in (a, b)]
    print("| benchmark | ms (A) | GFLOP/s A / B | % peak A / B | 1 thread GFLOP/cpu-s |")
    print("|---|---:|---:|---:|---:|")
    for name in a:
        ra, rb, r1 = a[name], b[name], one.get(name)
        g1 = rate(r1, "GFLOPS_per_cpu") if r1 else float("nan")
        print(f"| {name} | {ra['real_time']:.2f} | {rate(ra):.1f} / {rate(rb):.1f} | "
              f"{100 * rate(ra) / peaks[0]:.0f} / {100 * rate(rb) / peaks[1]:.0f} | {g1:.1f} |")
    print()


if __name__ == "__main__":
    kind, paths = sys.argv[1], sys.argv[2:]
    runs = [load(p) for p in paths]
    (conv_tables if kind == "conv" else matmul_table)(*runs)
