"""The dataset catalogue: every dataset of a study declared once, with its path, its column
contract and its privacy zone.

Why a catalogue: a dataset path spelled in eight modules drifts (one reader checks the
schema, another does not), and the privacy rules need to know, for every file, *who may see
it*. Stages name datasets (``catalog.path("people")``), never paths; the release gate and
``mailstudy export analyst`` decide what may leave the study from the zones declared here.

Zones (DESIGN.md, "Zones"):

- ``operator``: raw-identity-adjacent and message-level data, keys, escrow, run summaries.
  Never leaves the collection machine.
- ``analysis``: per-person pseudonymised rows an analyst may work on (in the analyst package,
  generalised to k-anonymity).
- ``published``: what leaves the study through the one release gate (group tables, charts,
  report, persona sheets, panel composition).
- ``keyholder``: named outputs, for the key holder only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mailstudy import schema
from mailstudy.errors import StageError
from mailstudy.store import atomic_write_table

if TYPE_CHECKING:
    import pandas as pd


class Zone(StrEnum):
    OPERATOR = "operator"
    ANALYSIS = "analysis"
    PUBLISHED = "published"
    KEYHOLDER = "keyholder"


@dataclass(frozen=True)
class Dataset:
    """One dataset: ``path`` is relative to the study root and may hold ``{placeholders}``."""

    name: str
    path: str
    zone: Zone
    kind: str  # parquet, dataset (a folder of Parquet files), csv, json, text, file, folder
    doc: str
    table: str | None = None  # the schema.py contract, when there is one
    extra_columns: bool = False  # columns beyond the contract are kept (one per session...)


_D = Dataset
OP, AN, PUB, KH = Zone.OPERATOR, Zone.ANALYSIS, Zone.PUBLISHED, Zone.KEYHOLDER

DATASETS: dict[str, Dataset] = {d.name: d for d in [
    # -- operator: never leaves the collection machine -----------------------------------
    _D("config", "study.toml", OP, "file", "Study configuration (may name source paths)."),
    _D("key", "secrets/pseudonym.key", OP, "file", "The pseudonymisation key (mode 0600)."),
    _D("keyholder_pub", "secrets/keyholder.pub", OP, "file", "The key holder's public key."),
    _D("messages", "data/messages", OP, "dataset", "The message store, one row per message.",
       "messages"),
    _D("directory", "data/directory.parquet", OP, "parquet", "The pseudonymised HR directory.",
       "directory"),
    _D("escrow", "data/escrow", OP, "folder", "Identities sealed for the key holder (age)."),
    _D("optouts", "data/optouts.txt", OP, "text", "Opted-out people, one keyed hash a line."),
    _D("volunteers", "data/volunteers.parquet", OP, "parquet", "People who asked to take part.",
       "volunteers"),
    _D("availability", "data/availability.parquet", OP, "parquet",
       "Availability of volunteers for each session.", "availability", extra_columns=True),
    _D("runs", "data/runs", OP, "folder", "Run summaries (per-mailbox detail by pseudonym)."),
    _D("pipeline_state", "data/runs/state.json", OP, "json", "Fingerprints of the last runs."),
    _D("tmp", "data/tmp", OP, "folder", "Scratch space of the collectors."),
    _D("profile_work", "data/tmp/profile", OP, "folder",
       "The profile stage's finished batches (its restart state) and DuckDB's spill files."),
    _D("purge_log", "purge.log", OP, "text", "What each purge deleted (kept after purge)."),
    _D("reidentification_log", "data/reidentification.log", OP, "text",
       "One line per reveal of the panel's names."),
    _D("releases", "data/releases", OP, "folder",
       "The release ledger: every published table, its true counts, file hashes."),
    _D("lottery_audit", "data/invitations", OP, "folder", "What an auditor re-hashes."),
    _D("distribution", "data/invitations/distribution.json", OP, "json",
       "The lottery's distribution over panels (pseudonyms by type)."),
    _D("probabilities", "data/invitations/probabilities.csv", OP, "csv",
       "Every eligible person's selection probability."),
    _D("why_csv", "data/invitations/why.csv", OP, "csv",
       "Why each invitee was chosen: strata and probability (name small groups)."),
    _D("why_txt", "data/invitations/why.txt", OP, "text", "The same, as text."),
    _D("commitment", "data/invitations/commitment.json", OP, "json",
       "Seed and hashes of the draw, which reveal checks (the analyst cannot write it)."),
    # -- analysis: per-person pseudonymised rows ------------------------------------------
    _D("people", "data/people.parquet", AN, "parquet", "One row per profiled person.",
       "people"),
    _D("personas", "data/personas.parquet", AN, "parquet", "The persona of each person.",
       "personas"),
    # -- published: through the release gate ---------------------------------------------
    _D("profiles", "out/profiles", PUB, "folder", "Group profiles: tables and charts."),
    _D("group_table", "out/profiles/by_{grouping}.csv", PUB, "csv",
       "One group profile (n_people and medians), small cells suppressed."),
    _D("suppression", "out/profiles/suppression.csv", PUB, "csv",
       "How many cells each profile table hid, and rows the release gate held back."),
    _D("profile_rules", "out/profiles/rules.json", PUB, "json",
       "The habit rules and thresholds the profile tables were computed with."),
    _D("persona_outputs", "out/personas", PUB, "folder", "Persona sheets and overview."),
    _D("persona_model", "out/personas/model.json", PUB, "json",
       "The persona model: transform, centres, quality figures."),
    _D("report", "out/report", PUB, "folder", "The audit report and its annexes."),
    _D("report_doc", "out/report/{file}", PUB, "file", "The audit report (HTML or PDF)."),
    _D("scope", "out/report/scope.json", PUB, "json", "Coverage figures of the report."),
    _D("invitations", "out/invitations", PUB, "folder", "The drawn panel (pseudonyms)."),
    _D("panel", "out/invitations/panel.csv", PUB, "csv", "The drawn panel.", "panel"),
    _D("reserves", "out/invitations/reserves.csv", PUB, "csv", "Reserves per seat.",
       "reserves"),
    _D("composition", "out/invitations/composition.csv", PUB, "csv",
       "The panel's composition against the population, suppressed."),
    _D("lottery", "out/invitations/lottery.csv", PUB, "csv",
       "The published list of M equally likely panels (pseudonyms) the panel number is "
       "drawn from."),
    _D("fairness", "out/invitations/fairness.json", PUB, "json",
       "Seed, fairness figures and hashes of the draw."),
    _D("compare", "out/compare", PUB, "folder",
       "A follow-up campaign compared with the first (in the second study)."),
    _D("compare_table", "out/compare/{table}.{ext}", PUB, "file",
       "One comparison table (differences, persona_shares, persona_flows) as CSV or XLSX, "
       "groups under the threshold in either campaign suppressed."),
    _D("compare_summary", "out/compare/summary.json", PUB, "json",
       "How the comparison was computed, turnover counts, persona drift."),
    # -- key holder ------------------------------------------------------------------------
    _D("named", "out/invitations/named", KH, "folder", "Named panel, reserves, .ics files."),
]}


#: Name prefix of the private folder a reveal writes before swapping it in as ``named/``.
PARTIAL_NAMED_PREFIX = ".named-"


class Catalog:
    """The datasets of one study folder: paths, zones, and schema-checked reads and writes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def dataset(self, name: str) -> Dataset:
        try:
            return DATASETS[name]
        except KeyError:
            raise StageError("unknown dataset {name!r}", name=name) from None

    def path(self, dataset: str, /, **params: Any) -> Path:
        return self.root / self.dataset(dataset).path.format(**params)

    def exists(self, dataset: str, /, **params: Any) -> bool:
        return self.path(dataset, **params).exists()

    def partial_named(self) -> list[Path]:
        """Half-written named sets a killed reveal left beside ``named/`` (key holder's)."""
        parent = self.path("invitations")
        return sorted(parent.glob(PARTIAL_NAMED_PREFIX + "*")) if parent.exists() else []

    def zone_of(self, path: Path) -> Zone | None:
        """The zone of a file or folder of the study: that of the most specific dataset that
        holds it (``named/`` inside ``invitations/`` is key holder's, not published)."""
        rel = Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        best: tuple[int, Zone] | None = None
        for d in DATASETS.values():
            if "{" in d.path:
                continue
            if rel == d.path or rel.startswith(d.path + "/"):
                if best is None or len(d.path) > best[0]:
                    best = (len(d.path), d.zone)
        if best is not None:
            return best[1]
        return {"out": PUB, "data": OP, "secrets": OP}.get(rel.split("/", 1)[0])

    def read_table(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Read a Parquet dataset and check it against its contract."""
        import pandas as pd

        d = self.dataset(name)
        df = pd.read_parquet(self.path(name), columns=columns)
        if d.table and columns is None:
            schema.check(df, d.table)
        return df

    def read_optional(self, name: str, columns: list[str] | None = None
                      ) -> pd.DataFrame | None:
        return self.read_table(name, columns) if self.exists(name) else None

    def read_or_empty(self, name: str) -> pd.DataFrame:
        """The table, or an empty one of the contract's columns when it was never written
        (a study without a directory still profiles its mailboxes)."""
        import pandas as pd

        if self.exists(name):
            return self.read_table(name)
        table = self.dataset(name).table
        return pd.DataFrame({c: pd.Series(dtype=object) for c in schema.names(table or "")})

    def write_table(self, name: str, df: pd.DataFrame) -> Path:
        """Check ``df`` against its contract and write it atomically (fsync + rename)."""
        d = self.dataset(name)
        if d.table:
            schema.check(df, d.table)
        path = self.path(name)
        if d.table and not d.extra_columns:
            table = pa.Table.from_pandas(df, schema=schema.arrow_schema(d.table),
                                         preserve_index=False)
        else:
            table = pa.Table.from_pandas(df, preserve_index=False)
        atomic_write_table(table, path)
        return path

