"""Synthetic people with planted behaviour groups, for the persona tests and the benchmark
(``benchmarks/bench_personas.py`` puts ``tests/`` on ``sys.path``). Not part of the product."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

# Latent signature of each planted group: features shifted up (+) or down (-).
_PLANTED: list[dict[str, int]] = [
    {"after_hours_share": 1, "weekend_share": 1, "workday_span_h": 1, "mobile_share": 1},
    {"filing_rate": 1, "folder_count": 1, "unread_share": -1, "reply_rate": 1},
    {"received_per_day": 1, "cc_share": 1, "unread_share": 1, "bulk_share": 1},
    {"sent_per_day": -1, "received_per_day": -1, "reply_delay_h": 1, "attachment_rate": -1},
    {"external_share": 1, "attachment_rate": 1, "sent_text_kb": 1, "recipients_per_sent": 1},
    {"sent_per_day": 1, "recipients_per_sent": 1, "reply_all_rate": 1, "forward_rate": 1},
]
# Feature -> (typical value, kind): log-normal rates, logistic shares, bounded hours.
_BASE: dict[str, tuple[float, str]] = {
    "sent_per_day": (8.0, "log"), "received_per_day": (30.0, "log"),
    "after_hours_share": (0.08, "share"), "weekend_share": (0.02, "share"),
    "workday_span_h": (7.0, "hours"), "reply_delay_h": (3.0, "log"),
    "reply_rate": (0.4, "share"), "cc_share": (0.3, "share"),
    "recipients_per_sent": (2.0, "log"), "reply_all_rate": (0.2, "share"),
    "external_share": (0.15, "share"), "attachment_rate": (0.25, "share"),
    "sent_text_kb": (1.5, "log"), "unread_share": (0.1, "share"),
    "filing_rate": (0.3, "share"), "folder_count": (12.0, "log"),
    "bulk_share": (0.2, "share"), "mobile_share": (0.1, "share"),
    "forward_rate": (0.08, "share"),
}


def synthetic_people(n: int = 400, groups: int = 4, seed: int = 0, *,
                     sizes: Sequence[float] | None = None, shift: float = 1.6,
                     noise: float = 0.5, extra_features: int = 0
                     ) -> tuple[pd.DataFrame, np.ndarray]:
    """A PEOPLE-shaped table with ``groups`` planted behaviour groups (``shift`` latent units
    apart on four features each, within-group noise ``noise``) and the true group of each row.
    ``groups=1`` gives pure noise. ``extra_features`` adds unstructured columns extra_1...
    """
    rng = np.random.default_rng(seed)
    if sizes is None:
        w = np.arange(groups, 0, -1, dtype=float) + groups
        sizes = w / w.sum()
    p = np.asarray(sizes, dtype=float)
    counts = np.floor(p / p.sum() * n).astype(int)
    counts[0] += n - counts.sum()
    truth = np.repeat(np.arange(groups), counts)
    feats = list(_BASE)
    latent = rng.normal(0.0, noise, size=(n, len(feats)))
    if groups > 1:
        for g in range(groups):
            sig = _PLANTED[g % len(_PLANTED)]
            for f, s in sig.items():
                latent[truth == g, feats.index(f)] += s * shift
    cols: dict[str, Any] = {}
    for j, f in enumerate(feats):
        base, kind = _BASE[f]
        x = latent[:, j]
        if kind == "log":
            v = np.exp(np.log(base) + 0.6 * x)
        elif kind == "share":
            lo = math.log(base / (1 - base))
            v = 1 / (1 + np.exp(-(lo + 0.8 * x)))
        else:
            v = np.clip(base + 1.5 * x, 0.5, 16)
        cols[f] = v
    cols["folder_count"] = np.round(cols["folder_count"])
    for e in range(extra_features):
        cols[f"extra_{e + 1}"] = rng.normal(size=n)
    return _people_frame(rng, n, cols, truth)



def _people_frame(rng: np.random.Generator, n: int, cols: dict[str, Any], truth: np.ndarray
                  ) -> tuple[pd.DataFrame, np.ndarray]:
    """The PEOPLE-shaped table around feature columns, rows shuffled, with the truth."""
    levels = ["Direction générale", "Directeur", "Chef de service", "Chargé de mission", "Agent"]
    dirs = ["Finances", "Ressources humaines", "Culture", "Transports", "Éducation", "Numérique"]
    person = [f"p{v:016x}" for v in rng.integers(0, 2**63, size=n, dtype=np.int64)]
    lvl = rng.choice(len(levels), size=n, p=[0.02, 0.08, 0.2, 0.3, 0.4])
    df = pd.DataFrame({
        "person": person,
        "level": [levels[i] for i in lvl], "level_rank": lvl.astype(np.int16),
        "direction": rng.choice(dirs, size=n, p=[0.3, 0.2, 0.2, 0.15, 0.1, 0.05]),
        "service": "non renseigné", "roles": [[] for _ in range(n)],
        "n_messages": rng.integers(200, 5000, size=n), "active_days": rng.integers(40, 200, n),
        **cols,
        "habits": [[] for _ in range(n)], "work_pattern": "standard",
    })
    order = rng.permutation(n)
    return df.iloc[order].reset_index(drop=True), truth[order]


# A behaviour table: each behaviour's typical value of the features it moves away from the
# organisation's typical values (``_BASE``); every signature is distinct. The first two are
# the pair the issue saw merged (the after-hours "veilleur" and the mobile "nomade").
BEHAVIOUR_TABLE: list[tuple[str, dict[str, float]]] = [
    ("veilleur", {"after_hours_share": 0.35, "weekend_share": 0.10, "workday_span_h": 11.0}),
    ("nomade", {"mobile_share": 0.55, "reply_delay_h": 0.8, "sent_text_kb": 0.5}),
    ("classeur", {"filing_rate": 0.85, "folder_count": 45.0, "unread_share": 0.02}),
    ("diffuseur", {"recipients_per_sent": 6.0, "reply_all_rate": 0.6, "forward_rate": 0.3}),
    ("discret", {"sent_per_day": 1.5, "reply_rate": 0.1, "unread_share": 0.45}),
    ("partenaire", {"external_share": 0.55, "attachment_rate": 0.6, "sent_text_kb": 5.0}),
    ("submergé", {"received_per_day": 110.0, "bulk_share": 0.5, "cc_share": 0.6}),
    ("réactif", {"reply_rate": 0.8, "sent_per_day": 25.0, "reply_delay_h": 0.5}),
]
_OF_SENT = ("after_hours_share", "weekend_share", "mobile_share", "reply_all_rate",
            "external_share", "attachment_rate", "forward_rate")


def unequal_shares(n_behaviours: int, ratio: float = 2.5) -> np.ndarray:
    """Group shares growing linearly from the smallest to ``ratio`` times it (six
    behaviours: 9.5% to 24%)."""
    w = np.linspace(1.0, ratio, n_behaviours)
    return w / w.sum()


def council_people(n_behaviours: int, n: int, seed: int, *, spread: float = 0.35,
                   table: Sequence[tuple[str, dict[str, float]]] = BEHAVIOUR_TABLE
                   ) -> tuple[pd.DataFrame, np.ndarray]:
    """People of a council whose agents follow the first ``n_behaviours`` rows of a behaviour
    table, in :func:`unequal_shares`. Each person's parameters are the behaviour's typical
    values (the organisation's for the features it leaves alone) times a factor drawn
    uniformly in [1 - spread, 1 + spread], per person and feature; features are then measured
    as a campaign would (:func:`_observed`). ``n_behaviours=1`` draws everyone around the
    organisation's typical values: no structure."""
    rng = np.random.default_rng([seed, n_behaviours])
    counts = np.floor(unequal_shares(n_behaviours) * n).astype(int)
    counts[-1] += n - counts.sum()
    truth = np.repeat(np.arange(n_behaviours), counts)
    params: dict[str, np.ndarray] = {}
    for feature, (base, kind) in _BASE.items():
        typical = np.array([table[g][1].get(feature, base) if n_behaviours > 1 else base
                            for g in range(n_behaviours)])[truth]
        value = typical * rng.uniform(1 - spread, 1 + spread, n)
        params[feature] = np.clip(value, 0.0, 1.0) if kind == "share" else value
    return _people_frame(rng, n, _observed(rng, params), truth)


def _observed(rng: np.random.Generator, params: dict[str, np.ndarray], days: int = 30
              ) -> dict[str, np.ndarray]:
    """Features as a campaign of ``days`` working days measures them: counts are Poisson,
    shares binomial over the person's sent (or received) messages, sizes and delays carry a
    log-normal error. This measurement noise is what makes real data fuzzy."""
    n = len(params["sent_per_day"])
    sent = np.maximum(rng.poisson(params["sent_per_day"] * days), 1)
    received = np.maximum(rng.poisson(params["received_per_day"] * days), 1)
    out = {"sent_per_day": sent / days, "received_per_day": received / days}
    for feature, (_, kind) in _BASE.items():
        if feature in out:
            continue
        p = params[feature]
        if kind == "share":
            total = sent if feature in _OF_SENT else received
            out[feature] = rng.binomial(total, p) / total
        elif feature == "folder_count":
            out[feature] = rng.poisson(p).astype(float)
        else:
            out[feature] = p * np.exp(rng.normal(0.0, 0.15, n))
    return out
