"""Writing the council to disk: each agent's Maildir++ mailbox (folder and flags from the
owner's behaviour) and the HR directory as a French Excel CSV export."""

from __future__ import annotations

import csv
import io
import os
import random
from pathlib import Path

from mailstudy.demo.council.calendar import Calendar
from mailstudy.demo.council.records import Agent, MailboxCopy, fold_ascii
from mailstudy.demo.council.render import Renderer
from mailstudy.demo.council.simulate import Simulation
from mailstudy.demo.council.tables import (
    ARCHIVE,
    DIRECTORY_HEADERS,
    DRAFTS,
    FILING_ROOT,
    HOST,
    PERSONAL,
    SENT,
    TOPICS,
    TRASH,
)
from mailstudy.demo.maildir import folder_dirname


def place_copy(rng: random.Random, a: Agent, c: MailboxCopy, cal: Calendar) -> tuple[str, str]:
    """Folder and Maildir flags of one copy, from the owner's behaviour."""
    b, m = a.params, c.msg
    if c.role == "sent":
        return SENT, "S"
    if c.role == "draft":
        return DRAFTS, "DS"
    if c.role == "personal":
        return PERSONAL, "S"
    bulk = m.kind in ("bulk", "robot", "auto")
    read_p = b.read_bulk_p if bulk else b.read_p * (0.8 if c.role == "cc" else 1.0)
    seen = c.answered or c.forwarded or rng.random() < read_p
    folder = ""
    if seen:
        u = rng.random()
        if u < b.file_p:
            if b.files_by_topic:
                sub = "Veille" if m.kind == "bulk" else TOPICS[m.topic][1]
                folder = f"{FILING_ROOT}.{sub}"
            else:
                folder = ARCHIVE
        elif u < b.file_p + b.trash_p * (2 if bulk else 1):
            folder = TRASH
    flags = ("F" if rng.random() < b.flag_p else "") + ("R" if c.answered else "") + \
        ("S" if seen else "")
    return folder, flags


def write_mailboxes(rng: random.Random, agents: list[Agent], sim: Simulation, cal: Calendar,
                    out: Path, domain: str, attachment_kb: int) -> int:
    rend = Renderer(rng, cal, attachment_kb)
    cache: dict[int, tuple[bytes, bytes]] = {}  # seq -> (headers, MIME part)
    n_files = 0
    new_after = cal.t_end - 48.0
    for a in agents:
        box = out / a.address
        made: set[str] = set()

        def ensure(folder: str, box: Path = box, made: set[str] = made) -> Path:
            path = box / folder_dirname(folder) if folder else box
            if folder not in made:
                for sub in ("cur", "new", "tmp"):
                    (path / sub).mkdir(parents=True, exist_ok=True)
                if folder:
                    (path / "maildirfolder").write_bytes(b"")
                made.add(folder)
            return path

        ensure("")
        ensure(SENT)
        ensure(TRASH)
        if a.params.files_by_topic:
            ensure(FILING_ROOT)
        for c in sorted(sim.boxes[a.idx], key=lambda c: (c.msg.t, c.msg.seq)):
            m = c.msg
            if m.seq not in cache:
                cache[m.seq] = (rend.headers(m, with_bcc=False).encode("ascii"), rend.mime(m))
            head, body = cache[m.seq]
            if c.role in ("sent", "draft"):
                # Only the sender's copy shows Bcc.
                data = (rend.headers(m, with_bcc=True).encode("ascii") if m.bcc else head) + body
            else:
                data = rend.received(m, domain).encode("ascii") + head + body
            folder, flags = place_copy(rng, a, c, cal)
            path = ensure(folder)
            epoch = int(cal.aware(m.t).timestamp())
            n_files += 1
            base = f"{epoch}.M{m.seq % 1000000}P{n_files}.{HOST}"
            if "S" not in flags and folder == "" and m.t >= new_after:
                fpath = path / "new" / base
            else:
                fpath = path / "cur" / f"{base}:2,{flags}"
            fpath.write_bytes(data)
            os.utime(fpath, (epoch, epoch))
    return n_files


def write_directory(path: Path, agents: list[Agent]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(DIRECTORY_HEADERS)
    # HR exports come sorted by name, not by hierarchy.
    for a in sorted(agents, key=lambda a: (fold_ascii(a.last), fold_ascii(a.first), a.idx)):
        mgr = agents[a.manager].address if a.manager is not None else ""
        fte = f"{a.fte:g}".replace(".", ",")  # French Excel writes a decimal comma
        w.writerow([a.last, a.first, a.address, a.title,
                    a.category, a.direction, a.service, ",".join(a.roles), mgr, fte])
    path.write_bytes(buf.getvalue().encode("cp1252"))
