"""Benchmark: our leximin and maximin against sortition-algorithms' maximin, same run.

    python benchmarks/bench_panel.py [--fixtures DIR] [--cap 600] [--repeats 1] [--only NAME]

Instances: the Sortition Foundation library's test fixture when ``--fixtures`` points at a
folder holding its ``features.csv`` and ``candidates.csv`` (tests/fixtures of
github.com/sortitionfoundation/sortition-algorithms, GPL-3: read from where it is, never copied
here), and generated pools: exact quotas (min = max) on 7 features, wide quotas, and a pool of
4,000 with 20 seats. Each repeat runs ours and the library alternately (ours first, then the
library in a child process with a time cap). Targets: our leximin faster than the library's
maximin on every instance, our maximin in at most 1/5 of its time, 4,000 / 20 in under a minute.
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
from mailstudy.pipeline.panel import plan_from_tables  # noqa: E402


def generated(n: int, n_features: int, k: int, margin: int, seed: int, floor: int = 0
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A pool with skewed shares; quotas are the shares (exact when ``margin`` is 0), with at
    least ``floor`` seats per value, which over-represents small groups so that the fair
    lottery cannot give everyone size/pool."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"person": [f"p{i:05d}" for i in range(n)]})
    for f in range(n_features):
        vals = [f"v{j}" for j in range(int(rng.integers(2, 5)))]
        df[f"f{f}"] = rng.choice(vals, n, p=rng.dirichlet(np.ones(len(vals)) * 3))
    qs = I.derive_quotas(df, k, [c for c in df.columns if c != "person"], margin)
    if margin == 0:  # exact: round shares to integers summing to k per feature
        qs = _exact(df, k)
    cats = pd.DataFrame([(q.feature, q.value, q.min, q.max) for q in qs],
                        columns=["feature", "value", "min", "max"])
    cats[["min", "max"]] = cats[["min", "max"]].clip(lower=floor)
    return df, cats


def _exact(df: pd.DataFrame, k: int) -> list[I.Quota]:
    out = []
    for f in (c for c in df.columns if c != "person"):
        share = df[f].value_counts(normalize=True).sort_index() * k
        base = np.floor(share).astype(int)
        rest = k - int(base.sum())
        base[(share - base).sort_values(ascending=False).index[:rest]] += 1
        out += [I.Quota(f, str(v), int(b), int(b)) for v, b in base.items()]
    return out


def fixture(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    f = pd.read_csv(folder / "features.csv")
    c = pd.read_csv(folder / "candidates.csv", dtype=str)
    feats = list(dict.fromkeys(f["feature"]))
    people = c.rename(columns={"nationbuilder_id": "person"})[["person", *feats]]
    return people, f[["feature", "value", "min", "max"]].astype({"value": str}), 22


def _library(people: pd.DataFrame, cats: pd.DataFrame, k: int, q: mp.Queue) -> None:
    from sortition_algorithms.committee_generation import find_distribution_maximin
    from sortition_algorithms.features import FeatureValueMinMax
    from sortition_algorithms.people import People
    from sortition_algorithms.utils import set_random_provider

    set_random_provider(1)
    feats: dict = {}
    for r in cats.itertuples():
        feats.setdefault(r.feature, {})[str(r.value)] = FeatureValueMinMax(min=int(r.min),
                                                                            max=int(r.max))
    pp = People([])
    for i, r in enumerate(people.to_dict("records")):
        pp.add(r["person"], {f: str(r[f]) for f in feats}, feats, i)
    t = time.perf_counter()
    committees, probs, _ = find_distribution_maximin(feats, pp, k, [])
    dt = time.perf_counter() - t
    prob = pd.Series(0.0, index=people["person"])
    for c, p in zip(committees, probs, strict=True):
        prob[list(c)] += p
    q.put((dt, float(prob.min())))


def library(people: pd.DataFrame, cats: pd.DataFrame, k: int, cap: float
            ) -> tuple[float, float] | None:
    ctx = mp.get_context("fork")
    q: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_library, args=(people, cats, k, q))
    proc.start()
    proc.join(cap)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        return None
    return q.get() if not q.empty() else None


def ours(people: pd.DataFrame, cats: pd.DataFrame, k: int, alg: str) -> tuple[float, I.Lottery]:
    t = time.perf_counter()
    lot = I.find_distribution(people, plan_from_tables(cats, k), algorithm=alg)
    return time.perf_counter() - t, lot


def run(name: str, people: pd.DataFrame, cats: pd.DataFrame, k: int, cap: float,
        repeats: int, with_library: bool = True) -> None:
    exact = bool((cats["min"] == cats["max"]).all())
    print(f"{name}: pool {len(people)}, {k} seats, {len(cats)} quotas"
          f"{' (exact)' if exact else ''}", flush=True)
    for rep in range(repeats):
        t_lex, lex = ours(people, cats, k, "leximin")
        t_max, mm = ours(people, cats, k, "maximin")
        p = lex.person_probability
        print(f"  [{rep}] leximin {t_lex:7.2f} s  min {p.min():.5f}  at min "
              f"{int((p <= p.min() + 1e-6).sum())}  Gini {I.gini(p):.3f}  levels "
              f"{lex.stats['levels']}  proven {lex.stats['optimal']}  MIPs "
              f"{lex.stats['pricing_mips']}", flush=True)
        q = mm.person_probability
        print(f"  [{rep}] maximin {t_max:7.2f} s  min {q.min():.5f}  at min "
              f"{int((q <= q.min() + 1e-6).sum())}  Gini {I.gini(q):.3f}  proven "
              f"{mm.stats['optimal']}", flush=True)
        if not with_library:
            continue
        lib = library(people, cats, k, cap)
        if lib is None:
            print(f"  [{rep}] library maximin: no result within the {cap:.0f} s cap; ratios "
                  f"leximin < {t_lex / cap:.3f}, maximin < {t_max / cap:.3f}", flush=True)
            continue
        t_lib, m_lib = lib
        print(f"  [{rep}] library maximin {t_lib:7.2f} s  min {m_lib:.5f}", flush=True)
        print(f"  [{rep}] ratio leximin/library-maximin {t_lex / t_lib:.3f} (target < 1); "
              f"maximin/library-maximin {t_max / t_lib:.3f} (target <= 0.2); min ours - "
              f"library {q.min() - m_lib:+.6f}", flush=True)


def instances(fixtures: Path | None) -> list[tuple[str, pd.DataFrame, pd.DataFrame, int]]:
    out = []
    if fixtures is not None:
        out.append(("sortition-algorithms fixture", *fixture(fixtures)))
    out.append(("generated exact 360/7 features", *generated(360, 7, 20, 0, 1), 20))
    out.append(("generated wide 500/5 features", *generated(500, 5, 20, 2, 2, floor=3), 20))
    out.append(("generated exact 1000/4 features", *generated(1000, 4, 25, 0, 3), 25))
    out.append(("generated exact 4000/20", *generated(4000, 5, 20, 0, 4), 20))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", type=Path, default=None,
                    help="folder with the library's features.csv and candidates.csv")
    ap.add_argument("--cap", type=float, default=600.0, help="library time cap, seconds")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--only", default=None, help="run instances whose name contains this")
    ap.add_argument("--no-library", action="store_true")
    a = ap.parse_args()
    for name, people, cats, k in instances(a.fixtures):
        if a.only and a.only not in name:
            continue
        run(name, people, cats, k, a.cap, a.repeats, not a.no_library)


if __name__ == "__main__":
    main()
