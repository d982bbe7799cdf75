"""Benchmark: our maximin lottery vs sortition-algorithms' maximin, same pool, same quotas.

    python benchmarks/bench_invite.py [--sizes 500 4000] [--panel 20] [--cap 600]

Pools are synthetic (persona 5 values, level 4, direction 8, skewed shares); quotas are the
population shares with no margin (floor..ceil of share x panel); with --floor F, shares with a
margin of 1 and at least F seats for every value, which over-represents small groups so the
maximin falls below size/pool. The library runs in a child process with a time cap (--cap
seconds): at 1,000 people it already needs about 100 s, so at 4,000 it may not finish.
Target: our minimum probability >= the library's - 1e-3, in at most a tenth of its time.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailstudy import invite as I  # noqa: E402

FEATURES = ("persona", "level", "direction")


def synthetic_pool(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    people = pd.DataFrame({
        "person": [f"p{i:016x}" for i in range(n)],
        "level": rng.choice(["DGS/DGA", "directeur", "chef de service", "agent"], n,
                            p=[0.03, 0.07, 0.2, 0.7]),
        "direction": rng.choice([f"D{i}" for i in range(8)], n,
                                p=[0.25, 0.2, 0.15, 0.1, 0.1, 0.08, 0.07, 0.05]),
        "service": [f"s{i}" for i in rng.integers(0, max(8, n // 15), n)],
        "roles": [[] for _ in range(n)],
    })
    personas = pd.DataFrame({"person": people["person"], "persona_name": rng.choice(
        ["Vigie", "Archiviste", "Nomade", "Pompier", "Discret"], n,
        p=[0.35, 0.25, 0.2, 0.12, 0.08])})
    return I.build_pool(people, personas)


def _library(pool: pd.DataFrame, quotas: list[I.Quota], k: int, q: mp.Queue) -> None:
    from sortition_algorithms.committee_generation import find_distribution_maximin
    from sortition_algorithms.features import FeatureValueMinMax
    from sortition_algorithms.people import People
    from sortition_algorithms.utils import set_random_provider

    set_random_provider(1)  # seeded, for a reproducible benchmark
    feats: dict = {}
    for x in quotas:
        feats.setdefault(x.feature, {})[x.value] = FeatureValueMinMax(min=x.min, max=x.max)
    people = People([])
    for i, r in enumerate(pool.itertuples()):
        people.add(r.person, {f: str(getattr(r, f)) for f in feats}, feats, i)
    t = time.perf_counter()
    committees, probs, _ = find_distribution_maximin(feats, people, k, [])
    dt = time.perf_counter() - t
    pp = pd.Series(0.0, index=pool["person"])
    for c, p in zip(committees, probs, strict=True):
        pp[list(c)] += p
    q.put((dt, float(pp.min()), len(committees)))


def run(n: int, k: int, cap: float, floor: int = 0) -> None:
    pool = synthetic_pool(n)
    quotas = I.derive_quotas(pool, k, FEATURES, margin=1 if floor else 0)
    if floor:  # at least `floor` seats per value: small groups over-represented, so binding
        quotas = [I.Quota(q.feature, q.value, max(q.min, floor), max(q.max, floor))
                  for q in quotas]
    plan = I.Plan(k, quotas, seats={}, one_per_service=False)
    t = time.perf_counter()
    lot = I.find_distribution(pool, plan, algorithm="maximin")
    ours_t = time.perf_counter() - t
    ours_min = lot.min_probability
    print(f"pool {n}, panel {k}, floor {floor}: {len(quotas)} quotas, {lot.stats['types']} types; "
          f"equal share {k / n:.5f}")
    print(f"  ours   : {ours_t:8.2f} s  min probability {ours_min:.6f}  "
          f"(optimal proven: {lot.stats['optimal']}, {lot.stats['columns']} panels generated, "
          f"{lot.stats['pricing_mips']} pricing MIPs)")
    ctx = mp.get_context("fork")
    q: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_library, args=(pool, quotas, k, q))
    t = time.perf_counter()
    proc.start()
    proc.join(cap)
    wall = time.perf_counter() - t
    if proc.is_alive():
        proc.terminate()
        proc.join()
        print(f"  library: stopped at the {cap:.0f} s cap without a result (wall {wall:.0f} s)")
        print(f"  ratio  : ours is > {cap / ours_t:.0f}x faster (library capped)")
        return
    if q.empty():
        print(f"  library: failed (exit code {proc.exitcode})")
        return
    lib_t, lib_min, ncom = q.get()
    print(f"  library: {lib_t:8.2f} s  min probability {lib_min:.6f}  ({ncom} committees; "
          f"wall with setup {wall:.1f} s)")
    print(f"  ratio  : time ours/library {ours_t / lib_t:.3f} (target <= 0.1); "
          f"min probability ours - library {ours_min - lib_min:+.6f} (target >= -0.001)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 4000])
    ap.add_argument("--panel", type=int, default=20)
    ap.add_argument("--cap", type=float, default=600.0, help="library time cap, seconds")
    ap.add_argument("--floor", type=int, default=0,
                    help="minimum seats for every value of every feature (0: shares only)")
    a = ap.parse_args()
    for n in a.sizes:
        run(n, a.panel, a.cap, a.floor)


if __name__ == "__main__":
    main()
