"""Benchmark ``mailstudy profile`` against pandas merely reading the columns it needs.

    python benchmarks/bench_profile.py [--rows 5000000] [--people 20000] [--scale-to 20000000]
        [--old-tree DIR] [--old-at-scale] [--memory-mb 1024] [--cache DIR]

Generates (once per size, cached in a temp folder) a synthetic hive-partitioned messages
dataset with numpy, straight into Arrow buffers, plus a directory; then, each in its own
subprocess so peak memory (ru_maxrss) is measured alone: (1) ``pd.read_parquet`` of exactly
the columns profile reads, (2) the ``mailstudy profile`` command of this tree, (3) with
``--old-tree`` (a git worktree of an earlier commit: ``git worktree add DIR 171652a``) the same
command of that tree, as the before figure, whose people table must equal ours. Prints times,
peaks and ratios.

Targets (issue 18): profile within 3x of the read at every size; with ``--scale-to``, the
profile at 4x the rows (same people) in at most 4.5x the time and 1.2x the peak memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailstudy import schema  # noqa: E402
from mailstudy.profile.batches import NEEDED_COLUMNS  # noqa: E402

LEVELS = ["DGS", "DGA", "directeur", "chef de service", "chef de projet / chargé de mission",
          "gestionnaire / assistant", "agent"]
_HEXC = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_ids(prefix: str, values: np.ndarray) -> pa.Array:
    """'p' + 16 hex of each uint64, built as raw Arrow buffers (no Python strings)."""
    n = len(values)
    v = values.astype(np.uint64)
    chars = np.empty((n, 17), dtype=np.uint8)
    chars[:, 0] = ord(prefix)
    for i in range(16):
        chars[:, 16 - i] = _HEXC[((v >> np.uint64(4 * i)) & np.uint64(15)).astype(np.int64)]
    offsets = np.arange(0, 17 * n + 1, 17, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets),
                                                  pa.py_buffer(chars.tobytes())])


def chunk_table(rng: np.random.Generator, people: pa.Array, first: int, last: int,
                per: np.ndarray, row0: int) -> pa.Table:
    """Messages of mailboxes [first, last): numpy columns, then one Arrow table."""
    counts = per[first:last]
    n = int(counts.sum())
    owner_idx = np.repeat(np.arange(first, last), counts)
    owner = people.take(pa.array(owner_idx))
    sent = rng.random(n) < 0.3
    role_p = rng.random(n)
    role = np.where(sent, np.where(role_p < 0.97, "sent", "drafts"),
                    np.where(role_p < 0.6, "inbox", np.where(role_p < 0.9, "archive",
                             np.where(role_p < 0.95, "trash", "junk"))))
    mids = np.arange(row0, row0 + n, dtype=np.uint64) * np.uint64(2654435761) + np.uint64(7)
    # about a third of sent messages reply to a received message of the same mailbox
    irt = np.zeros(n, dtype=np.uint64)
    rep = sent & (rng.random(n) < 0.35)
    back = np.maximum(np.arange(n) - rng.integers(1, 40, n), 0)
    irt[rep] = mids[back[rep]]
    t0 = np.datetime64("2025-09-01T00:00", "us").astype(np.int64)
    day = rng.integers(0, 300, n)
    minute = np.clip(rng.normal(13 * 60, 180, n), 0, 1439).astype(np.int64)
    local = t0 + day * 86_400_000_000 + minute * 60_000_000 + rng.integers(0, 60_000_000, n)
    utc = local - 3_600_000_000
    n_to = rng.integers(1, 4, n).astype(np.int32)
    n_cc = (rng.random(n) < 0.3) * rng.integers(1, 4, n).astype(np.int32)
    pool = pa.concat_arrays([people, pa.array(["ext", "partner"])])
    n_pool = len(pool)

    def lists(sizes: np.ndarray, self_first: np.ndarray) -> pa.Array:
        offs = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(sizes, out=offs[1:])
        vals = rng.integers(0, n_pool, int(offs[-1]))
        firsts = offs[:-1][(sizes > 0) & self_first]
        vals[firsts] = owner_idx[(sizes > 0) & self_first]
        return pa.ListArray.from_arrays(pa.array(offs), pool.take(pa.array(vals)))

    in_to = ~sent & (rng.random(n) < 0.7)
    in_cc = ~sent & ~in_to & (rng.random(n) < 0.8)
    n_cc = np.where(in_cc, np.maximum(n_cc, 1), n_cc).astype(np.int32)
    n_ext = rng.binomial(n_to + n_cc, 0.2).astype(np.int32)
    client = np.where(rng.random(n) < 0.15, "mobile_ios", "outlook")
    empty = pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)),
                                     pa.array([], pa.string()))
    cols = {
        "mailbox": owner, "source": pa.array(np.full(n, "imap")),
        "item_id": hex_ids("i", mids ^ np.uint64(99)),
        "folder_id": hex_ids("f", owner_idx.astype(np.uint64) * np.uint64(31)
                             + rng.integers(0, 12, n).astype(np.uint64)),
        "folder_role": pa.array(role), "folder_depth": pa.array(np.zeros(n, np.int16)),
        "message_id": hex_ids("m", mids),
        "direction": pa.array(np.where(sent, "sent", "received")),
        "sender": people.take(pa.array(rng.integers(0, len(people), n))),
        "to": lists(n_to, in_to), "cc": lists(n_cc, in_cc), "bcc": empty,
        "n_to": pa.array(n_to), "n_cc": pa.array(n_cc),
        "n_bcc": pa.array(np.zeros(n, np.int32)),
        "n_internal": pa.array((n_to + n_cc - n_ext).astype(np.int32)),
        "n_external": pa.array(n_ext),
        "date_utc": pa.array(utc, pa.timestamp("us", tz="UTC")),
        "date_local": pa.array(local, pa.timestamp("us")),
        "size_bytes": pa.array(rng.integers(2_000, 2_000_000, n)),
        "text_bytes": pa.array(rng.integers(200, 20_000, n)),
        "n_attachments": pa.array((rng.random(n) < 0.2).astype(np.int32)),
        "attachment_kinds": empty,
        "is_reply": pa.array(rep | (~sent & (rng.random(n) < 0.3))),
        "is_forward": pa.array(rng.random(n) < 0.05),
        "in_reply_to": pa.Array.from_pandas(
            np.where(irt > 0, hex_ids("m", irt).to_numpy(zero_copy_only=False), None)),
        "thread_root": hex_ids("m", mids),
        "subject_len": pa.array(rng.integers(0, 80, n).astype(np.int32)),
        "n_prefixes": pa.array(rng.integers(0, 3, n).astype(np.int16)),
        "is_bulk": pa.array(~sent & (rng.random(n) < 0.2)),
        "client_family": pa.array(np.where(sent, client, None)),
        "importance": pa.array(np.full(n, "normal")),
        "seen": pa.array(rng.random(n) < 0.85), "answered": pa.array(rng.random(n) < 0.2),
        "flagged": pa.array(rng.random(n) < 0.05), "defects": empty,
        "imap_uidvalidity": pa.nulls(n, pa.int64()), "imap_uid": pa.nulls(n, pa.int64()),
    }
    return pa.table(cols, schema=schema.arrow_schema("messages"))


def generate(root: Path, rows: int, n_people: int, seed: int = 20261126) -> None:
    """Write ``rows`` messages over ``n_people`` mailboxes (sizes vary) and a directory."""
    rng = np.random.default_rng(seed)
    people = hex_ids("p", rng.integers(1, 2**63, n_people, dtype=np.uint64))
    w = rng.lognormal(0, 0.6, n_people)
    per = np.maximum(np.round(w / w.sum() * rows).astype(np.int64), 1)
    per[-1] += rows - per.sum()
    msgs = root / "data" / "messages"
    part = ds.partitioning(pa.schema([("mailbox", pa.string())]), flavor="hive")
    row0 = 0
    step = 250
    for first in range(0, n_people, step):
        last = min(first + step, n_people)
        t = chunk_table(rng, people, first, last, per, row0)
        row0 += len(t)
        ds.write_dataset(t, msgs, format="parquet", partitioning=part,
                         basename_template=f"c{first}-{{i}}.parquet",
                         existing_data_behavior="overwrite_or_ignore", max_partitions=10_000)
    lv = rng.choice(len(LEVELS), n_people, p=[.001, .004, .02, .08, .2, .35, .345])
    directory = pa.table({
        "person": people, "title": pa.nulls(n_people, pa.string()),
        "category": pa.nulls(n_people, pa.string()),
        "level": pa.array([LEVELS[i] for i in lv]), "level_rank": pa.array(lv.astype(np.int16)),
        "direction": pa.array([f"Direction {i}" for i in rng.integers(0, 25, n_people)]),
        "service": pa.nulls(n_people, pa.string()),
        "roles": pa.array([[] for _ in range(n_people)], pa.list_(pa.string())),
        "manager": pa.nulls(n_people, pa.string()), "fte": pa.array(np.ones(n_people)),
    }, schema=schema.arrow_schema("directory"))
    pq.write_table(directory, root / "data" / "directory.parquet")


READ_SNIPPET = """
import sys, time, pandas as pd
t = time.perf_counter()
df = pd.read_parquet(sys.argv[1], columns=sys.argv[2].split(","))
print(len(df), time.perf_counter() - t)
"""
# Each child reports its own peak (ru_maxrss of RUSAGE_SELF, KB on Linux) when it exits.
PEAK_PRELUDE = (
    "import atexit, resource, sys\n"
    "atexit.register(lambda: sys.stderr.write('MAXRSS %d\\n' % "
    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
)


def _children_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def run_measured(code: str, args: list[str], tree: Path = ROOT) -> tuple[float, float, str]:
    """Wall time, peak RSS (GB) of the child alone, and its stdout; ``tree`` is put first on
    the child's path (an old worktree runs its own code). The child's CPU seconds (user +
    system, every thread) are printed too: on a shared machine they vary less than the wall
    time."""
    t, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run([sys.executable, "-c", PEAK_PRELUDE + code, *args],
                          capture_output=True, text=True, cwd=tree,
                          env={**os.environ, "PYTHONPATH": str(tree)})
    wall = time.perf_counter() - t
    print(f"    (child: {wall:.1f} s wall, {_children_cpu() - cpu:.1f} s CPU)", flush=True)
    if proc.returncode:
        raise SystemExit(f"child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    kb = max(int(line.split()[1]) for line in proc.stderr.splitlines()
             if line.startswith("MAXRSS "))
    return wall, kb / 1024 / 1024, proc.stdout


def dataset_for(rows: int, people: int, cache: Path | None) -> Path:
    """The cached synthetic dataset of this size, generated when missing."""
    cache = cache or Path(tempfile.gettempdir()) / f"mailstudy-bench-profile-{rows}-{people}-v1"
    if not (cache / "data" / "directory.parquet").exists():
        shutil.rmtree(cache, ignore_errors=True)
        t = time.perf_counter()
        generate(cache, rows, people)
        print(f"generated {rows:,} rows / {people:,} mailboxes in "
              f"{time.perf_counter() - t:.1f} s -> {cache}", flush=True)
    return cache


def make_study(cache: Path, memory_mb: int | None) -> Path:
    """A throw-away study whose message store is the cached dataset (a symlink)."""
    study = Path(tempfile.mkdtemp(prefix="mailstudy-bench-study-"))
    (study / "data").mkdir()
    (study / "data" / "messages").symlink_to(cache / "data" / "messages")
    shutil.copy(cache / "data" / "directory.parquet", study / "data" / "directory.parquet")
    toml = '[organisation]\ndomains = ["region.fr"]\n'
    if memory_mb is not None:
        toml += f"[profile]\nmemory_mb = {memory_mb}\n"
    (study / "study.toml").write_text(toml)
    return study


PROFILE_CODE = "from mailstudy.cli import main\nmain()"


def measure_size(rows: int, people: int, args: argparse.Namespace, old: bool
                 ) -> dict[str, float]:
    """Read, profile (and the old tree's profile): times and peaks at one size."""
    cache = dataset_for(rows, people, args.cache if rows == args.rows else None)
    msgs = str(cache / "data" / "messages")
    rt, rpeak, rout = run_measured(READ_SNIPPET, [msgs, ",".join(NEEDED_COLUMNS)])
    n_read, read_inner = rout.split()
    print(f"[{rows:,} rows / {people:,} people] pandas read of the {len(NEEDED_COLUMNS)} "
          f"needed columns: {rt:.1f} s ({float(read_inner):.1f} s without interpreter start), "
          f"peak {rpeak:.2f} GB, {int(n_read):,} rows", flush=True)
    study = make_study(cache, args.memory_mb)
    pt, ppeak, pout = run_measured(PROFILE_CODE, ["profile", "--study", str(study)])
    print(f"[{rows:,}] mailstudy profile (this tree, whole command, charts included): "
          f"{pt:.1f} s, peak {ppeak:.2f} GB; profile / read {pt / rt:.2f}x (target <= 3x)",
          flush=True)
    out = {"read_s": rt, "read_gb": rpeak, "profile_s": pt, "profile_gb": ppeak}
    if old and args.old_tree:
        old_study = make_study(cache, None)
        ot, opeak, _ = run_measured(PROFILE_CODE, ["profile", "--study", str(old_study)],
                                    tree=args.old_tree.resolve())
        same = pq.read_table(study / "data" / "people.parquet").equals(
            pq.read_table(old_study / "data" / "people.parquet"))
        print(f"[{rows:,}] old tree ({args.old_tree}) profile: {ot:.1f} s, peak {opeak:.2f} GB;"
              f" new / old time {pt / ot:.2f}x, peak {ppeak / opeak:.2f}x; people tables "
              f"identical: {'yes' if same else 'NO'}", flush=True)
        out |= {"old_s": ot, "old_gb": opeak}
        shutil.rmtree(old_study, ignore_errors=True)
    print(pout.strip(), flush=True)
    shutil.rmtree(study, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--people", type=int, default=20_000)
    ap.add_argument("--scale-to", type=int, default=None,
                    help="also run at this many rows (same people) and print the ratios")
    ap.add_argument("--old-tree", type=Path, default=None,
                    help="a worktree of an earlier commit, run as the before figure")
    ap.add_argument("--old-at-scale", action="store_true",
                    help="run the old tree at --scale-to too (minutes at 20 M rows)")
    ap.add_argument("--memory-mb", type=int, default=None, help="[profile] memory_mb")
    ap.add_argument("--cache", type=Path, default=None)
    args = ap.parse_args()
    base = measure_size(args.rows, args.people, args, old=True)
    if not args.scale_to:
        return
    big = measure_size(args.scale_to, args.people, args, old=args.old_at_scale)
    k = args.scale_to / args.rows
    print(f"scaling {args.rows:,} -> {args.scale_to:,} rows ({k:g}x), {args.people:,} people:")
    print(f"  profile time {big['profile_s'] / base['profile_s']:.2f}x (target <= "
          f"{4.5 * k / 4:g}x), peak memory {big['profile_gb'] / base['profile_gb']:.2f}x "
          f"(target <= 1.2x)")
    print(f"  pandas read time {big['read_s'] / base['read_s']:.2f}x, peak "
          f"{big['read_gb'] / base['read_gb']:.2f}x")
    if "old_s" in big:
        print(f"  old tree: time {big['old_s'] / base['old_s']:.2f}x, peak "
              f"{big['old_gb'] / base['old_gb']:.2f}x")


if __name__ == "__main__":
    main()
