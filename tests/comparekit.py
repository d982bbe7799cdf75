"""Two campaigns of generated people with a planted effect, for the compare tests and the
benchmark (``benchmarks/bench_compare.py`` puts ``tests/`` on ``sys.path``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from peoplekit import synthetic_people

from mailstudy.schema import FEATURE_NAMES

#: The planted effect: after-hours mail and recipients per message cut in two directions.
PLANTED_DIRECTIONS = ("Finances", "Culture")
PLANTED = {"after_hours_share": 0.5, "recipients_per_sent": 0.6}
FEATURES = [c for c in FEATURE_NAMES if c in synthetic_people(5, groups=1)[0].columns]
SHARES = [c for c in FEATURES if c.endswith(("_share", "_rate"))]


def remeasure(people: pd.DataFrame, rng: np.random.Generator, noise: float = 0.15
              ) -> pd.DataFrame:
    """The same people measured again: every feature jittered (log-normal noise), nothing
    else changed."""
    out = people.copy()
    for f in FEATURES:
        factor = np.exp(rng.normal(0.0, noise, len(out)))
        out[f] = out[f] * factor
        if f in SHARES:
            out[f] = out[f].clip(0, 1)
    return out


def follow_up(before: pd.DataFrame, *, seed: int = 1, turnover: float = 0.05,
              planted: dict[str, float] | None = None, linked: bool = True) -> pd.DataFrame:
    """The second campaign: the same people re-measured, ``planted`` multipliers applied to
    the planted directions, ``turnover`` of the people replaced by newcomers; ``linked=False``
    gives everyone a new pseudonym (an independent study)."""
    rng = np.random.default_rng(seed)
    after = remeasure(before, rng)
    mask = after["direction"].isin(PLANTED_DIRECTIONS).to_numpy()
    for f, m in (PLANTED if planted is None else planted).items():
        after.loc[mask, f] = after.loc[mask, f] * m
    n_out = int(round(turnover * len(after)))
    if n_out:
        keep = np.sort(rng.permutation(len(after))[n_out:])
        newcomers, _ = synthetic_people(n_out, groups=1, seed=seed + 1000)
        newcomers["person"] = [f"n{seed:04d}{i:012d}" for i in range(n_out)]
        after = pd.concat([after.iloc[keep], newcomers], ignore_index=True)
    if not linked:
        after["person"] = [f"u{i:015d}" for i in range(len(after))]
    return after.reset_index(drop=True)

