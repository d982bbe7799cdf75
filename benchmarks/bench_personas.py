"""Benchmark of the choice of k in ``mailstudy personas``: 5,000 people x 20 features, k from 2
to 10, 50 bootstrap refits per k (3 starts each), plus (new criterion) 10 prediction-strength
half splits per k (two 10-start fits each, each half testing the other), as ``fit_personas``
runs them on 2 cores.

Compares, in the same run and on the same data:
* new: ``fit_personas(..., k_range=(2, 10), n_jobs=2)``: prediction strength read with the
  bootstrap stability (:mod:`mailstudy.personas.choose`), the whole model (sheet texts too);
* old: the criterion this replaced, the largest silhouette x stability p10 among the ks with
  silhouette >= 0.25 and p10 >= 0.7, on the same reference fits and bootstrap refits
  (``fit_range(..., n_split=0)``), also on 2 cores.
Each variant runs in a fresh subprocess so that its peak memory (ru_maxrss of the process and
of its worker processes) is its own. Target: new under 60 s.

Then, on generated people tables of 6 (200 and 300 people, sizes 9.5% to 24%) and 4 distinct
behaviours (``tests/peoplekit.council_people``), the k and adjusted Rand index against the
truth of both criteria and of KMeans told the true k. ``--mail-council 200`` runs the issue's
case through the real chain instead (generated mailboxes, collect, directory, profile: minutes).

    python benchmarks/bench_personas.py [--people 5000] [--boot 50] [--split 10]
    python benchmarks/bench_personas.py --mail-council 200 [--weeks 4]   # the issue's case
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # peoplekit: the synthetic people of the tests

K_RANGE = (2, 10)


def old_choice(diagnostics: Any) -> tuple[int, bool]:
    """The replaced rule: admissible when silhouette >= 0.25 and stability p10 >= 0.7; the
    admissible k (or any k when none) of largest silhouette x p10, the smaller on a tie."""
    d = diagnostics.assign(score=diagnostics.silhouette.clip(lower=0)
                           * diagnostics.stability_p10.clip(lower=0))
    ok = d[(d.silhouette >= 0.25) & (d.stability_p10 >= 0.7)]
    best = (ok if len(ok) else d).sort_values(["score", "k"], ascending=[False, True]).iloc[0]
    return int(best.k), bool(len(ok))


def old_fit(people: Any, n_boot: int, seed: int, features: Any = None, n_jobs: int = 2
            ) -> tuple[int, Any]:
    """k and labels by the old criterion, on the fits ``fit_personas`` would make."""
    from mailstudy import personas as P
    from mailstudy.personas.fit import fit_range

    prep = P.prepare_features(people, features)
    threshold = P.min_persona_size(len(people), 10)
    fits = fit_range(prep.X, list(range(K_RANGE[0], K_RANGE[1] + 1)), n_boot=n_boot,
                     seed=seed, threshold=threshold, n_jobs=n_jobs, n_split=0)
    k, _ = old_choice(fits.diagnostics)
    return k, fits.labels[k]


def run_variant(variant: str, people: int, boot: int, split: int) -> dict[str, object]:
    from peoplekit import synthetic_people

    from mailstudy import personas as P
    from mailstudy.schema import FEATURE_NAMES

    df, _ = synthetic_people(people, groups=5, seed=1, extra_features=1)
    feats = [*FEATURE_NAMES, "extra_1"]
    t0 = time.perf_counter()
    if variant == "new":
        m = P.fit_personas(df, k="auto", k_range=K_RANGE, n_boot=boot, n_split=split, seed=7,
                           features=feats, n_jobs=2)
        k = m.card["k_chosen"]
    else:
        k, _ = old_fit(df, boot, 7, feats)
    wall = time.perf_counter() - t0
    # Reap the joblib workers so that their peak memory shows in RUSAGE_CHILDREN.
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
    self_ru = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"variant": variant, "seconds": round(wall, 2), "k": int(k),
            "cpu_s": round(self_ru.ru_utime + kids.ru_utime, 1),
            "peak_rss_main_mb": round(self_ru.ru_maxrss / 1024, 1),
            "peak_rss_worker_mb": round(kids.ru_maxrss / 1024, 1), "n_features": len(feats)}


def councils(boot: int, split: int) -> list[str]:
    """Old vs new criterion vs KMeans told the true k, on generated councils."""
    from peoplekit import council_people
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from mailstudy import personas as P

    lines = []
    for n_behaviours, n in ((6, 200), (6, 300), (4, 240)):
        people, truth = council_people(n_behaviours, n, seed=1)
        X = P.prepare_features(people).X
        told = KMeans(n_clusters=n_behaviours, n_init=10, random_state=0).fit(X).labels_
        k_old, old_labels = old_fit(people, boot, 7)
        m = P.fit_personas(people, k="auto", k_range=K_RANGE, n_boot=boot, n_split=split,
                           seed=7)
        new = m.assignments.set_index("person").loc[people.person, "persona"].to_numpy()
        lines.append(f"  council of {n_behaviours} behaviours, {n} people: old k={k_old} ARI "
                     f"{adjusted_rand_score(truth, old_labels):.2f}; new k={m.k} ARI "
                     f"{adjusted_rand_score(truth, new):.2f}; KMeans told k={n_behaviours} ARI "
                     f"{adjusted_rand_score(truth, told):.2f}")
    return lines


def mail_council(n_agents: int, weeks: int, boot: int, split: int, workdir: Path) -> str:
    """The issue's case through the real chain: a generated council of six behaviours of
    unequal sizes (``SIX_BEHAVIOURS``, parameters spread +-35%) -> Maildir -> collect ->
    directory -> profile -> people; then both criteria and KMeans told k=6 on its people."""
    import pandas as pd
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from studykit import make_study

    from mailstudy import personas as P
    from mailstudy.collect.run import collect_files
    from mailstudy.demo.council import SIX_BEHAVIOURS, generate_council
    from mailstudy.intake.directory import import_directory
    from mailstudy.profile.run import run_profile

    t0 = time.perf_counter()
    council = generate_council(workdir / "council", n_agents=n_agents, weeks=weeks, seed=5,
                               behaviours=SIX_BEHAVIOURS, spread=0.35)
    study, _ = make_study(workdir / "s", domains=(council.domain,),
                          partners=tuple(council.partner_domains))
    collect_files(study, sorted(council.mailboxes.iterdir()), workers=2)
    import_directory(study, council.directory_csv)
    run_profile(study, charts=False)
    people = study.catalog.read_table("people")
    gt = pd.read_csv(council.ground_truth_csv)
    gt["person"] = [study.pseudonymiser().person(a) for a in gt.address]
    truth = people[["person"]].merge(gt, on="person", how="left").behaviour.to_numpy()
    built = time.perf_counter() - t0
    X = P.prepare_features(people).X
    told = KMeans(n_clusters=6, n_init=10, random_state=0).fit(X).labels_
    k_old, old_labels = old_fit(people, boot, 7)
    m = P.fit_personas(people, k="auto", k_range=K_RANGE, n_boot=boot, n_split=split, seed=7)
    new = m.assignments.set_index("person").loc[people.person, "persona"].to_numpy()
    return (f"  mail council ({n_agents} agents, {weeks} weeks, six behaviours, built and "
            f"profiled in {built:.0f} s, {len(people)} people profiled): old k={k_old} ARI "
            f"{adjusted_rand_score(truth, old_labels):.2f}; new k={m.k} ARI "
            f"{adjusted_rand_score(truth, new):.2f}; KMeans told k=6 ARI "
            f"{adjusted_rand_score(truth, told):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=5000)
    ap.add_argument("--boot", type=int, default=50)
    ap.add_argument("--split", type=int, default=10)
    ap.add_argument("--mail-council", type=int, default=0, metavar="AGENTS",
                    help="also run the issue's case through the real chain (minutes)")
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--variant", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.mail_council:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            print(mail_council(args.mail_council, args.weeks, args.boot, args.split, Path(tmp)))
        return
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.people, args.boot, args.split)))
        return
    res = {}
    for variant in ("new", "old"):
        out = subprocess.run([sys.executable, __file__, "--variant", variant, "--people",
                              str(args.people), "--boot", str(args.boot), "--split",
                              str(args.split)], capture_output=True, text=True, check=True)
        res[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    new, old = res["new"], res["old"]
    print(f"personas benchmark: {args.people} people x {new['n_features']} features, k "
          f"{K_RANGE[0]}..{K_RANGE[1]}, {args.boot} bootstrap refits per k (+ {args.split} "
          "prediction-strength half splits per k for the new criterion), 2 cores")
    for name, r in (("new (prediction strength)", new), ("old (silhouette x p10)", old)):
        print(f"  {name:27s} {r['seconds']:6.2f} s wall, CPU {r['cpu_s']:.1f} s; peak RSS main "
              f"{r['peak_rss_main_mb']:.0f} MB, largest child {r['peak_rss_worker_mb']:.0f} MB;"
              f" k={r['k']}")
    print(f"  time ratio new / old: x{new['seconds'] / old['seconds']:.2f}")
    print(f"  target < 60 s: {'met' if new['seconds'] < 60 else 'MISSED'}")
    for line in councils(args.boot, args.split):
        print(line)


if __name__ == "__main__":
    main()
