"""Opt-outs (GDPR art. 21): stored only as keyed pseudonyms, honoured at every stage.

An opted-out person's mailbox is never read, their address in other people's mail becomes the
anonymous marker ``optout``, and later stages drop their pseudonym from every table. The file
``data/optouts.txt`` holds one person pseudonym per line (no address ever).
"""

from __future__ import annotations

from collections.abc import Iterable

from mailstudy.study import Study

OPTOUT_FILE = "optouts.txt"


def load_optouts(study: Study) -> set[str]:
    p = study.data / OPTOUT_FILE
    if not p.exists():
        return set()
    return {line.strip() for line in p.read_text().splitlines() if line.strip()}


def add_optouts(study: Study, addresses: Iterable[str]) -> tuple[int, int]:
    """Record opt-outs; returns (newly added, already present). Needs the study key."""
    ps = study.pseudonymiser()
    current = load_optouts(study)
    wanted = {ps.person(a) for a in addresses}
    new = wanted - current
    if new:
        study.data.mkdir(parents=True, exist_ok=True)
        tmp = study.data / (OPTOUT_FILE + ".tmp")
        tmp.write_text("".join(f"{p}\n" for p in sorted(current | new)))
        tmp.replace(study.data / OPTOUT_FILE)
    return len(new), len(wanted) - len(new)
