"""The release ledger: every issue of published outputs, recorded in the operator's zone.

Why: the threshold must hold *across* releases, not only within one (a change of 1 to k-1
people in a cell is itself a disclosure), so each published table is kept as it was
published, with its true counts, and every later release is checked against all of them
(``gate.py``). Layout, under ``data/releases/``:

- ``open.json``: the tables published since the last closed release (each stage that
  publishes a table records it here; re-running a stage replaces its tables);
- ``release-0001.json``...: a closed release: its date, the SHA-256 of every published file,
  the tables and their true counts, and how many rows were held back.

``mailstudy report`` closes the release it completes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from mailstudy.release.gate import Earlier, hold_back

OPEN = "open.json"


def _clean(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):
        return _clean(v.item())
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    return v


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in rec.items()} for rec in df.to_dict("records")]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _true_record(true_counts: pd.Series | pd.DataFrame) -> Any:
    if isinstance(true_counts, pd.DataFrame):
        return {str(c): [_clean(v) for v in true_counts[c].tolist()] for c in true_counts}
    return [_clean(v) for v in true_counts.tolist()]


class Ledger:
    """The releases of one study (``data/releases/``)."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)

    def closed(self) -> list[dict[str, Any]]:
        out = []
        for p in sorted(self.dir.glob("release-*.json")) if self.dir.exists() else []:
            out.append(json.loads(p.read_text(encoding="utf-8")))
        return out

    def _open(self) -> dict[str, Any]:
        p = self.dir / OPEN
        if p.exists():
            return json.loads(p.read_text(encoding="utf-8"))
        return {"tables": {}}

    def earlier(self, name: str) -> list[Earlier]:
        """The published versions of table ``name`` in closed releases, oldest first."""
        out = []
        for rel in self.closed():
            t = rel.get("tables", {}).get(name)
            if t is not None:
                pop = t["population"]
                pop = tuple(int(x) for x in pop) if isinstance(pop, list) else int(pop)
                out.append(Earlier(int(rel["id"]), pop,
                                   pd.DataFrame(t["rows"], columns=t["columns"])))
        return out

    def publish(self, name: str, table: pd.DataFrame, true_counts: pd.Series | pd.DataFrame,
                *, population: int | tuple[int, ...], dims: list[str], count: str | list[str],
                k: int
                ) -> tuple[pd.DataFrame, int]:
        """Check ``table`` against every closed release, record what is published in the open
        release, and return it with the number of rows held back."""
        out, held = hold_back(table, true_counts, population, dims=dims, count=count,
                              earlier=self.earlier(name), k=k)
        state = self._open()
        state["tables"][name] = {
            "population": (list(population) if isinstance(population, tuple | list)
                           else int(population)),
            "dims": dims, "count": count, "columns": list(out.columns), "rows": _records(out),
            "true_counts": _true_record(true_counts), "held_back": held}
        _write_json(self.dir / OPEN, state)
        return out, held

    def close(self, files: list[Path], root: Path) -> int:
        """Close the open release: record the hash of every published file; returns its id."""
        state = self._open()
        rid = len(self.closed()) + 1
        state.update({
            "id": rid, "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "files": {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in sorted(files)},
            "held_back": sum(int(t.get("held_back", 0)) for t in state["tables"].values())})
        _write_json(self.dir / f"release-{rid:04d}.json", state)
        (self.dir / OPEN).unlink(missing_ok=True)
        return rid
