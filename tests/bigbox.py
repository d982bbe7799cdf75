"""Test helper: one large Maildir (one owner, several folders) with repeated copies that fall in
different units, and a file that is no message."""

from __future__ import annotations

import random
from pathlib import Path

from studykit import DOMAIN, message

OWNER = f"agnes.grand@{DOMAIN}"


def big_maildir(root: Path, n: int = 1200, seed: int = 5) -> Path:
    """``root/<owner>``: ``n`` messages in INBOX, Sent and Archives/2025, seeded."""
    rng = random.Random(seed)
    box = root / OWNER
    folders = {"": 0.7, ".Sent": 0.2, ".Archives.2025": 0.1}
    for f in folders:
        for sub in ("cur", "new", "tmp"):
            (box / f / sub if f else box / sub).mkdir(parents=True, exist_ok=True)
    people = [f"agent.{i:03d}@{DOMAIN}" for i in range(40)] + ["x@partenaire.test"]
    kept: list[tuple[str, bytes]] = []
    for i in range(n):
        folder = rng.choices(list(folders), weights=list(folders.values()))[0]
        other = rng.choice(people)
        sender, to = (OWNER, other) if folder == ".Sent" else (other, OWNER)
        day, hour = 1 + i % 28, 7 + rng.randrange(12)
        data = message(sender=sender, to=to, subject=f"Dossier {rng.randrange(500)}",
                       date=f"Mon, {day:02d} Sep 2025 {hour:02d}:{i % 60:02d}:00 +0200",
                       message_id=f"<b{i}@{DOMAIN}>", body="texte\n" * rng.randrange(1, 40))
        name = f"{1757000000 + i}.M{i}P1.host:2,{'S' if rng.random() < 0.8 else ''}"
        (box / folder / "cur" / name if folder else box / "cur" / name).write_bytes(data)
        if folder == "" and i % 97 == 0:
            kept.append((name, data))
    # copies of a header block in one folder, far apart in listing order: other units
    for j, (_name, data) in enumerate(kept):
        (box / "cur" / f"{1799000000 + j}.C{j}P1.host:2,S").write_bytes(data)
    (box / "cur" / f"{1799999999}.Z.host:2,").write_bytes(b"\x00\xff not a message")
    return box
