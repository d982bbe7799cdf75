"""The opt-out list (GDPR art. 21): keyed hashes in a namespace of their own.

Why not the pseudonyms: a list of the objectors' pseudonyms labels their rows wherever the
pseudonym still appears (an earlier release, a copy). ``data/optouts.txt`` holds one line per
objector, ``o`` + the keyed hash of their person pseudonym in the ``optout`` namespace: only a
holder of the study key can tell whether a given person objected, and nothing in any other
table carries that value. Lines starting with ``#`` are comments; a line of an older study that
holds a person pseudonym is still honoured, and rewritten as a hash on the next change.

Applying an objection to what was already collected is ``intake/objection.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mailstudy.study import Study

LEGACY_PREFIX = "p"


@dataclass(frozen=True)
class OptOuts:
    """Who objected. ``person in optouts`` needs the study key (collection, intake); without
    it (the analyst's side), nobody tests positive: objections were applied to every table
    when they were recorded, so no opted-out pseudonym is left to filter."""

    hashes: frozenset[str] = frozenset()
    legacy: frozenset[str] = frozenset()  # person pseudonyms of an older list
    digest: Callable[[str], str] | None = field(default=None, compare=False)

    def __contains__(self, person: object) -> bool:
        if not isinstance(person, str):
            return False
        if person in self.legacy:
            return True
        return self.digest is not None and self.digest(person) in self.hashes

    def __len__(self) -> int:
        return len(self.hashes) + len(self.legacy)

    def filter(self, persons: Iterable[str]) -> set[str]:
        """The objectors among ``persons``."""
        return {p for p in persons if p in self}


def _lines(study: Study) -> list[str]:
    p = study.catalog.path("optouts")
    if not p.exists():
        return []
    return [w.strip() for w in p.read_text(encoding="utf-8").splitlines()
            if w.strip() and not w.lstrip().startswith("#")]


def optout_hasher(study: Study) -> Callable[[str], str]:
    """Person pseudonym -> opt-out hash (needs the key)."""
    ps = study.pseudonymiser()
    return lambda person: ps.digest("optout", person)


def load_optouts(study: Study) -> OptOuts:
    """The opt-outs of ``study``; membership can be tested when the key is present."""
    lines = _lines(study)
    hashes = frozenset(w for w in lines if not w.startswith(LEGACY_PREFIX))
    legacy = frozenset(w for w in lines if w.startswith(LEGACY_PREFIX))
    return OptOuts(hashes, legacy, optout_hasher(study) if study.has_key() else None)


def _save(study: Study, hashes: set[str]) -> None:
    dest = study.catalog.path("optouts")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.write_text("".join(f"{h}\n" for h in sorted(hashes)), encoding="utf-8")
    tmp.replace(dest)


def _recorded_and_given(study: Study, addresses: Iterable[str]
                        ) -> tuple[set[str], set[str], bool]:
    """(hashes recorded, hashes of ``addresses``, whether the file still holds pseudonyms of
    an older list and must be rewritten). Needs the study key."""
    ps, hasher = study.pseudonymiser(), optout_hasher(study)
    current = load_optouts(study)
    recorded = set(current.hashes) | {hasher(p) for p in current.legacy}
    given = {hasher(ps.person(study.normal_address(a))) for a in addresses}
    return recorded, given, bool(current.legacy)


def add_optouts(study: Study, addresses: Iterable[str]) -> tuple[int, int]:
    """Record opt-outs; returns (newly added, already present). Needs the study key."""
    recorded, wanted, legacy = _recorded_and_given(study, addresses)
    new = wanted - recorded
    if new or legacy:
        _save(study, recorded | new)
    return len(new), len(wanted) - len(new)


def remove_optouts(study: Study, addresses: Iterable[str]) -> int:
    """Withdraw objections (the person may be collected again); returns how many were
    withdrawn. What was deleted when they objected stays deleted."""
    recorded, given, legacy = _recorded_and_given(study, addresses)
    gone = given & recorded
    if gone or legacy:
        _save(study, recorded - gone)
    return len(gone)
