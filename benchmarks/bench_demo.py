"""Time ``mailstudy demo`` at its default size (target: under 120 s on 2 cores).

Prints the wall time of each phase (council generation, each pipeline stage, reveal), then
the time of a second ``mailstudy run`` with nothing changed (the no-work baseline: fingerprints
only), and the ratio of the demo to its two-minute budget.

    python benchmarks/bench_demo.py [--agents 120 --weeks 6 --seed 7] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

BUDGET_S = 120.0


def main() -> None:
    from mailstudy.demo import run as demo_mod
    from mailstudy.pipeline import run_pipeline

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=demo_mod.DEFAULT_AGENTS)
    ap.add_argument("--weeks", type=int, default=demo_mod.DEFAULT_WEEKS)
    ap.add_argument("--seed", type=int, default=demo_mod.DEFAULT_SEED)
    ap.add_argument("--keep", type=Path, help="Write the demo here and keep it.")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-demo-"))
    target = base / "demo" if args.keep is None else base
    marks: list[tuple[str, float]] = []
    t_start = time.perf_counter()

    def say(msg: str) -> None:
        if msg.startswith("key holder identity"):
            marks.append(("generate council", time.perf_counter() - t_start))

    try:
        t0 = time.perf_counter()
        res = demo_mod.run_demo(target, agents=args.agents, weeks=args.weeks, seed=args.seed,
                                say=say)
        total = time.perf_counter() - t0
        t1 = time.perf_counter()
        again = run_pipeline(res.study)
        noop = time.perf_counter() - t1
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    print(f"cores: {os.cpu_count()}; council: {args.agents} agents, {args.weeks} weeks, "
          f"{res.council.n_messages} message files")
    for name, t in marks:
        print(f"  {name:<18} {t:7.1f} s")
    for r in res.run.stages:
        print(f"  {r.name:<18} {r.seconds:7.1f} s  {r.status}")
    print(f"demo total:          {total:7.1f} s  (ok={res.run.ok})")
    print(f"re-run, no change:   {noop:7.2f} s  (stages that ran: {again.ran or 'none'})")
    print(f"ratio demo / budget ({BUDGET_S:.0f} s): {total / BUDGET_S:.2f}; "
          f"demo / no-op re-run: {total / max(noop, 1e-9):.0f}x")


if __name__ == "__main__":
    main()
