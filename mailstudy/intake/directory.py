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
                raise DirectoryError(f"[directory.ladder] {level!r}: bad pattern ({exc})") from exc
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
            raise DirectoryError(f"unknown directory field {fld!r}; fields are: "
                                 f"{', '.join(FIELDS)}")
        target = fold_words(hdr)
        if target not in normed:
            raise DirectoryError(f"the column mapped to {fld} is not in the file "
                                 f"({header_hint(header)})")
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
                f"no {fld} column found; expected a header among: "
                f"{', '.join(HEADERS[fld])} (accents and case ignored), or map one with "
                f"--column {fld}=HEADER or [directory.columns] in study.toml "
                f"({header_hint(header)})")
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
    ladder = Ladder.from_config(cfg.get("ladder"))
    if study.keyholder_recipient() is None:
        raise DirectoryError("no key holder public key in the study (secrets/keyholder.pub): "
                             "names cannot be sealed; add it with 'mailstudy init --keyholder' "
                             "before importing the directory")
    ps = study.pseudonymiser()
    header, rows = read_rows(Path(path))
    idx = match_columns(header, mapping)
    summary = ImportSummary(rows=len(rows),
                            columns={f: header[i] for f, i in sorted(idx.items())})
    optouts = load_optouts(study)
    domains = study.domains

    def cell(rec: list[str], fld: str) -> str:
        i = idx.get(fld)
        return rec[i].strip() if i is not None and i < len(rec) else ""

    seen: dict[str, int] = {}
    records: list[dict[str, Any]] = []
    identities: list[tuple[str, str, str, str, str]] = []
    for line, rec in rows:
        raw = cell(rec, "email")
        if not raw:
            summary.reject("missing address", line)
            continue
        addr = ps.canonical_address(raw)
        if not is_address(addr):
            summary.reject("invalid address", line)
            continue
        if not in_domains(addr, domains):
            summary.reject("address outside the organisation's domains", line)
            continue
        if addr in seen:
            summary.reject(f"duplicate address (first on line {seen[addr]})", line)
            continue
        seen[addr] = line
        person = ps.person(addr)
        if person in optouts:
            summary.opted_out += 1
            continue
        name = cell(rec, "name") or " ".join(
            x for x in (cell(rec, "first_name"), cell(rec, "last_name")) if x)
        identities.append((person, addr, name, cell(rec, "first_name"), cell(rec, "last_name")))
        title = cell(rec, "title") or None
        level, rank = ladder.match(title)
        mgr_raw = cell(rec, "manager")
        mgr = None
        if mgr_raw:
            m = ps.canonical_address(mgr_raw)
            mgr = ps.person(m) if is_address(m) else None
            mgr = None if mgr in optouts else mgr  # an objector is nobody's manager here
        cat = cell(rec, "category").upper() or None
        records.append({
            "person": person, "title": title, "category": cat, "level": level,
            "level_rank": rank, "direction": cell(rec, "direction") or None,
            "service": cell(rec, "service") or None,
            "roles": parse_roles(cell(rec, "roles")), "manager": mgr,
            "fte": parse_fte(cell(rec, "fte")),
        })
    df = pd.DataFrame.from_records(records, columns=schema.names("directory"))
    df["level_rank"] = df["level_rank"].astype("int16")
    df["fte"] = df["fte"].astype("float64")
    schema.check(df, "directory", extra_ok=False)
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


def write_directory(study: Study, df: pd.DataFrame) -> Path:
    return study.catalog.write_table("directory", df)


def load_directory(study: Study) -> pd.DataFrame:
    """The imported directory, or an empty table of the right columns when none was imported."""
    return study.catalog.read_or_empty("directory")
