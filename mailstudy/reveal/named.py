"""Named outputs for the key holder: the panel and reserves with names, written all or nothing.

Why all or nothing: a reveal that fails midway (a malformed session date, a full disk, a kill)
must not leave a named CSV without its log line, nor half a set beside an older one. Every
file is built in memory first; the set is written into a hidden private folder beside
``named/`` and swapped in by renames, after the log line is on disk. A folder left by a
killed reveal is removed by the next one (and by ``purge``).
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from mailstudy.catalog import PARTIAL_NAMED_PREFIX, Catalog

#: What an invitation needs, nothing more (no persona, no probability, no strata).
NAMED_COLUMNS = ["person", "first_name", "last_name", "name", "address", "seat", "role",
                 "sessions"]
HEADERS_FR = {"person": "pseudonyme", "first_name": "prénom", "last_name": "nom",
              "name": "nom complet", "address": "courriel", "seat": "siège", "role": "rôle",
              "sessions": "séances", "rank": "rang"}


def split_name(identity: dict[str, Any]) -> tuple[str, str]:
    """(first name, last name): the directory's fields, else the full name cut at its last
    space (mail merge needs both)."""
    first, last = str(identity.get("first_name") or ""), str(identity.get("last_name") or "")
    if first or last:
        return first, last
    full = str(identity.get("name") or "").strip()
    head, _, tail = full.rpartition(" ")
    return (head, tail) if head else ("", full)


def name_tables(panel: pd.DataFrame, reserves: pd.DataFrame,
                identities: dict[str, dict[str, Any]], sessions: str = ""
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The named panel and reserves: what an invitation needs; pure."""
    def named(df: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
        ids = [identities.get(p, {}) for p in df["person"]]
        names = [split_name(i) for i in ids]
        out = pd.DataFrame({
            "person": df["person"].to_numpy(), "first_name": [f for f, _ in names],
            "last_name": [ln for _, ln in names],
            "name": [str(i.get("name") or "") for i in ids],
            "address": [str(i.get("address") or "") for i in ids],
            "seat": df["seat"].to_numpy(), "role": df["role"].to_numpy(),
            "sessions": sessions})
        for c in extra:
            out[c] = df[c].to_numpy()
        return out
    return named(panel, []), named(reserves, ["rank"] if "rank" in reserves else [])


def clear_partial(catalog: Catalog) -> int:
    """Remove what a killed reveal left beside ``named/``; returns the folders removed."""
    partial = catalog.partial_named()
    for p in partial:
        shutil.rmtree(p, ignore_errors=True)
    return len(partial)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def publish_named_set(dest: Path, files: dict[str, bytes]) -> list[Path]:
    """Replace ``dest`` with exactly ``files`` (name -> bytes), mode 0700/0600, atomically
    as far as a reader of ``dest`` can tell: the old set or the new one, never a mix."""
    parent = dest.parent
    parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(6)
    tmp = parent / f"{PARTIAL_NAMED_PREFIX}{token}"
    tmp.mkdir(mode=0o700)
    try:
        for name, data in files.items():
            _write_private(tmp / name, data)
        old = parent / f"{PARTIAL_NAMED_PREFIX}old-{token}"
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [dest / name for name in files]
