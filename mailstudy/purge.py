"""``mailstudy purge``: storage limitation (GDPR art. 5(1)(e)) and the end of a campaign.

Why the key goes too: pseudonymised data remain personal data as long as someone holds the key
that links them back (CJEU C-413/23 P). Destroying the key and the escrow is what turns what is
left into data about nobody; deleting the tables alone would leave the key able to re-link any
copy made before.

Layers and their dates: ``[privacy] retention_until`` applies to every layer; a study may set
a shorter date per layer in ``[privacy.retention]`` (``messages``, ``directory``, ``tables``,
``outputs``, ``runs``, ``escrow``, ``key``), e.g. raw message metadata for 3 months and the
released report for 13. Files are unlinked; the key file is overwritten first (best effort: an
SSD or a copy-on-write file system may keep old blocks, so the key file should live on an
encrypted volume).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets as _secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mailstudy.study import KEY_FILE, Study, StudyError

# Each retention layer is a list of catalogue datasets.
_LAYER_DATASETS = {
    "messages": ["messages"],
    "directory": ["directory", "volunteers", "availability"],
    "tables": ["people", "personas", "lottery_audit"],
    "outputs": [],  # the whole of out/
    "runs": ["runs"],
    "escrow": ["escrow"],
    "key": ["key"],
}


def _layers(study: Study) -> dict[str, list[Path]]:
    layers = {name: [study.catalog.path(d) for d in ds] for name, ds in _LAYER_DATASETS.items()}
    layers["outputs"] = [study.out]
    return layers


LAYERS = ("messages", "directory", "tables", "outputs", "runs", "escrow", "key")


@dataclass
class PurgeReport:
    today: str
    all: bool
    deleted: dict[str, int] = field(default_factory=dict)  # layer -> files removed
    kept: dict[str, str] = field(default_factory=dict)  # layer -> retention date
    log: Path | None = None

    @property
    def files_removed(self) -> int:
        return sum(self.deleted.values())


def _parse_date(text: str, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise StudyError("{where} must be a date written YYYY-MM-DD", where=where) from None


def retention_dates(study: Study) -> dict[str, dt.date | None]:
    """The retention date of each layer (None: no date set, kept)."""
    priv = study.section("privacy")
    base = priv.get("retention_until") or ""
    default = _parse_date(base, "[privacy] retention_until") if base else None
    per = priv.get("retention") or {}
    unknown = [k for k in per if k not in LAYERS]
    if unknown:
        raise StudyError("[privacy.retention]: unknown layer(s) {unknown}; layers "
                         "are {layers}", unknown=", ".join(unknown), layers=", ".join(LAYERS))
    out: dict[str, dt.date | None] = {}
    for layer in LAYERS:
        v = per.get(layer)
        out[layer] = _parse_date(v, f"[privacy.retention] {layer}") if v else default
    return out


def _count_files(p: Path) -> int:
    if p.is_file() or p.is_symlink():
        return 1
    return sum(len(files) for _, _, files in os.walk(p)) if p.is_dir() else 0


def _shred(p: Path) -> None:
    """Overwrite a small secret file before unlinking it (best effort, see module doc)."""
    try:
        size = p.stat().st_size
        with open(p, "r+b") as f:
            f.write(_secrets.token_bytes(max(size, 32)))
            f.flush()
            os.fsync(f.fileno())
    except OSError:
        pass
    p.unlink(missing_ok=True)


def _remove(p: Path) -> int:
    n = _count_files(p)
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        if p.name == KEY_FILE:  # the key is overwritten before it is unlinked
            _shred(p)
        else:
            p.unlink()
    return n


def _remove_partial_named(study: Study) -> int:
    return sum(_remove(p) for p in study.catalog.partial_named())


def purge(study: Study, all: bool = False, today: dt.date | None = None) -> PurgeReport:  # noqa: A002
    """Delete every layer past its retention date, or everything with ``all`` (the data,
    the outputs, the pseudonymisation key and the escrow; study.toml and the key holder's
    public key stay, with a ``purge.log`` saying what was destroyed and when).

    The caller confirms ``all`` with the user first: it cannot be undone.
    """
    today = today or dt.date.today()
    report = PurgeReport(today=today.isoformat(), all=all)
    dates = retention_dates(study)
    # Scratch space first, whatever the dates: what a killed command left (converted PST
    # mail, a half-written named set) was never meant to persist.
    scratch = _remove(study.catalog.path("tmp")) + _remove_partial_named(study)
    if scratch:
        report.deleted["scratch"] = scratch
    layers = _layers(study)
    # The key and escrow go last: if anything fails midway, the data are gone before the
    # means to re-identify them, never the other way round.
    for layer in LAYERS:
        due = all or (dates[layer] is not None and dates[layer] < today)
        if not due:
            report.kept[layer] = dates[layer].isoformat() if dates[layer] else "no date"
            continue
        report.deleted[layer] = sum(_remove(p) for p in layers[layer])
    if all:
        for extra in (study.catalog.path("optouts"), study.catalog.path("reidentification_log")):
            report.deleted["tables"] = report.deleted.get("tables", 0) + _remove(extra)
        if study.data.exists():
            report.deleted["tables"] += _remove(study.data)
        study.data.mkdir(exist_ok=True)
        study.out.mkdir(exist_ok=True)
    if report.deleted:
        log = study.catalog.path("purge_log")
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                                "all": all, "deleted": report.deleted}) + "\n")
        report.log = log
    return report
