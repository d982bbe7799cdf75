"""Reading back what the stages wrote: tolerant readers (a missing file is None) and
records fit for a template (NaN as None, whole floats as int)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mailstudy.tabular import read_csv


def read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame | None:
    return pd.read_parquet(path, columns=columns) if path.exists() else None


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in df.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and np.isnan(v) else
                        int(v) if isinstance(v, float) and k != "share" and v.is_integer()
                        else v.item() if isinstance(v, np.generic) else v)
                    for k, v in rec.items()})
    return out


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def csv_table(path: Path) -> pd.DataFrame | None:
    return read_csv(path) if path.exists() else None


