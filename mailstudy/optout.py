"""Opt-outs (GDPR art. 21): stored only as keyed pseudonyms, honoured at every stage.

An opted-out person's mailbox is never read, their address in other people's mail becomes the
anonymous marker ``optout``, and later stages drop their pseudonym from every table. The file
``data/optouts.txt`` holds one person pseudonym per line (no address ever).
"""

from __future__ import annotations

from collections.abc import Iterable

from mailstudy.study import Study


def load_optouts(study: Study) -> set[str]:
    """Person pseudonyms of people who opted out (the file may not exist; ``#`` lines are
    comments)."""
    p = study.catalog.path("optouts")
    if not p.exists():
        return set()
    return {w.strip() for w in p.read_text(encoding="utf-8").splitlines()
            if w.strip() and not w.lstrip().startswith("#")}


def add_optouts(study: Study, addresses: Iterable[str]) -> tuple[int, int]:
    """Record opt-outs; returns (newly added, already present). Needs the study key."""
    ps = study.pseudonymiser()
    current = load_optouts(study)
    wanted = {ps.person(a) for a in addresses}
    new = wanted - current
    if new:
        dest = study.catalog.path("optouts")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        tmp.write_text("".join(f"{p}\n" for p in sorted(current | new)), encoding="utf-8")
        tmp.replace(dest)
    return len(new), len(wanted) - len(new)
