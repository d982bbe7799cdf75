"""Benchmark of ``mailstudy compare``: two campaigns of 5,000 people, 1,000 bootstrap resamples,
every grouping (organisation, level, direction, habit, persona) x 19 features, paired.

Compares, in the same run and on the same data:
* ours: :func:`mailstudy.compare.compare_tables` (counts matrices, one sort per feature, a
  band of cumulative sums: see ``mailstudy/compare/bootstrap.py``), then the files written
  through the release gate of a real study;
* baseline: a naive pandas loop: for each resample, each group is resampled with
  ``DataFrame.sample(replace=True)`` and its medians taken with ``DataFrame.median()``. It
  runs ``--baseline-boot`` resamples (default 50) and is extrapolated linearly to
  ``--boot`` (its cost is linear in the resamples); both give the same point estimates
  (checked). Target: ours under 60 s on 2 cores.

    python benchmarks/bench_compare.py [--people 5000] [--boot 1000] [--baseline-boot 50]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # peoplekit, comparekit: the tests' generated people

from comparekit import follow_up  # noqa: E402
from peoplekit import synthetic_people  # noqa: E402

from mailstudy.compare import Settings, compare_tables, write_comparison  # noqa: E402
from mailstudy.compare.differences import memberships  # noqa: E402
from mailstudy.schema import FEATURE_NAMES  # noqa: E402

GROUPINGS = ("organisation", "level", "direction", "habit", "persona")


def campaigns(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    before, truth = synthetic_people(n, groups=4, seed=7)
    before["persona"] = truth.astype(int)
    after = follow_up(before, seed=8)
    rng = np.random.default_rng(9)
    new = after["persona"].isna()
    after.loc[new, "persona"] = rng.integers(0, 4, int(new.sum()))
    after["persona"] = after["persona"].astype(int)
    return before, after


def naive_pandas(before: pd.DataFrame, after: pd.DataFrame, n_boot: int) -> pd.DataFrame:
    """The obvious loop: resample each group's people, take medians, n_boot times."""
    rng = np.random.default_rng(0)
    tb, ta = before.set_index("person")[FEATURE_NAMES], after.set_index("person")[FEATURE_NAMES]
    rows = []
    for g in GROUPINGS:
        mb, ma = memberships(before, g), memberships(after, g)
        for group in sorted(set(mb["group"]) | set(ma["group"])):
            pb = mb.loc[mb["group"] == group, "person"]
            pa = ma.loc[ma["group"] == group, "person"]
            union = pd.Index(pb).union(pd.Index(pa))
            vb = tb.reindex(union).where(pd.Series(union.isin(pb), index=union), axis=0)
            va = ta.reindex(union).where(pd.Series(union.isin(pa), index=union), axis=0)
            diffs = []
            for _ in range(n_boot):
                pick = union[rng.integers(0, len(union), len(union))]
                diffs.append(va.loc[pick].median() - vb.loc[pick].median())
            d = pd.DataFrame(diffs)
            point = va.median() - vb.median()
            for f in FEATURE_NAMES:
                rows.append({"group_by": g, "group": group, "feature": f,
                             "difference": point[f], "ci_low": d[f].quantile(0.025),
                             "ci_high": d[f].quantile(0.975)})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=5000)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--baseline-boot", type=int, default=50)
    args = ap.parse_args()
    before, after = campaigns(args.people)
    print(f"{len(before)} and {len(after)} people, {len(FEATURE_NAMES)} features, "
          f"{args.boot} resamples; cpus={os.cpu_count()}, load={os.getloadavg()[0]:.1f}")
    names = {i: f"persona {i}" for i in range(4)}

    t0, c0 = time.perf_counter(), time.process_time()
    result = compare_tables(before, after, Settings(linked=True, n_boot=args.boot), 10,
                            persona_names=names, months=6.0)
    t_ours, c_ours = time.perf_counter() - t0, time.process_time() - c0
    with tempfile.TemporaryDirectory() as tmp:
        from studykit import make_study

        study, _ = make_study(Path(tmp))
        t1 = time.perf_counter()
        write_comparison(study, result, "fr")
        t_write = time.perf_counter() - t1
    d = result.differences
    print(f"ours: {t_ours:.1f} s wall ({c_ours:.1f} s CPU) for {len(d)} rows "
          f"({int(d['significant'].sum())} significant), "
          f"+ {t_write:.1f} s to write CSV/XLSX through the release gate")

    t2, c2 = time.perf_counter(), time.process_time()
    base = naive_pandas(before, after, args.baseline_boot)
    t_base, c_base = time.perf_counter() - t2, time.process_time() - c2
    t_base_full = t_base * args.boot / args.baseline_boot
    print(f"baseline (naive pandas loop): {t_base:.1f} s wall ({c_base:.1f} s CPU) for "
          f"{args.baseline_boot} resamples, {t_base_full:.0f} s extrapolated to {args.boot}")
    print(f"ratio baseline/ours: {t_base_full / t_ours:.1f}x wall, "
          f"{c_base * args.boot / args.baseline_boot / c_ours:.1f}x CPU")

    # Same point estimates (the persona rows of ours count only people in both campaigns).
    ours = d[d["group_by"] != "persona"].set_index(["group_by", "group", "feature"])
    theirs = base[base["group_by"] != "persona"].set_index(["group_by", "group", "feature"])
    j = ours[["difference"]].merge(theirs[["difference"]].rename(
        columns={"difference": "difference_base"}), left_index=True, right_index=True).dropna()
    gap = float((j["difference"] - j["difference_base"]).abs().max())
    print(f"point estimates compared on {len(j)} rows: max gap {gap:.2e}")
    if gap > 1e-9:
        raise SystemExit("ours and the baseline disagree")
    print("target (< 60 s):", "met" if t_ours < 60 else "MISSED")


if __name__ == "__main__":
    main()
