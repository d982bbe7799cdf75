"""A draw anyone can verify: the lottery rounded to a uniform choice among M published panels.

Why (Flanigan, Kehne, Procaccia, "Fair sortition made transparent", NeurIPS 2021): a
distribution over panels with irrational-looking weights can only be drawn by software, which
the people concerned must trust. Rounded to M equally likely panels (M = 1000 by default), the
list can be published first (pseudonyms only) and the panel *number* drawn in public (three
dice of ten faces, a public lottery result); anyone then checks that the panel announced is
line number i of the list whose hash was published before the draw.

Rounding: the weights times M are rounded by pipage (dependent) rounding, which keeps their
sum at exactly M and moves each by less than one panel, so every type's probability moves by
less than ``sum_j |m_j - M w_j| n_tj / (M c_t)``; the members of a type then take turns in the
type's seats over the M panels, so each appears floor or ceil of the type's share. The loss in
minimum probability against the exact distribution is reported, never hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mailstudy.commitment import LOTTERY_COLUMNS, lottery_hash
from mailstudy.invite.distribution import Lottery
from mailstudy.invite.plan import FAMILIES, USAGERS, InviteError

DEFAULT_PANELS = 1000


@dataclass
class UniformLottery:
    """M equally likely panels: the published list and what it gives each person."""

    table: pd.DataFrame  # LOTTERY_COLUMNS, panel numbered 1..M
    panels: int
    probability: pd.Series  # person -> share of the M panels they sit on
    min_probability: float
    loss: float  # the exact distribution's minimum minus this list's minimum
    sha256: str


def pipage(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dependent rounding of a vector with an integer sum: each entry goes to its floor or
    ceiling, the sum is kept and each entry's expectation is its value."""
    out = np.floor(x + 1e-12)
    frac = x - out
    live = [int(i) for i in np.flatnonzero(frac > 1e-9)]
    while len(live) >= 2:
        i, j = live[-1], live[-2]
        up_i, down_j = 1 - frac[i], frac[j]  # move mass j -> i
        down_i, up_j = frac[i], 1 - frac[j]  # move mass i -> j
        a, b = min(up_i, down_j), min(down_i, up_j)
        if rng.random() < b / (a + b):
            frac[i] += a
            frac[j] -= a
        else:
            frac[i] -= b
            frac[j] += b
        live = [k for k in live if 1e-9 < frac[k] < 1 - 1e-9]
        for k in (i, j):
            if frac[k] >= 1 - 1e-9:
                out[k] += 1
                frac[k] = 0.0
            elif frac[k] <= 1e-9:
                frac[k] = 0.0
    if live:  # float drift on the last entry: round it to keep the sum
        out[live[0]] += round(float(frac[live[0]]))
    return out.astype(int)


def uniform_lottery(lot: Lottery, panels: int = DEFAULT_PANELS, seed: int = 0
                    ) -> UniformLottery:
    """Round ``lot`` to ``panels`` equally likely panels of pseudonyms (seeded)."""
    if panels < 1:
        raise InviteError("panels must be at least 1")
    rng = np.random.default_rng([seed, 2])
    copies = pipage(lot.weights * panels, rng)
    total = int(copies.sum())
    if total != panels:  # cannot happen with an integer sum; say so rather than publish
        raise InviteError("rounding gave {total} panels instead of {panels}",
                          total=total, panels=panels)
    members = [list(rng.permutation(m)) for m in lot.types.members]
    turn = [0] * len(members)
    rows: list[tuple[int, str, str]] = []
    order = rng.permutation(np.repeat(np.arange(len(copies)), copies))
    for number, j in enumerate(order, start=1):
        n, y = lot.compositions[j]
        seated: list[tuple[str, str]] = []
        for t in np.flatnonzero(n):
            m = members[t]
            chosen = [str(m[(turn[t] + i) % len(m)]) for i in range(int(n[t]))]
            turn[t] += int(n[t])
            for f in FAMILIES:
                for _ in range(y.get((int(t), f), 0)):
                    seated.append((chosen.pop(0), f))
            seated.extend((p, USAGERS) for p in chosen)
        rank = {f: i for i, f in enumerate(FAMILIES)} | {USAGERS: len(FAMILIES)}
        seated.sort(key=lambda pr: (rank[pr[1]], pr[0]))
        rows += [(number, p, r) for p, r in seated]
    table = pd.DataFrame(rows, columns=["panel", "person", "role"])
    table["seat"] = table.groupby("panel").cumcount().map(lambda i: f"S{i + 1:02d}")
    table = table[LOTTERY_COLUMNS]
    prob = (table["person"].value_counts() / panels).reindex(lot.person_probability.index,
                                                              fill_value=0.0)
    low = float(prob.min()) if len(prob) else 0.0
    return UniformLottery(table, panels, prob.rename("probability"), low,
                          lot.min_probability - low, lottery_hash(table))


def panel_number(table: pd.DataFrame, number: int) -> pd.DataFrame:
    """Panel ``number`` (1..M) of the published list: seat, person, role."""
    panels = int(pd.to_numeric(table["panel"]).max()) if len(table) else 0
    if not 1 <= int(number) <= panels:
        raise InviteError("number must be between 1 and {panels} (the list's panels), "
                          "not {number}", panels=panels, number=number)
    t = table[pd.to_numeric(table["panel"]) == int(number)]
    return t[["seat", "person", "role"]].sort_values("seat").reset_index(drop=True)


def draw_number(panels: int, seed: int) -> int:
    """The panel number a seeded draw picks, when no public draw is given."""
    return int(np.random.default_rng([seed, 3]).integers(1, panels + 1))


@dataclass
class Verification:
    ok: bool
    problems: list[str]
    panel: pd.DataFrame  # the panel the list and the number give
    sha256: str


def verify(table: pd.DataFrame, number: int, sha256: str | None = None,
           panel: pd.DataFrame | None = None) -> Verification:
    """Recompute the panel from the published list and the drawn number; compare the list's
    hash with the one announced before the draw and the announced panel with the list's."""
    problems: list[str] = []
    missing = [c for c in LOTTERY_COLUMNS if c not in table]
    if missing:
        raise InviteError("the published list lacks column(s) {missing}",
                          missing=", ".join(missing))
    table = table.assign(person=table["person"].astype(str), role=table["role"].astype(str),
                         seat=table["seat"].astype(str))
    digest = lottery_hash(table)
    if sha256 is not None and digest != sha256.strip().lower():
        problems.append(f"the list's sha256 is {digest}, not the announced {sha256.strip()}: "
                        "the list was changed after it was announced")
    sizes = table.groupby("panel").size()
    if sizes.nunique() > 1:
        problems.append("the list's panels do not all have the same size")
    dup = table.duplicated(["panel", "person"])
    if dup.any():
        problems.append("a person sits twice on one panel of the list")
    drawn = panel_number(table, number)
    if panel is not None:
        theirs = {(str(p), str(r)) for p, r in zip(panel["person"], panel["role"], strict=True)}
        mine = set(zip(drawn["person"], drawn["role"], strict=True))
        if theirs != mine:
            problems.append(f"the announced panel differs from panel {number} of the list "
                            f"({len(theirs - mine)} seat(s) not on it)")
    return Verification(not problems, problems, drawn, digest)
