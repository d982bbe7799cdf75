"""Hashes that bind a published draw to what the key holder may reveal.

Why in the foundation: ``invite`` commits the panel and the reserves it drew, and ``reveal``
checks what it is asked to name against that commitment; neither stage may import the other.
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
