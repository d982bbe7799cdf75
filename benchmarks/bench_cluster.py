"""Benchmark: `mailstudy collect files` on a Dask LocalCluster of 2 workers vs the local process
pool (2 workers), same corpus, same run; and what a billion messages would need.

    python benchmarks/bench_cluster.py [--agents 220] [--weeks 8] [--repeat 3] [--single-mailbox]
                                       [--imap]

Both sides are the whole command in its own process (``--workers 2`` for the pool,
``--cluster ADDRESS`` for Dask). The cluster is started once before the rounds, as a real
cluster is already running when an operator points the tool at it; its workers are warmed by a
first untimed run. From the cluster's median time it prints the cost per message and per
mailbox in worker-seconds and the workers a billion messages would need in an 8-hour night
(the same per-worker cost, the shared store keeping up: an estimate, said so).
Timings only, no assertions. ``--single-mailbox``: the corpus merged into one Maildir (cut into
units) instead of one mailbox per agent.

``--imap``: the same corpus loaded into a throw-away Dovecot (one user per agent, a master
user, implicit TLS on loopback), then ``collect_imap`` with a local pool of 2 workers against
``collect_imap_on`` on the LocalCluster of 2 workers (one task per mailbox), both in this
process, each into a new study per round; prints both rates and their ratio.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_collect_files import (  # noqa: E402
    CPU,
    corpus_parser,
    message_files,
    new_study,
    run_collect,
    single_mailbox,
)

from mailstudy.demo.council import generate_council  # noqa: E402

NIGHT_S = 8 * 3600
# The workers as the README advises running them: Dask's statistical profiler (a thread
# sampling the worker every 10 ms) off; it cost 7% of the workers' compute time here.
os.environ.setdefault("DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED", "False")


def _cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(study: Path, sources: list[Path], extra: list[str], client=None,
        cpu: list[float] | None = None) -> float:
    """Wall seconds of the command; with ``client``, the CPU seconds it cost the cluster's
    workers plus the command's own go to ``cpu`` (this shared machine's load changes wall
    times, not CPU seconds)."""
    before = sum(client.run(_cpu).values()) if client is not None else 0.0
    dt = run_collect(study, sources, extra)[0]  # appends the command's own CPU to CPU["ours"]
    if client is not None and cpu is not None:
        cpu.append(sum(client.run(_cpu).values()) - before + CPU["ours"][-1])
    return dt


def imap_rounds(args, sources: list[Path], domain: str, n: int) -> None:
    """Local pool against LocalCluster, IMAP from a Dovecot holding ``sources``."""
    import time

    from bench_imap import serve_mailboxes
    from distributed import LocalCluster

    from mailstudy.collect.imap import Auth, Server, collect_imap
    from mailstudy.demo.dovecot import DovecotServer
    from mailstudy.pipeline.cluster_imap import collect_imap_on
    from mailstudy.study import open_study

    srv = DovecotServer.create()
    try:
        accounts = serve_mailboxes(srv, sources)
        srv.start()
        server = Server(srv.host, srv.imaps_port, ca_file=str(srv.ca_file))
        auth = Auth(password=srv.master[1])

        def study(name: str):
            return open_study(new_study(args.out / name, domain))

        collect_imap(study("imap-warm"), server, accounts, auth, workers=2)  # Dovecot's caches
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=":0",
                          local_directory=str(args.out / "dask")) as c:
            collect_imap_on(study("imap-warm"), server, accounts, auth,
                            cluster=c.scheduler_address)
            pool, dask = [], []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                collect_imap(study("imap-pool"), server, accounts, auth, workers=2)
                pool.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                collect_imap_on(study("imap-dask"), server, accounts, auth,
                                cluster=c.scheduler_address)
                dask.append(time.perf_counter() - t0)
    finally:
        srv.cleanup()
        shutil.rmtree(args.out / "dask", ignore_errors=True)
    p, d = rates("IMAP local pool, 2 workers", pool, n), rates("IMAP LocalCluster, 2 workers",
                                                                dask, n)
    print(f"ratio cluster / pool: {p / d:.2f}x")


def rates(label: str, times: list[float], n: int) -> float:
    """Print a series' median rate and its range; return the median time."""
    t = statistics.median(times)
    print(f"{label:29}: {t:7.2f} s  {n / t:8.0f} msg/s median "
          f"(of {len(times)}: {n / max(times):.0f}..{n / min(times):.0f})")
    return t


def main() -> None:
    ap = corpus_parser()
    ap.add_argument("--imap", action="store_true",
                    help="IMAP collection from a Dovecot holding the corpus")
    args = ap.parse_args()
    from distributed import LocalCluster

    domain = "paysdelaloire.test"
    corpus = args.out / "council"
    if not (corpus / "mailboxes").exists():
        generate_council(corpus, n_agents=args.agents, weeks=args.weeks, seed=11,
                         domain=domain, attachment_share=0.2, attachment_kb=40)
    sources = sorted((corpus / "mailboxes").iterdir())
    if args.single_mailbox:
        sources = [single_mailbox(corpus / "mailboxes", args.out / "single")]
    files = [f for s in sources for f in message_files(s)]
    n = len(files)
    for f in files:  # page cache
        f.read_bytes()
    print(f"corpus: {n} messages in {len(sources)} mailbox(es)")
    if args.imap:
        imap_rounds(args, sources, domain, n)
        return
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0", local_directory=str(args.out / "dask")) as c:
        addr = c.scheduler_address
        run(new_study(args.out / "warm", domain), sources, ["--cluster", addr])
        pool, dask, cpu = [], [], []
        from distributed import Client

        with Client(addr) as client:
            for _ in range(args.repeat):
                pool.append(run(new_study(args.out / "pool", domain), sources,
                                ["--workers", "2"]))
                dask.append(run(new_study(args.out / "dask-run", domain), sources,
                                ["--cluster", addr], client, cpu))
    shutil.rmtree(args.out / "dask", ignore_errors=True)
    p, d = rates("local pool, 2 workers", pool, n), rates("LocalCluster, 2 workers", dask, n)
    print(f"ratio cluster / pool: {p / d:.2f}x (target >= 1.0)")
    wall_msg = d * 2 / n
    cpu_msg = statistics.median(cpu) / n
    print(f"cost on the cluster: {cpu_msg * 1e3:.3f} CPU-ms per message "
          f"({cpu_msg * n / len(sources):.2f} CPU-s per mailbox of {n / len(sources):.0f} "
          f"messages); in wall time on this loaded machine {wall_msg * 1e3:.3f} worker-ms")
    for label, per in (("CPU", cpu_msg), ("wall here", wall_msg)):
        print(f"a billion messages in an 8-hour night at the {label} cost: about "
              f"{1e9 * per / NIGHT_S:.0f} single-core workers (estimate: the shared store "
              "keeping up)")


if __name__ == "__main__":
    main()
