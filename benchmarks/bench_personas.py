"""Benchmark of ``mailstudy personas``: 5,000 people x 20 features, k from 3 to 8, 50 bootstrap
refits each (300 refits + 6 reference fits + silhouettes), as ``fit_personas`` runs them.

Compares, in the same run and on the same data:
* ours: ``fit_personas(..., n_jobs=2)``: refits spread over both cores (joblib processes);
* baseline: the same fits in a naive sequential loop on one core (``n_jobs=1``).
Each variant runs in a fresh subprocess so that its peak memory (ru_maxrss of the process and
of its worker processes) is its own. Both must give the same personas (checked). Target: ours
under 60 s.

    python benchmarks/bench_personas.py [--people 5000] [--boot 50]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # peoplekit: the synthetic people of the tests


def kids_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_variant(n_jobs: int, people: int, boot: int) -> dict[str, object]:
    import hashlib

    from peoplekit import synthetic_people

    from mailstudy import personas as P
    from mailstudy.schema import FEATURE_NAMES

    df, _ = synthetic_people(people, groups=5, seed=1, extra_features=1)
    feats = [*FEATURE_NAMES, "extra_1"]
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    m = P.fit_personas(df, k="auto", k_range=(3, 8), n_boot=boot, seed=7, features=feats,
                       n_jobs=n_jobs)
    wall = time.perf_counter() - t0
    # Reap the joblib workers so that their peak memory shows in RUSAGE_CHILDREN.
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
    self_ru = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    digest = hashlib.sha256(m.assignments.persona.to_numpy().tobytes()).hexdigest()[:16]
    return {"n_jobs": n_jobs, "seconds": round(wall, 2),
            "cpu_main_s": round(time.process_time() - cpu0, 2),
            "cpu_children_s": round(kids_cpu(), 2),
            "peak_rss_main_mb": round(self_ru.ru_maxrss / 1024, 1),
            "peak_rss_worker_mb": round(kids.ru_maxrss / 1024, 1),
            "k": m.k, "silhouette": m.card["silhouette"],
            "stability_p10": m.card["stability_p10"], "n_features": len(feats),
            "assignments_sha": digest, "diagnostics": m.card["diagnostics"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=5000)
    ap.add_argument("--boot", type=int, default=50)
    ap.add_argument("--variant", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.people, args.boot)))
        return
    res = {}
    for name, n_jobs in (("ours (2 cores)", 2), ("baseline (1 core, sequential)", 1)):
        out = subprocess.run([sys.executable, __file__, "--variant", str(n_jobs), "--people",
                              str(args.people), "--boot", str(args.boot)],
                             capture_output=True, text=True, check=True)
        res[name] = json.loads(out.stdout.strip().splitlines()[-1])
    ours, base = res["ours (2 cores)"], res["baseline (1 core, sequential)"]
    print(f"personas benchmark: {args.people} people x {ours['n_features']} features, "
          f"k 3..8, {args.boot} bootstrap refits per k")
    for name, r in res.items():
        print(f"  {name:30s} {r['seconds']:6.2f} s wall, CPU {r['cpu_main_s']:.1f} s main + "
              f"{r['cpu_children_s']:.1f} s workers; peak RSS main {r['peak_rss_main_mb']:.0f} "
              f"MB, largest child {r['peak_rss_worker_mb']:.0f} MB; k={r['k']} silhouette "
              f"{r['silhouette']:.3f} stability p10 {r['stability_p10']:.3f}")
    print(f"  speed-up ours vs baseline: x{base['seconds'] / ours['seconds']:.2f}")
    same = ours["assignments_sha"] == base["assignments_sha"] and \
        ours["diagnostics"] == base["diagnostics"]
    print(f"  same personas and diagnostics in both: {same}")
    print(f"  target < 60 s: {'met' if ours['seconds'] < 60 else 'MISSED'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
