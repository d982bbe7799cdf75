"""Benchmark the privacy stages of mailstudy, each against a plain baseline in the same run.

    python benchmarks/bench_privacy.py [--people 5000] [--rows 10000000] [--share 0.1]
                                       [--cache DIR] [--seed 20261202]

1. Analyst export: ``export_analyst(study, dest)`` on a synthetic ``data/people.parquet`` of
   ``--people`` people (7-rung ladder, ~12 directions, ~80 services, rare roles) vs pandas
   reading people.parquet and writing it to another Parquet file. Target: export < 10 s.
2. Release gate: ``Ledger.publish`` (``gate.hold_back``) of the profile stage's group tables
   (``profile.group_profiles``: by level, direction, habit, level x habit, work pattern) with
   one earlier closed release in the ledger, then ``Ledger.close``, vs writing those tables
   as CSV. Target: the gate adds < 2 s in total.
3. Late objection: ``apply_objection(study, {person})`` on a message store of ``--rows`` rows
   over ``--people`` mailboxes (generator of ``bench_profile.py``; the person is a
   correspondent in about ``--share`` of the mailboxes) vs reading the store's sender, to,
   cc and bcc columns once with pyarrow. The store is generated once and cached (``--cache``);
   each run works on a hard-linked copy, so the objection never alters the cache.

Prints times and ratios; asserts no timing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_profile import LEVELS, chunk_table, hex_ids  # noqa: E402

from mailstudy import schema  # noqa: E402
from mailstudy.export import export_analyst  # noqa: E402
from mailstudy.intake.objection import apply_objection  # noqa: E402
from mailstudy.profile import DEFAULT_HABITS, WORK_PATTERNS, group_profiles  # noqa: E402
from mailstudy.release.ledger import Ledger  # noqa: E402
from mailstudy.store import PERSON_COLUMNS, MessageStore  # noqa: E402
from mailstudy.study import Study, init_study  # noqa: E402

KEY = bytes(range(32))
ROLES_COMMON = ["juridique", "informatique", "expert", "communication"]
ROLES_RARE = ["pilote", "arbitre"]
TABLE_DIMS = {"level": ["level"], "direction": ["direction"], "habit": ["habit"],
              "level_habit": ["level", "habit"], "work_pattern": ["work_pattern"]}


def new_study(parent: Path, name: str) -> Study:
    return init_study(parent / name, ["region.test"], key=KEY)


# -- 1. synthetic people table ---------------------------------------------------------------
def synthetic_people(n: int, seed: int) -> pd.DataFrame:
    """A people table of the PEOPLE contract: one DGS, a few DGAs, ~12 directions of ~80
    services, rare roles, work patterns, features and habits; seeded."""
    rng = np.random.default_rng(seed)
    person = hex_ids("p", rng.integers(1, 2**63, n, dtype=np.uint64)).to_pylist()
    n_dir, n_svc = 12, 80
    directions = ["Direction générale"] + [f"Direction {i:02d}" for i in range(1, n_dir)]
    svc_dir = np.r_[0, rng.integers(1, n_dir, n_svc - 1)]  # service -> direction
    svc_w = rng.lognormal(0, 0.9, n_svc)
    svc = rng.choice(n_svc, n, p=svc_w / svc_w.sum())
    rank = rng.choice(np.arange(3, 7), n, p=[0.10, 0.25, 0.35, 0.30])
    n_dga = min(5, max(n - 1, 0))
    rank[0] = 0
    rank[1:1 + n_dga] = 1
    svc[:1 + n_dga] = 0
    # one directeur per direction, one chef de service per service when there are people
    heads = rng.permutation(np.arange(1 + n_dga, n))
    for d in range(1, n_dir):
        members = heads[svc_dir[svc[heads]] == d]
        if len(members):
            rank[members[0]] = 2
    for s in range(n_svc):
        members = heads[(svc[heads] == s) & (rank[heads] > 2)]
        if len(members):
            rank[members[0]] = 3
    roles: list[list[str]] = [[] for _ in range(n)]
    for i in np.flatnonzero(rng.random(n) < 0.04):
        roles[i] = [ROLES_COMMON[rng.integers(len(ROLES_COMMON))]]
    for i in rng.choice(n, min(n, 6), replace=False):
        roles[i] = sorted({*roles[i], ROLES_RARE[rng.integers(len(ROLES_RARE))]})
    feats = {}
    for f in schema.FEATURE_NAMES:
        v = rng.gamma(2.0, 0.5, n)
        if f.endswith(("_share", "_rate")):
            v = rng.beta(2, 5, n)
        if f == "reply_delay_h":
            v[rng.random(n) < 0.05] = np.nan
        feats[f] = v
    labels = list(DEFAULT_HABITS)
    hab = rng.random((n, len(labels))) < 0.12
    habits = [[labels[j] for j in np.flatnonzero(row)] for row in hab]
    wp = rng.choice(WORK_PATTERNS, n, p=[0.03, 0.10, 0.12, 0.01, 0.70, 0.04])
    df = pd.DataFrame({
        "person": person, "level": [LEVELS[r] for r in rank],
        "level_rank": rank.astype("int16"),
        "direction": [directions[svc_dir[s]] for s in svc],
        "service": [f"Service {s:02d}" for s in svc], "roles": roles,
        "n_messages": rng.integers(20, 8000, n), "active_days": rng.integers(10, 250, n),
        **feats, "habits": habits, "work_pattern": wp})
    return df[schema.names("people")]


def bench_export(tmp: Path, people: pd.DataFrame) -> None:
    study = new_study(tmp, "export-study")
    study.catalog.write_table("people", people)
    src = study.catalog.path("people")
    t = time.perf_counter()
    pd.read_parquet(src).to_parquet(tmp / "baseline-people.parquet", index=False)
    base = time.perf_counter() - t
    t = time.perf_counter()
    res = export_analyst(study, tmp / "analyst")
    ours = time.perf_counter() - t
    g = res.generalisation
    print(f"[1] analyst export of {len(people):,} people")
    print(f"    baseline pandas read + write parquet: {base:.3f} s")
    print(f"    export_analyst:                       {ours:.3f} s  "
          f"(target < 10 s: {'met' if ours < 10 else 'NOT met'})")
    print(f"    ratio export / baseline: {ours / base:.1f}x; generalisation steps {g.steps}, "
          f"smallest group {g.smallest_group}, suppressed rows {g.suppressed_rows}")


# -- 2. release gate -------------------------------------------------------------------------
def profile_tables(people: pd.DataFrame, k: int) -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    """The profile stage's group tables (suppressed as published) with their true counts."""
    shown = group_profiles(people, k, habit_labels=DEFAULT_HABITS).tables
    true = group_profiles(people, 1, habit_labels=DEFAULT_HABITS).tables
    out = {}
    for name, dims in TABLE_DIMS.items():
        t = shown[name]
        key = t[dims].astype(str).agg("|".join, axis=1)
        tk = true[name].assign(_k=true[name][dims].astype(str).agg("|".join, axis=1))
        counts = key.map(tk.set_index("_k")["n_people"]).fillna(0).astype("int64")
        out[name] = (t, counts)
    return out


