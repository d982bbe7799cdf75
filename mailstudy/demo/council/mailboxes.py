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


def place_copy(rng: random.Random, agent: Agent, box_copy: MailboxCopy, cal: Calendar
               ) -> tuple[str, str]:
    """Folder and Maildir flags of one copy, from the owner's behaviour."""
    style, msg = agent.params, box_copy.msg
    if box_copy.role == "sent":
        return SENT, "S"
    if box_copy.role == "draft":
        return DRAFTS, "DS"
    if box_copy.role == "personal":
        return PERSONAL, "S"
    bulk = msg.kind in ("bulk", "robot", "auto")
    read_p = style.read_bulk_p if bulk else style.read_p * (0.8 if box_copy.role == "cc" else 1.0)
    seen = box_copy.answered or box_copy.forwarded or rng.random() < read_p
    folder = ""
    if seen:
        draw = rng.random()
        if draw < style.file_p:
            if style.files_by_topic:
                sub = "Veille" if msg.kind == "bulk" else TOPICS[msg.topic][1]
                folder = f"{FILING_ROOT}.{sub}"
            else:
                folder = ARCHIVE
        elif draw < style.file_p + style.trash_p * (2 if bulk else 1):
            folder = TRASH
    flags = ("F" if rng.random() < style.flag_p else "") + ("R" if box_copy.answered else "") + \
        ("S" if seen else "")
    return folder, flags


def write_mailboxes(rng: random.Random, agents: list[Agent], sim: Simulation, cal: Calendar,
                    out: Path, domain: str, attachment_kb: int) -> int:
    rend = Renderer(rng, cal, attachment_kb)
    cache: dict[int, tuple[bytes, bytes]] = {}  # seq -> (headers, MIME part)
    n_files = 0
    new_after = cal.t_end - 48.0
    for agent in agents:
        box = out / agent.address
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
        if agent.params.files_by_topic:
            ensure(FILING_ROOT)
        for box_copy in sorted(sim.boxes[agent.idx], key=lambda held: (held.msg.t, held.msg.seq)):
            msg = box_copy.msg
            if msg.seq not in cache:
                cache[msg.seq] = (rend.headers(msg, with_bcc=False).encode("ascii"), rend.mime(msg))
            head, body = cache[msg.seq]
            if box_copy.role in ("sent", "draft"):
                # Only the sender's copy shows Bcc.
                data = (rend.headers(msg, with_bcc=True).encode("ascii") if msg.bcc
                        else head) + body
            else:
                data = rend.received(msg, domain).encode("ascii") + head + body
            folder, flags = place_copy(rng, agent, box_copy, cal)
            path = ensure(folder)
            epoch = int(cal.aware(msg.t).timestamp())
            n_files += 1
            base = f"{epoch}.M{msg.seq % 1000000}P{n_files}.{HOST}"
            if "S" not in flags and folder == "" and msg.t >= new_after:
                fpath = path / "new" / base
            else:
                fpath = path / "cur" / f"{base}:2,{flags}"
            fpath.write_bytes(data)
            os.utime(fpath, (epoch, epoch))
    return n_files


def write_directory(path: Path, agents: list[Agent]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(DIRECTORY_HEADERS)
    # HR exports come sorted by name, not by hierarchy.
    for agent in sorted(agents, key=lambda person: (fold_ascii(person.last),
                                                    fold_ascii(person.first), person.idx)):
        mgr = agents[agent.manager].address if agent.manager is not None else ""
        fte = f"{agent.fte:g}".replace(".", ",")  # French Excel writes a decimal comma
        writer.writerow([agent.last, agent.first, agent.address, agent.title,
                         agent.category, agent.direction, agent.service,
                         ",".join(agent.roles), mgr, fte])
    path.write_bytes(buf.getvalue().encode("cp1252"))
