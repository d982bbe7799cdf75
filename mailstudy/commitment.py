"""Hashes that bind a published draw to what the key holder may reveal.

Why in the foundation: ``invite`` commits the panel and the reserves it drew, and ``reveal``
checks what it is asked to name against that commitment; neither stage may import the other.
The published list of the transparent draw (``lottery.csv``) is hashed here for the same
reason: ``invite`` announces its hash and ``reveal`` names only a panel the list still gives.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def panel_hash(panel: pd.DataFrame) -> str:
    """SHA-256 of the drawn panel (sorted person, seat, role): what a reveal is tied to."""
    rows = sorted(zip(panel["person"], panel["seat"], panel["role"], strict=True))
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def reserves_hash(reserves: pd.DataFrame) -> str:
    """SHA-256 of the reserves (sorted person, seat, role, rank)."""
    rows = sorted(zip(reserves["person"], reserves["seat"], reserves["role"],
                      (int(r) for r in reserves["rank"]), strict=True))
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


LOTTERY_COLUMNS = ["panel", "seat", "person", "role"]


def lottery_hash(table: pd.DataFrame) -> str:
    """SHA-256 of the published list's canonical text (one line per seat, sorted by panel
    number then seat): what is announced before the draw."""
    t = table[LOTTERY_COLUMNS].copy()
    t["panel"] = t["panel"].astype(int)
    t = t.sort_values(["panel", "seat"])
    text = "".join(f"{r.panel},{r.seat},{r.person},{r.role}\n" for r in t.itertuples())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
