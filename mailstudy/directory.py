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

import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mailstudy import schema
from mailstudy.optout import load_optouts
from mailstudy.study import Study, StudyError

UNKNOWN_LEVEL = "non renseigné"

#: Field -> header spellings recognised without mapping (compared after :func:`norm_header`).
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

_EMAIL_RE = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")


class DirectoryError(StudyError):
    """The directory file cannot be imported as is; the message says what to fix."""


def norm_header(text: Any) -> str:
    """Lower case, accents stripped, punctuation to spaces: 'Intitulé de poste' -> '...'."""
    s = unicodedata.normalize("NFKD", str(text or ""))
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower()
    s = re.sub(r"[^a-z0-9+]+", " ", s)
    return s.strip()


norm_text = norm_header


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
        t = norm_text(title)
        if t:
            for rank, (level, pats) in enumerate(zip(self.levels, self.patterns, strict=True)):
                if any(p.search(t) for p in pats):
                    return level, rank
        return UNKNOWN_LEVEL, -1


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


# -- reading ---------------------------------------------------------------------------------
def _decode(raw: bytes) -> str:
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")  # never fails; cp1252 leaves 5 bytes undefined


def read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, cells) of a CSV or XLSX file, all cells as strings.

    Line numbers are those a user sees in a spreadsheet (header = line 1).
    """
    path = Path(path)
    if not path.exists():
        raise DirectoryError("the directory file does not exist")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if path.suffix.lower() == ".xls":
        raise DirectoryError("old .xls files are not supported: save as .xlsx or .csv")
    text = _decode(path.read_bytes())
    # The delimiter is read from the header line, which holds no free text: the sniffer can
    # be fooled by commas inside cells ("juridique, expert") of a semicolon file.
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts = {d: first.count(d) for d in (";", ",", "\t")}
    delim = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    dialect: Any = type("directory_csv", (csv.excel,), {"delimiter": delim})
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    for rec in reader:
        line = reader.line_num
        if header is None:
            if any(c.strip() for c in rec):
                header = rec
            continue
        if any(c.strip() for c in rec):
            rows.append((line, rec))
    if header is None:
        raise DirectoryError("the directory file is empty")
    return header, rows


def _read_xlsx(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds
        raise DirectoryError(f"cannot read the workbook ({type(exc).__name__})") from exc
    ws = wb.worksheets[0]
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for i, rec in enumerate(ws.iter_rows(values_only=True), start=1):
        cells = ["" if v is None else _cell_str(v) for v in rec]
        if header is None:
            if any(c.strip() for c in cells):
                header = cells
            continue
        if any(c.strip() for c in cells):
            rows.append((i, cells))
    wb.close()
    if header is None:
        raise DirectoryError("the directory workbook is empty")
    return header, rows


def _cell_str(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


# -- column recognition ----------------------------------------------------------------------
def match_columns(header: list[str], overrides: Mapping[str, str] | None = None) -> dict[str, int]:
    """Field -> column index. Overrides (field -> header) win; then known spellings."""
    normed = [norm_header(h) for h in header]
    out: dict[str, int] = {}
    for fld, hdr in (overrides or {}).items():
        if fld not in FIELDS:
            raise DirectoryError(f"unknown directory field {fld!r}; fields are: "
                                 f"{', '.join(FIELDS)}")
        target = norm_header(hdr)
        if target not in normed:
            raise DirectoryError(f"the column mapped to {fld} is not in the file "
                                 f"({_header_hint(header)})")
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
                f"({_header_hint(header)})")
    return out


def _header_hint(header: list[str]) -> str:
    """What may be said of a header line: never its cells, which may be a person's data when
    the header row is missing."""
    n = sum(1 for h in header if h)
    if any("@" in h for h in header):
        return f"{n} columns; the first line holds an address: is the header row missing?"
    return f"{n} columns"


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
    return [norm_text(p).replace(" ", "_") for p in parts if norm_text(p)]


def _valid_address(a: str) -> bool:
    return bool(_EMAIL_RE.match(a))


def _domain_ok(a: str, domains: list[str]) -> bool:
    if not domains:
        return True
    d = a.rsplit("@", 1)[1]
    return any(d == x or d.endswith("." + x) for x in domains)


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
    identities: list[tuple[str, str, str]] = []
    for line, rec in rows:
        raw = cell(rec, "email")
        if not raw:
            summary.reject("missing address", line)
            continue
        addr = ps.canonical_address(raw)
        if not _valid_address(addr):
            summary.reject("invalid address", line)
            continue
        if not _domain_ok(addr, domains):
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
        identities.append((person, addr, name))
        title = cell(rec, "title") or None
        level, rank = ladder.match(title)
        mgr_raw = cell(rec, "manager")
        mgr = None
        if mgr_raw:
            m = ps.canonical_address(mgr_raw)
            mgr = ps.person(m) if _valid_address(m) else None
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
    summary.unmatched_titles = int((df["level"] == UNKNOWN_LEVEL).sum())
    # Seal before the pseudonymised rows exist, so no row points at an unsealed identity.
    escrow = study.escrow()
    for person, addr, name in identities:
        escrow.add(person, "person", {"address": addr, "name": name})
    summary.sealed = escrow.flush()
    write_directory(study, df)
    return df, summary


def write_directory(study: Study, df: pd.DataFrame) -> Path:
    return study.catalog.write_table("directory", df)


def load_directory(study: Study) -> pd.DataFrame:
    """The imported directory, or an empty table of the right columns when none was imported."""
    if not study.catalog.exists("directory"):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in schema.names("directory")})
    return study.catalog.read_table("directory")
