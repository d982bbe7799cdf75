"""Benchmark: IMAP collection against a real Dovecot, on loopback and at 20 ms round trip.

Usage::

    python benchmarks/bench_imap.py [--agents 150] [--weeks 8] [--naive-sample 300] [--repeat 3]
    python benchmarks/bench_imap.py --one-folder [--agents 220] [--weeks 8] [--repeat 3]

Builds a synthetic council (>= 20,000 messages), loads every mailbox into a throw-away Dovecot
(mailstudy/demo/dovecot.py), then measures in the same run, over implicit TLS and a master user:

* ours: ``collect_imap`` end to end (FETCH, parsing, pseudonymised rows, Parquet commits), with
  1 and with 4 workers;
* the reference: plain imapclient fetching ENVELOPE+BODYSTRUCTURE+FLAGS+RFC822.SIZE+INTERNALDATE
  in batches of 1000 UIDs over one connection (fetch only: no rows are built);
* naive: one UID FETCH per message (same items), over a sample of messages, rate extrapolated
  to the whole corpus (said so in the output);

each directly and through a loopback proxy that delays every chunk by 10 ms each way (20 ms
per round trip). Dovecot's caches are warmed first, so every measured run reads warm caches.
Each configuration runs ``--repeat`` times, in rounds, and its median rate is reported with
the spread (this machine is shared and noisy); the proxy's own CPU time is shown, since it
shares the cores with the client and the server. Prints messages per second and the ratios
the issue asks for. Timings only, no assertions.

``--one-folder`` (issue 18): every message in ONE folder (the INBOX of one user), loopback
only; ours is the whole ``mailstudy collect imap`` process (interpreter start, imports, login,
fetch, rows, Parquet) with 2 and 4 workers, the reference is the plain imapclient loop timed
from login to last response. Target: ours >= 1.3x.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from imapclient import IMAPClient  # noqa: E402

from mailstudy.collect.imap import Account, Auth, Server, collect_imap  # noqa: E402
from mailstudy.demo.council import generate_council  # noqa: E402
from mailstudy.demo.dovecot import DovecotServer  # noqa: E402

REF_ITEMS = ["ENVELOPE", "BODYSTRUCTURE", "FLAGS", "RFC822.SIZE", "INTERNALDATE"]


# ---------------------------------------------------------------------------------------------
# a loopback proxy adding latency (in its own process, so it takes no GIL from the client)


def serve_mailboxes(srv: Any, boxes: list[Path]) -> list[Account]:
    """One Dovecot user per Maildir (u0, u1...), each mailbox owned by the folder's name and
    logged into through the master user: the accounts, in the order of ``boxes``."""
    accounts = []
    for i, box in enumerate(boxes):
        srv.add_user(f"u{i}", "pw")
        srv.load_maildir(f"u{i}", box)
        accounts.append(Account(box.name, srv.login_as(f"u{i}")))
    return accounts


def _pipe(src: socket.socket, dst: socket.socket, delay: float) -> None:
    """Forward src -> dst, each chunk delivered ``delay`` seconds after it arrived."""
    q: queue.Queue[tuple[float, bytes]] = queue.Queue()

    def reader() -> None:
        try:
            while True:
                data = src.recv(262144)
                q.put((time.monotonic() + delay, data))
                if not data:
                    return
        except OSError:
            q.put((time.monotonic(), b""))

    threading.Thread(target=reader, daemon=True).start()
    try:
        while True:
            due, data = q.get()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _proxy_main(listen: socket.socket, target: tuple[str, int], one_way: float) -> None:
    while True:
        client, _ = listen.accept()
        up = socket.create_connection(target)
        for s in (client, up):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=_pipe, args=(client, up, one_way), daemon=True).start()
        threading.Thread(target=_pipe, args=(up, client, one_way), daemon=True).start()


def start_proxy(target: tuple[str, int], rtt: float):  # -> (port, process)
    listen = socket.socket()
    listen.bind(("127.0.0.1", 0))
    listen.listen(64)
    port = listen.getsockname()[1]
    proc = get_context("fork").Process(target=_proxy_main, args=(listen, target, rtt / 2),
                                       daemon=True)
    proc.start()
    listen.close()
    return port, proc


# ---------------------------------------------------------------------------------------------
# the three clients


def _client(port: int, ca: Path, login: str, password: str) -> IMAPClient:
    c = IMAPClient("127.0.0.1", port, ssl_context=ssl.create_default_context(cafile=str(ca)),
                   timeout=120)
    c.normalise_times = False
    c.login(login, password)
    return c


def _folders(c: IMAPClient) -> list[str]:
    return [name for flags, _d, name in c.list_folders() if b"\\Noselect" not in flags]


def reference(port: int, ca: Path, logins: list[str], password: str) -> int:
    """Plain imapclient, batches of 1000 UIDs, one connection per mailbox in turn."""
    n = 0
    for login in logins:
        c = _client(port, ca, login, password)
        for f in _folders(c):
            c.select_folder(f, readonly=True)
            uids = c.search(["ALL"])
            for i in range(0, len(uids), 1000):
                n += len(c.fetch(uids[i:i + 1000], REF_ITEMS))
        c.logout()
    return n


def naive(port: int, ca: Path, logins: list[str], password: str, sample: int) -> int:
    """One UID FETCH per message, until ``sample`` messages were fetched."""
    n = 0
    for login in logins:
        c = _client(port, ca, login, password)
        for f in _folders(c):
            c.select_folder(f, readonly=True)
            for uid in c.search(["ALL"]):
                c.fetch([uid], REF_ITEMS)
                n += 1
                if n >= sample:
                    c.logout()
                    return n
        c.logout()
    return n


def ours(port: int, ca: Path, accounts: list[Account], password: str, workers: int,
         tmp: Path, key: bytes) -> int:
    from studykit import make_study

    d = Path(tempfile.mkdtemp(dir=tmp))
    study, _ = make_study(d)
    study.key_path.write_bytes(key)
    s = collect_imap(study, Server("127.0.0.1", port, ca_file=str(ca)), accounts,
                     Auth(password=password), workers=workers)
    if s.failures:
        raise SystemExit(f"collection failed: {[m.error for m in s.failures]}")
    n = sum(m.messages_written for m in s.mailboxes)
    shutil.rmtree(d)
    return n


def ours_process(port: int, ca: Path, account: Account, password: str, workers: int,
                 tmp: Path, key: bytes) -> int:
    """The whole ``mailstudy collect imap`` command, in its own process."""
    import subprocess

    from studykit import make_study

    d = Path(tempfile.mkdtemp(dir=tmp))
    study, _ = make_study(d)
    study.key_path.write_bytes(key)
    cmd = [sys.executable, "-m", "mailstudy", "collect", "imap", "--host", "127.0.0.1",
           "--port", str(port), "--ca-file", str(ca), "--user", account.login, "--mailbox",
           account.address, "--password-env", "BENCH_IMAP_PW", "--workers", str(workers),
           "--study", str(study.root)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                       env={**os.environ, "BENCH_IMAP_PW": password})
    if r.returncode != 0:
        raise SystemExit(f"collection failed: {r.stderr[-2000:]}")
    from mailstudy.store import read_messages

    n = len(read_messages(study.messages_dir, columns=["item_id"]))
    shutil.rmtree(d)
    return n


def reference_from_login(port: int, ca: Path, login: str, password: str) -> tuple[int, float]:
    """The plain imapclient loop over one folder, timed from login to the last response."""
    c = IMAPClient("127.0.0.1", port, ssl_context=ssl.create_default_context(cafile=str(ca)),
                   timeout=120)
    c.normalise_times = False
    t0 = time.perf_counter()
    c.login(login, password)
    c.select_folder("INBOX", readonly=True)
    uids = c.search(["ALL"])
    n = 0
    for i in range(0, len(uids), 1000):
        n += len(c.fetch(uids[i:i + 1000], REF_ITEMS))
    dt = time.perf_counter() - t0
    c.logout()
    return n, dt


def one_folder(args: argparse.Namespace, tmp: Path) -> None:
    """Every message of the council in one INBOX; ours (whole process) vs the reference."""
    import statistics

    council = generate_council(tmp / "council", n_agents=args.agents, weeks=args.weeks,
                               seed=args.seed, domain="region.test")
    boxes = sorted(council.mailboxes.iterdir())
    flat = tmp / "flat"
    for sub in ("cur", "new", "tmp"):
        (flat / sub).mkdir(parents=True)
    n = 0
    for i, box in enumerate(boxes):
        for f in box.rglob("*"):
            if f.is_file() and f.parent.name in ("cur", "new"):
                base, _, flags = f.name.partition(":")
                os.link(f, flat / "cur" / (f"{base}.B{i}" + (f":{flags}" if flags else "")))
                n += 1
    srv = DovecotServer.create()
    try:
        srv.add_user("big", "pw")
        srv.load_maildir("big", flat)
        srv.start()
        pw, login = srv.master[1], srv.login_as("big")
        account = Account(boxes[0].name, login)
        key = os.urandom(32)
        got, dt = reference_from_login(srv.imaps_port, srv.ca_file, login, pw)
        print(f"one folder: {got} messages ({n} files); warm-up pass {dt:.1f} s; "
              f"{os.cpu_count()} cores", flush=True)
        runs: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            got, dt = reference_from_login(srv.imaps_port, srv.ca_file, login, pw)
            runs.setdefault("reference", []).append(got / dt)
            line = f"  round: reference {got / dt:.0f} msg/s"
            for w in (2, 4):
                m, dt = timed(ours_process, srv.imaps_port, srv.ca_file, account, pw, w,
                              tmp, key)
                if m != got:
                    print(f"  warning: ours wrote {m} rows for {got} messages")
                runs.setdefault(f"ours, {w} workers", []).append(m / dt)
                line += f", ours {w} workers {m / dt:.0f} msg/s"
            print(line, flush=True)
        ref = statistics.median(runs["reference"])
        for name, rates in runs.items():
            med = statistics.median(rates)
            print(f"{name:<16} {med:8.0f} msg/s median (of {len(rates)}: {min(rates):.0f}.."
                  f"{max(rates):.0f}); vs reference {med / ref:.2f}x [>= 1.3]")
    finally:
        srv.cleanup()


def _proc_cpu(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` (the latency proxy: it shares the cores
    with the client and Dovecot, so the 20 ms figures say how much it took)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(fn, *args) -> tuple[int, float]:
    """(messages, wall seconds)."""
    t0 = time.perf_counter()
    n = fn(*args)
    return n, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agents", type=int, default=150)
    ap.add_argument("--weeks", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--naive-sample", type=int, default=300)
    ap.add_argument("--rtt-ms", type=float, default=20.0)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each configuration; the median is reported")
    ap.add_argument("--one-folder", action="store_true",
                    help="one folder holding every message; ours as a whole process")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-imap-", dir="/tmp"))
    if args.one_folder:
        try:
            one_folder(args, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    srv = None
    proxies = []
    try:
        t0 = time.perf_counter()
        council = generate_council(tmp / "council", n_agents=args.agents, weeks=args.weeks,
                                   seed=args.seed, domain="region.test")
        print(f"synthetic council: {council.n_messages} messages in "
              f"{len(council.addresses)} mailboxes ({time.perf_counter() - t0:.1f} s)")
        srv = DovecotServer.create()
        boxes = sorted(council.mailboxes.iterdir())
        # A: one large mailbox holding every message (all agents' folders merged)
        srv.add_user("big", "pw")
        for box in boxes:
            srv.load_maildir("big", box)
        big = [Account(boxes[0].name, srv.login_as("big"))]
        # B: every agent's own mailbox
        accounts = serve_mailboxes(srv, boxes)
        srv.start()
        pw = srv.master[1]
        key = os.urandom(32)
        n_total, dt_warm = timed(reference, srv.imaps_port, srv.ca_file,
                                 [a.login for a in big + accounts], pw)
        print(f"warm-up (reference pass over A and B, fills Dovecot's caches): {n_total} "
              f"messages, {dt_warm:.1f} s")
        port20, proc = start_proxy((srv.host, srv.imaps_port), args.rtt_ms / 1000)
        proxies.append(proc)
        lo, hi = "loopback", f"{args.rtt_ms:g} ms"

        def run(label: str, accs: list[Account], plan: list[str]) -> dict:
            """Every configuration ``--repeat`` times, in rounds (so that a slow spell of
            this shared machine hits all of them alike); the median rate is kept. The
            reference at 20 ms over many mailboxes is slow and runs once."""
            logins = [a.login for a in accs]
            runs: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
            for rep in range(args.repeat):
                for net, port in ((lo, srv.imaps_port), (hi, port20)):
                    for name in plan:
                        if rep and (name.startswith("naive")
                                    or (name == "reference" and net == hi and len(accs) > 1)):
                            continue
                        if name == "reference":
                            fn, fargs = reference, (port, srv.ca_file, logins, pw)
                        elif name.startswith("naive"):
                            fn, fargs = naive, (port, srv.ca_file, logins, pw,
                                                args.naive_sample * (10 if net == lo else 1))
                        else:
                            w = int(name.split(",")[1].split()[0])
                            fn, fargs = ours, (port, srv.ca_file, accs, pw, w, tmp, key)
                        p0 = _proc_cpu(proc.pid)
                        n, dt = timed(fn, *fargs)
                        runs.setdefault((net, name), []).append(
                            (n, dt, _proc_cpu(proc.pid) - p0))
            res: dict[tuple[str, ...], float] = {}
            for (net, name), got in runs.items():
                n, dt, pcpu = sorted(got, key=lambda r: r[0] / r[1])[len(got) // 2]
                rate = n / dt
                res[(net, name)] = rate
                extra = (f"; a sample: {n_total // 2 / rate:.0f} s extrapolated for "
                         f"{n_total // 2} messages" if name.startswith("naive") else "")
                spread = (f" (of {len(got)}: {min(g[0] / g[1] for g in got):.0f}.."
                          f"{max(g[0] / g[1] for g in got):.0f})" if len(got) > 1 else "")
                proxy = f"; proxy CPU {pcpu:.1f} s" if net == hi else ""
                print(f"{label} | {net:>9} | {name:<16} | {n:>6} msgs | {dt:7.2f} s | "
                      f"{rate:8.0f} msg/s median{spread}{proxy}{extra}", flush=True)
            return res

        print("\nA: one mailbox, all messages")
        a = run("A", big, ["reference", "ours, 1 worker", "ours, 4 workers", "naive (sample)"])
        print("\nB: one mailbox per agent")
        b = run("B", accounts, ["reference", "ours, 1 worker", "ours, 4 workers"])
        print("\nratios (targets from the issue in brackets):")
        for label, r in (("A", a), ("B", b)):
            for o in ("ours, 1 worker", "ours, 4 workers"):
                line = (f"  {label} {o}: vs reference on loopback "
                        f"{r[(lo, o)] / r[(lo, 'reference')]:.2f}x [>= 1.3]; "
                        f"{hi} / loopback {r[(hi, o)] / r[(lo, o)]:.2f} [>= 0.8]")
                if (hi, "naive (sample)") in r:
                    line += f"; vs naive at {hi} {r[(hi, o)] / r[(hi, 'naive (sample)')]:.0f}x"
                    line += " [>= 100]"
                print(line)
            print(f"  {label} reference {hi} / loopback: "
                  f"{r[(hi, 'reference')] / r[(lo, 'reference')]:.2f}; 4 workers / 1 worker: "
                  f"loopback {r[(lo, 'ours, 4 workers')] / r[(lo, 'ours, 1 worker')]:.2f}x, "
                  f"{hi} {r[(hi, 'ours, 4 workers')] / r[(hi, 'ours, 1 worker')]:.2f}x "
                  f"({os.cpu_count()} cores)")
    finally:
        for p in proxies:
            p.kill()
        if srv is not None:
            srv.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
