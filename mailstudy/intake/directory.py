"""HR directory import: recognise the columns, pseudonymise, seal names, map titles to levels.

Why here and nowhere else: with ``collect``, this is the only stage that sees raw identities.
The file is read into memory, each address is replaced by its pseudonym under the study key,
the address and "Prénom Nom" are sealed for the key holder, and only the pseudonymised table
is written (``data/directory.parquet``). The raw file is never copied; problems are reported
by line number and reason, never by address.

Hierarchical levels come from an ordered *ladder*: each level has regular expressions matched
against the title or grade, accents and case ignored, top level first (so "directeur général
adjoint" is a DGA before it is a "directeur"). The default ladder fits a French regional
council; ``[directory.ladder]`` in study.toml replaces it (``"level" = ["regex", ...]``, in
order, top first).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mailstudy import schema
from mailstudy.intake.tables import header_hint, read_rows
from mailstudy.optout import load_optouts
from mailstudy.study import Study, StudyError
from mailstudy.text import UNKNOWN, fold_words, in_domains, is_address

#: Field -> header spellings recognised without mapping (compared after ``fold_words``).
HEADERS: dict[str, tuple[str, ...]] = {
    "email": ("email", "e mail", "mail", "courriel", "adresse", "adresse mail",
              "adresse email", "adresse e mail", "adresse electronique", "address",
              "email address", "mel", "messagerie"),
    "title": ("title", "job title", "intitule de poste", "intitule du poste", "intitule",
              "fonction", "poste", "grade", "emploi"),
    "category": ("category", "categorie", "cat", "categorie statutaire"),
    "direction": ("direction", "department", "departement", "pole"),
    "service": ("service", "unit", "unite", "team", "equipe"),
    "roles": ("roles", "role"),
    "manager": ("manager", "responsable", "n 1", "n+1", "superieur", "superieur hierarchique",
                "manager email", "courriel responsable", "email responsable"),
    "fte": ("fte", "quotite", "quotite de travail", "temps de travail", "taux d activite",
            "working time"),
    "first_name": ("prenom", "first name", "firstname", "given name"),
    "last_name": ("nom", "nom de famille", "last name", "lastname", "surname", "family name"),
    "name": ("name", "nom complet", "full name", "nom prenom", "prenom nom", "display name"),
}
FIELDS = tuple(HEADERS)
REQUIRED = ("email",)

#: Default ladder of a French regional council, top first: level -> regexes (normalised text).
DEFAULT_LADDER: dict[str, list[str]] = {
    "DGS": [r"\bdgs\b", r"\bdirect\w* general\w* des services\b"],
    "DGA": [r"\bdga\b", r"\bdirect\w* general\w* adjoint\w*", r"\bdirect\w* general\w*"],
    "directeur": [r"\bdirect(eur|rice)\w*"],
    "chef de service": [r"\bchef\w* de service\b", r"\bresponsable de service\b",
                        r"\bchef\w* d unite\b", r"\bchef\w* de bureau\b"],
    "chef de projet / chargé de mission": [r"\bchef\w* de projet\w*", r"\bcharge\w* de mission",
                                           r"\bcharge\w* d etudes?\b", r"\bcharge\w* de\b",
                                           r"\bresponsable\b", r"\bingenieur\w*"],
    "gestionnaire / assistant": [r"\bgestionnaire\w*", r"\bassistant\w*", r"\bsecretaire\w*",
                                 r"\binstructeur\w*", r"\bredacteur\w*", r"\btechnicien\w*"],
    "agent": [r"\bagent\w*", r"\badjoint\w* (administratif|technique)\w*", r"\bemploye\w*",
              r"\boperat\w*", r"\bhotes\w*", r"\bhote d accueil\b"],
}

class DirectoryError(StudyError):
    """The directory file cannot be imported as is; the message says what to fix."""


@dataclass
class Ladder:
    """Ordered levels and their compiled patterns; rank 0 is the top."""

    levels: list[str]
    patterns: list[list[re.Pattern[str]]]

    @classmethod
    def from_config(cls, ladder: Mapping[str, Any] | None) -> Ladder:
        spec = dict(ladder) if ladder else DEFAULT_LADDER
        levels, pats = [], []
        for level, regexes in spec.items():
            if isinstance(regexes, str):
                regexes = [regexes]
            try:
                pats.append([re.compile(r) for r in regexes])
            except re.error as exc:
                raise DirectoryError("[directory.ladder] {level!r}: bad pattern ({exc})",
                                     level=level, exc=exc) from exc
            levels.append(level)
        if not levels:
            raise DirectoryError("[directory.ladder] is empty")
        return cls(levels, pats)

    def match(self, title: str | None) -> tuple[str, int]:
        t = fold_words(title)
        if t:
            for rank, (level, pats) in enumerate(zip(self.levels, self.patterns, strict=True)):
                if any(p.search(t) for p in pats):
                    return level, rank
        return UNKNOWN, -1


@dataclass
class ImportSummary:
    """What the import did, in counts and line numbers only (never an address)."""

    rows: int = 0
    imported: int = 0
    rejected: dict[str, list[int]] = field(default_factory=dict)
    opted_out: int = 0
    levels: dict[str, int] = field(default_factory=dict)
    unmatched_titles: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    sealed: int = 0

    def reject(self, reason: str, line: int) -> None:
        self.rejected.setdefault(reason, []).append(line)

    @property
    def n_rejected(self) -> int:
        return sum(len(v) for v in self.rejected.values())


# -- column recognition ----------------------------------------------------------------------
def match_columns(header: list[str], overrides: Mapping[str, str] | None = None) -> dict[str, int]:
    """Field -> column index. Overrides (field -> header) win; then known spellings."""
    normed = [fold_words(h) for h in header]
    out: dict[str, int] = {}
    for fld, hdr in (overrides or {}).items():
        if fld not in FIELDS:
            raise DirectoryError("unknown directory field {fld!r}; fields are: "
                                 "{fields}", fld=fld, fields=", ".join(FIELDS))
        target = fold_words(hdr)
        if target not in normed:
            raise DirectoryError("the column mapped to {fld} is not in the file "
                                 "({header_hint})", fld=fld, header_hint=header_hint(header))
        out[fld] = normed.index(target)
    used = set(out.values())
    for fld, spellings in HEADERS.items():
        if fld in out:
            continue
        for i, h in enumerate(normed):
            if i not in used and h in spellings:
                out[fld] = i
                used.add(i)
                break
    for fld in REQUIRED:
        if fld not in out:
            raise DirectoryError(
                "no {fld} column found; expected a header among: "
                "{headers} (accents and case ignored), or map one in "
                "[directory.columns] of study.toml or the columns parameter "
                "({header_hint})",
                fld=fld, headers=", ".join(HEADERS[fld]), header_hint=header_hint(header))
    return out


# -- field parsing ---------------------------------------------------------------------------
def parse_fte(text: str) -> float | None:
    """'80 %', '0,8', '0.8', '80' -> 0.8; nonsense -> None."""
    t = text.strip().replace("%", "").replace(",", ".").strip()
    if not t:
        return None
    try:
        v = float(t)
    except ValueError:
        return None
    if v > 1.0:
        v /= 100.0
    return v if 0.0 < v <= 1.0 else None


def parse_roles(text: str) -> list[str]:
    parts = re.split(r"[,;|/]+", text or "")
    return [fold_words(p).replace(" ", "_") for p in parts if fold_words(p)]


# -- the stage -------------------------------------------------------------------------------
def import_directory(study: Study, path: Path | str,
                     columns: Mapping[str, str] | None = None) -> tuple[pd.DataFrame,
                                                                         ImportSummary]:
    """Import an HR directory file into ``data/directory.parquet``; return it and a summary.

    ``columns`` maps fields to headers and overrides ``[directory.columns]`` in study.toml.
    Fails before writing anything when the key holder's public key is missing (names could
    not be sealed) or when the key is absent.
    """
    cfg = study.section("directory")
    mapping = {**(cfg.get("columns") or {}), **(columns or {})}
    if study.keyholder_recipient() is None:
        raise DirectoryError("no key holder public key in the study (secrets/keyholder.pub): "
                             "names cannot be sealed; give the key holder's public key to "
                             "the study (mailstudy init does) before importing the directory")
    header, rows = read_rows(Path(path))
    ladder = Ladder.from_config(cfg.get("ladder"))
    reader = _RowReader(study, match_columns(header, mapping), ladder)
    summary = ImportSummary(rows=len(rows),
                            columns={f: header[i] for f, i in sorted(reader.idx.items())})
    records: list[dict[str, Any]] = []
    identities: list[tuple[str, str, str, str, str]] = []
    for line, rec in rows:
        person = reader.accept(rec, line, summary)
        if person is None:
            continue
        identities.append(reader.identity(person, rec))
        records.append(reader.record(person, rec))
    df = _directory_frame(records)
    summary.imported = len(df)
    summary.levels = dict(Counter(df["level"]).most_common())
    summary.unmatched_titles = int((df["level"] == UNKNOWN).sum())
    # Seal before the pseudonymised rows exist, so no row points at an unsealed identity.
    escrow = study.escrow()
    for person, addr, name, first, last in identities:
        escrow.add(person, "person", {"address": addr, "name": name, "first_name": first,
                                      "last_name": last}, authoritative=True)
    summary.sealed = escrow.flush()
    write_directory(study, df)
    return df, summary


class _RowReader:
    """Turns one directory line into a pseudonymised record; the raw address stays in memory.

    Holds what every line needs (the column indexes, the pseudonymiser, the opt-outs, the
    ladder) so the import loop reads as the policy it applies: which lines are refused and why.
    """

    def __init__(self, study: Study, idx: dict[str, int], ladder: Ladder) -> None:
        self.idx = idx
        self.ladder = ladder
        self.ps = study.pseudonymiser()
        self.normal = study.normal_address
        self.optouts = load_optouts(study)
        self.domains = study.normal_domains
        self.seen: dict[str, int] = {}
        self.address: dict[str, str] = {}

    def cell(self, rec: list[str], fld: str) -> str:
        i = self.idx.get(fld)
        return rec[i].strip() if i is not None and i < len(rec) else ""

    def accept(self, rec: list[str], line: int, summary: ImportSummary) -> str | None:
        """The line's person pseudonym, or None after counting why the line is refused.

        Duplicates keep the first line (the policy of every HR-side table).
        """
        raw = self.cell(rec, "email")
        addr = self.ps.canonical_address(self.normal(raw)) if raw else ""
        reason = ("missing address" if not raw else
                  "invalid address" if not is_address(addr) else
                  "address outside the organisation's domains"
                  if not in_domains(addr, self.domains) else
                  f"duplicate address (first on line {self.seen[addr]})"
                  if addr in self.seen else None)
        if reason:
            summary.reject(reason, line)
            return None
        self.seen[addr] = line
        person = self.ps.person(addr)
        if person in self.optouts:
            summary.opted_out += 1
            return None
        self.address[person] = addr
        return person

    def identity(self, person: str, rec: list[str]) -> tuple[str, str, str, str, str]:
        """What the escrow seals for the key holder: address, full name, first and last."""
        first, last = self.cell(rec, "first_name"), self.cell(rec, "last_name")
        name = self.cell(rec, "name") or " ".join(x for x in (first, last) if x)
        return person, self.address[person], name, first, last

    def record(self, person: str, rec: list[str]) -> dict[str, Any]:
        title = self.cell(rec, "title") or None
        level, rank = self.ladder.match(title)
        return {
            "person": person, "title": title,
            "category": self.cell(rec, "category").upper() or None, "level": level,
            "level_rank": rank, "direction": self.cell(rec, "direction") or None,
            "service": self.cell(rec, "service") or None,
            "roles": parse_roles(self.cell(rec, "roles")), "manager": self.manager(rec),
            "fte": parse_fte(self.cell(rec, "fte")),
        }

    def manager(self, rec: list[str]) -> str | None:
        raw = self.cell(rec, "manager")
        if not raw:
            return None
        addr = self.ps.canonical_address(self.normal(raw))
        mgr = self.ps.person(addr) if is_address(addr) else None
        return None if mgr in self.optouts else mgr  # an objector is nobody's manager here


def _directory_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(records, columns=schema.names("directory"))
    df["level_rank"] = df["level_rank"].astype("int16")
    df["fte"] = df["fte"].astype("float64")
    schema.check(df, "directory", extra_ok=False)
    return df


def write_directory(study: Study, df: pd.DataFrame) -> Path:
    return study.catalog.write_table("directory", df)


def load_directory(study: Study) -> pd.DataFrame:
    """The imported directory, or an empty table of the right columns when none was imported."""
    return study.catalog.read_or_empty("directory")
