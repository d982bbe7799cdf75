"""Benchmark: 8 MB adversarial messages vs an 8 MB ordinary one, same reader, same run.

    python benchmarks/bench_robustness.py [--size 8000000] [--repeat 3]

Each message of the robustness corpus (tests/hostile.py: boundary floods, near-miss floods,
unclosed and deep nesting, prefix boundaries, giant and folded headers, one-line bodies,
mixed encodings, a BOM) is written to a file and read as the collectors read a message file
(``file_reader``: in memory up to 8 MiB, streamed above). Printed per shape: median time,
its ratio to the ordinary message (target <= 5x), peak Python memory (tracemalloc) and its
ratio to the message size (target < 2x + a constant), and the outcome (parts described or
the budget's reason). For reference, the stdlib ``email`` parser (compat32) on the same file.
Issue 14's figure for the old reader: 466 KB of the flood took 17.5 s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import tracemalloc
from email import policy
from email.parser import BytesParser
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from hostile import GENERATORS, ordinary  # noqa: E402

from mailstudy.collect.formats.base import file_reader  # noqa: E402
from mailstudy.collect.mime import MessageOverBudget  # noqa: E402


def timed(path: Path, repeat: int) -> tuple[float, str]:
    runs, outcome = [], ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        try:
            parsed = file_reader(path)()
            outcome = f"{len(parsed.outline.parts)} parts"
            if "too_many_parts" in parsed.outline.defects:
                outcome += " (cut: too_many_parts)"
        except MessageOverBudget as exc:
            outcome = f"skipped: over_budget_{exc.reason}"
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), outcome


def peak_memory(path: Path) -> int:
    tracemalloc.start()
    try:
        try:
            file_reader(path)()
        except MessageOverBudget:
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def stdlib_time(path: Path) -> float:
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        BytesParser(policy=policy.compat32).parse(f)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=8_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=REPO / "bench-out" / "robustness")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    shapes = {"ordinary": ordinary, **GENERATORS}
    paths = {}
    for name, gen in shapes.items():
        paths[name] = args.out / f"{name}.eml"
        paths[name].write_bytes(gen(args.size, random.Random(14)))
    base_t, base_out = timed(paths["ordinary"], args.repeat)
    print(f"{'shape':22} {'MB':>5} {'time s':>8} {'x ordinary':>10} {'peak MB':>8} "
          f"{'peak/size':>9} {'stdlib s':>8}  outcome")
    worst_t = worst_m = 0.0
    for name, path in paths.items():
        size = path.stat().st_size
        t, outcome = (base_t, base_out) if name == "ordinary" else timed(path, args.repeat)
        peak = peak_memory(path)
        std = stdlib_time(path)
        ratio, mratio = t / base_t, peak / size
        if name != "ordinary":
            worst_t, worst_m = max(worst_t, ratio), max(worst_m, mratio)
        print(f"{name:22} {size / 1e6:5.1f} {t:8.3f} {ratio:9.2f}x {peak / 1e6:8.1f} "
              f"{mratio:8.2f}x {std:8.2f}  {outcome}")
    print(f"worst time ratio: {worst_t:.2f}x (target <= 5x); worst peak memory / size: "
          f"{worst_m:.2f}x (target < 2x + a constant)")


if __name__ == "__main__":
    main()
