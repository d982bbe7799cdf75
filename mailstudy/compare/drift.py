"""Persona drift: the first campaign's personas, applied to both campaigns' people.

Both campaigns are placed by the *same* fitted model (the first campaign's transform and
centres), so that a change of persona measures a change of behaviour, not a change of method;
comparing a campaign with itself gives zero drift by construction.

- ``persona_shares``: the share of each persona before and after (every person of each
  campaign);
- ``persona_flows``: among the people in both campaigns (linked campaigns only), how many went
  from each persona to each other one: a square table with every cell listed, suppressed like a
  cross table with its margins (a flow of 3 people is never shown, nor one that a shown total
  would give away);
- the drift: the share of people in both campaigns whose persona changed, and the same as a
  monthly rate ``1 - (1 - share) ** (1 / months)`` (the constant month-on-month rate of
  change that gives that share over the interval), the figure Jung, Jansen and Salminen
  (CHI EA 2019) report as 18.7 % a month for personas of online audiences.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from anonymise import disclosure

JUNG_2019_MONTHLY_DRIFT = 0.187


def persona_shares(before: pd.DataFrame, after: pd.DataFrame, names: Mapping[int, str],
                   k: int, force: set[str] | None = None) -> pd.DataFrame:
    """One row per persona: n_before, n_after, share_before, share_after, suppressed.
    ``force``: personas (ids as text) hidden elsewhere (the margins the flows table hides)."""
    ids = sorted(set(names) | set(before["persona"].astype(int)) | set(after["persona"]
                                                                        .astype(int)))
    nb = before["persona"].astype(int).value_counts().reindex(ids, fill_value=0)
    na = after["persona"].astype(int).value_counts().reindex(ids, fill_value=0)
    cells = pd.DataFrame({"persona": [str(i) for i in ids] + [disclosure.TOTAL],
                          "count": [*np.minimum(nb, na).tolist(),
                                    min(len(before), len(after))]})
    forced = cells["persona"].isin(force or set()).to_numpy()
    hidden = disclosure.suppress_linked(cells, ["persona"], "count", k,
                                        force=forced).suppressed.to_numpy()
    out = pd.DataFrame({"persona": ids, "persona_name": [names.get(i, str(i)) for i in ids],
                        "n_before": nb.to_numpy(), "n_after": na.to_numpy(),
                        "share_before": nb.to_numpy() / max(len(before), 1),
                        "share_after": na.to_numpy() / max(len(after), 1)})
    if hidden[-1]:
        hidden[:] = True
    out = out.astype({c: "float64" for c in ("n_before", "n_after")})
    out.loc[hidden[:-1], ["n_before", "n_after", "share_before", "share_after"]] = np.nan
    out["suppressed"] = hidden[:-1]
    return out


def linked_pairs(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    b = before.assign(person=before["person"].astype(str)).set_index("person")["persona"]
    a = after.assign(person=after["person"].astype(str)).set_index("person")["persona"]
    both = b.index.intersection(a.index)
    return pd.DataFrame({"from": b.loc[both].astype(int).to_numpy(),
                         "to": a.loc[both].astype(int).to_numpy()})


def persona_flows(before: pd.DataFrame, after: pd.DataFrame, names: Mapping[int, str],
                  k: int) -> tuple[pd.DataFrame, set[str]]:
    """Every (from, to) persona pair among the people in both campaigns, suppressed, and the
    personas whose margin (people from it, or to it) the suppression hid: the persona shares
    and persona rows of the comparison, which are those margins, hide them too."""
    pairs = linked_pairs(before, after)
    ids = sorted(set(names) | set(pairs["from"]) | set(pairs["to"]))
    grid = pd.crosstab(pairs["from"], pairs["to"]).reindex(index=ids, columns=ids,
                                                           fill_value=0)
    rows = [(str(f), str(t), int(grid.loc[f, t])) for f in ids for t in ids]
    rows += [(str(f), disclosure.TOTAL, int(grid.loc[f].sum())) for f in ids]
    rows += [(disclosure.TOTAL, str(t), int(grid[t].sum())) for t in ids]
    rows.append((disclosure.TOTAL, disclosure.TOTAL, len(pairs)))
    cells = pd.DataFrame(rows, columns=["from", "to", "n_people"])
    res = disclosure.suppress_linked(cells, ["from", "to"], "n_people", k)
    hidden = res.suppressed.to_numpy()
    inner = len(ids) ** 2
    if hidden[-1]:
        hidden[:] = True
    out = pd.DataFrame({
        "from_persona": [int(f) for f, _, _ in rows[:inner]],
        "from_name": [names.get(int(f), f) for f, _, _ in rows[:inner]],
        "to_persona": [int(t) for _, t, _ in rows[:inner]],
        "to_name": [names.get(int(t), t) for _, t, _ in rows[:inner]],
        "n_people": [float(n) for _, _, n in rows[:inner]],
    })
    from_total = {int(f): n for f, t, n in rows[inner:inner + len(ids)]}
    out["share_of_from"] = [n / from_total[f] if from_total[f] else math.nan
                            for f, n in zip(out["from_persona"], out["n_people"], strict=True)]
    out.loc[hidden[:inner], ["n_people", "share_of_from"]] = np.nan
    out["suppressed"] = hidden[:inner]
    margins = {f if t == disclosure.TOTAL else t
               for (f, t, _), h in zip(rows[inner:-1], hidden[inner:-1], strict=True) if h}
    return out, margins


def drift(before: pd.DataFrame, after: pd.DataFrame, months: float | None) -> dict[str, float]:
    """Share of the people in both campaigns whose persona changed, overall and per month."""
    pairs = linked_pairs(before, after)
    n = len(pairs)
    share = float((pairs["from"] != pairs["to"]).mean()) if n else math.nan
    monthly = math.nan
    if n and months and months > 0:
        monthly = 1 - (1 - share) ** (1 / months) if share < 1 else 1.0
    return {"people_in_both": n, "drift_share": share, "months": months or math.nan,
            "drift_per_month": monthly, "jung_2019_per_month": JUNG_2019_MONTHLY_DRIFT}