def bench_gate(tmp: Path, people: pd.DataFrame, seed: int) -> None:
    study = new_study(tmp, "gate-study")
    k = study.min_group_size
    rng = np.random.default_rng(seed + 1)
    before = people.drop(index=rng.choice(len(people), max(len(people) // 80, k),
                                          replace=False)).reset_index(drop=True)
    ledger = Ledger(study.catalog.path("releases"))
    for name, (t, counts) in profile_tables(before, k).items():
        ledger.publish(f"profiles/by_{name}", t, counts, population=len(before),
                       dims=TABLE_DIMS[name], count="n_people", k=k)
    ledger.close([], study.root)
    tables = profile_tables(people, k)
    ncols = max(len(t.columns) for t, _ in tables.values())
    nrows = sum(len(t) for t, _ in tables.values())
    out = study.out / "profiles"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    files = []
    for name, (t, _) in tables.items():
        p = out / f"by_{name}.csv"
        t.to_csv(p, index=False, float_format="%.4g")
        files.append(p)
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    held = 0
    for name, (t, counts) in tables.items():
        _, h = ledger.publish(f"profiles/by_{name}", t, counts, population=len(people),
                              dims=TABLE_DIMS[name], count="n_people", k=k)
        held += h
    pub = time.perf_counter() - t0
    t0 = time.perf_counter()
    ledger.close(files, study.root)
    close = time.perf_counter() - t0
    gate = pub + close
    print(f"[2] release gate: {len(tables)} tables, {nrows} rows, up to {ncols} columns, "
          f"earlier release of {len(before):,} people, now {len(people):,}")
    print(f"    baseline write as CSV:           {base:.3f} s")
    print(f"    Ledger.publish x{len(tables)} (hold_back): {pub:.3f} s, {held} rows held back")
    print(f"    Ledger.close (hashes):            {close:.3f} s")
    print(f"    gate total {gate:.3f} s (target < 2 s: {'met' if gate < 2 else 'NOT met'}); "
          f"ratio gate / CSV write: {gate / base:.1f}x")


# -- 3. late objection -----------------------------------------------------------------------
def generate_store(root: Path, rows: int, n_people: int, share: float, seed: int) -> str:
    """Hive-partitioned store under root/messages (bench_profile's generator, files named
    part-*.parquet as MessageStore lists them); the objector is a correspondent of about
    ``share`` of the mailboxes and absent from the others. Returns her pseudonym."""
    rng = np.random.default_rng(seed)
    people = hex_ids("p", rng.integers(1, 2**63, n_people, dtype=np.uint64))
    w = rng.lognormal(0, 0.6, n_people)
    per = np.maximum(np.round(w / w.sum() * rows).astype(np.int64), 1)
    per[-1] += rows - per.sum()
    target = n_people // 2
    her = people[target].as_py()
    stand_in = people[(target + 1) % n_people].as_py()
    contact = rng.random(n_people) < share
    contact[target] = False
    part = ds.partitioning(pa.schema([("mailbox", pa.string())]), flavor="hive")
    row0, step = 0, 250
    for first in range(0, n_people, step):
        last = min(first + step, n_people)
        t = chunk_table(rng, people, first, last, per, row0)
        row0 += len(t)
        owner = np.repeat(np.arange(first, last), per[first:last])
        close = contact[owner]
        for col in ("sender", "to", "cc"):
            c = t.column(col).combine_chunks()
            if pa.types.is_list(c.type):
                flat = c.values
                row_of = np.repeat(np.arange(len(c)), np.diff(c.offsets.to_numpy()))
                near = close[row_of]
                inject = near & (rng.random(len(flat)) < 0.01)
            else:
                flat, near = c, close
                inject = near & (t.column("direction").to_numpy() == "received") & (
                    rng.random(len(c)) < 0.02)
            is_her = pc.equal(flat, her).to_numpy(zero_copy_only=False)
            new = pc.if_else(pa.array(is_her & ~near), stand_in, flat)
            new = pc.if_else(pa.array(inject), her, new)
            if pa.types.is_list(c.type):
                new = pa.ListArray.from_arrays(c.offsets, new)
            t = t.set_column(t.schema.get_field_index(col), col, new)
        ds.write_dataset(t, root / "messages", format="parquet", partitioning=part,
                         basename_template=f"part-c{first}-{{i}}.parquet",
                         existing_data_behavior="overwrite_or_ignore", max_partitions=10_000)
    (root / "objector.txt").write_text(her + "\n")
    return her


def link_tree(src: Path, dest: Path) -> None:
    try:
        shutil.copytree(src, dest, copy_function=os.link)
    except OSError:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(src, dest)


def bench_objection(tmp: Path, cache: Path, rows: int, n_people: int, share: float,
                    seed: int) -> None:
    if not (cache / "objector.txt").exists():
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        t = time.perf_counter()
        generate_store(cache, rows, n_people, share, seed)
        print(f"    generated {rows:,} rows / {n_people:,} mailboxes in "
              f"{time.perf_counter() - t:.1f} s -> {cache}")
    her = (cache / "objector.txt").read_text().strip()
    study = new_study(tmp, "objection-study")
    link_tree(cache / "messages", study.messages_dir)
    store = MessageStore(study.messages_dir)
    files = store.files()
    t0 = time.perf_counter()
    n = 0
    for f in files:
        tb = pq.read_table(f, columns=list(PERSON_COLUMNS))
        n += tb.num_rows
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    rep = apply_objection(study, {her})
    ours = time.perf_counter() - t0
    print(f"[3] late objection on {n:,} rows in {len(files):,} files ({n_people:,} mailboxes)")
    print(f"    baseline pyarrow read of {', '.join(PERSON_COLUMNS)}: {base:.2f} s")
    print(f"    apply_objection:                            {ours:.2f} s")
    print(f"    ratio objection / read: {ours / base:.2f}x; files rewritten "
          f"{rep.files_rewritten:,} / {len(files):,}; references replaced "
          f"{rep.references_replaced:,}; her mailbox rows dropped {rep.mailbox_rows:,}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=5_000)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--share", type=float, default=0.1,
                    help="share of mailboxes where the objector is a correspondent")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=20261202)
    args = ap.parse_args()
    cache = args.cache or Path(tempfile.gettempdir()) / (
        f"mailstudy-bench-privacy-{args.rows}-{args.people}-{args.share}-{args.seed}-v1")
    tmp = Path(tempfile.mkdtemp(prefix="mailstudy-bench-privacy-", dir=cache.parent
                                if cache.parent.exists() else None))
    try:
        people = synthetic_people(args.people, args.seed)
        bench_export(tmp, people)
        bench_gate(tmp, people, args.seed)
        bench_objection(tmp, cache, args.rows, args.people, args.share, args.seed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
