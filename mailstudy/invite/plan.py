"""What a panel must satisfy: role families, quotas, seats, and the plan read from
``[workshop]``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mailstudy.errors import StageError
from mailstudy.text import fold_words

NOT_PROFILED = "non profilé"
USAGERS = "usagers"
FAMILIES = ("pilote", "animateur", "arbitre", "fabricants", "regards différents")
DEFAULT_FEATURES = ("persona", "level", "direction")
DEFAULT_SEATS: dict[str, int] = {"pilote": 1, "animateur": 1, "arbitre": 1, "fabricants": 2,
                                 "regards différents": 2}
# Directory role words -> workshop family. Matching ignores case and accents; a study can
# replace any family's list in study.toml ([workshop.roles]).
DEFAULT_ROLE_VOCABULARY: dict[str, tuple[str, ...]] = {
    "fabricants": ("juridique", "droit", "informatique", "numerique", "si", "dsi", "norme",
                   "normes", "qualite", "rgpd", "dpo", "archives", "archiviste", "marches",
                   "securite"),
    "regards différents": ("expert", "experte", "expertise", "creatif", "creative",
                           "design", "innovation", "communication", "recherche"),
    "pilote": ("pilote", "chef de projet", "cheffe de projet", "direction de projet"),
    "animateur": ("animateur", "animatrice", "animation"),
    "arbitre": ("arbitre", "facilitateur", "facilitatrice", "controleur", "controleuse",
                "controle", "audit", "auditeur", "auditrice"),
}
SEP = ";"  # joins role families in one string cell
#: internal columns of the type table; a pool feature may be called anything else ("count",
#: "service" ...), so these names are chosen not to collide with a practitioner's column.
COUNT = "__count"
GROUP = "__group"
ALGORITHMS = ("leximin", "maximin", "legacy")


class InviteError(StageError, ValueError):
    """The lottery cannot run as configured; the message says what to change."""


@dataclass(frozen=True)
class Quota:
    feature: str
    value: str
    min: int
    max: int


@dataclass
class Plan:
    """What a panel must satisfy."""

    size: int
    quotas: list[Quota] = field(default_factory=list)
    seats: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SEATS))
    one_per_service: bool = True
    #: the disclosure threshold: messages about the plan never print a smaller count
    min_group_size: int = 10
    #: what names a "service" for the one-invitee-per-group rule: French directories repeat
    #: service names across directions ("Pôle ressources" in every direction), so the rule is
    #: keyed by direction AND service. The rule is switched on by ``one_per_service`` alone,
    #: never by a pool happening to have a column named ``service``.
    group_by: tuple[str, ...] = ("direction", "service")

    @property
    def features(self) -> list[str]:
        return list(dict.fromkeys(q.feature for q in self.quotas))


def role_families(roles: Iterable[str] | None,
                  vocabulary: Mapping[str, Sequence[str]] | None = None) -> str:
    """The workshop families (joined by ';', sorted) a person's directory roles map to."""
    vocab = vocabulary if vocabulary is not None else DEFAULT_ROLE_VOCABULARY
    words = {fold_words(r) for r in (roles if roles is not None else []) if isinstance(r, str)}
    fams = sorted(f for f, terms in vocab.items() if f in FAMILIES
                  and (words & {fold_words(t) for t in terms} or fold_words(f) in words))
    return SEP.join(fams)


def derive_quotas(population: pd.DataFrame, size: int,
                  features: Sequence[str] = DEFAULT_FEATURES, margin: int = 1,
                  overrides: Mapping[str, Mapping[str, Sequence[int]]] | None = None
                  ) -> list[Quota]:
    """Quotas from the population's shares: floor(share*size) - margin .. ceil(...) + margin.

    ``overrides`` maps feature -> value -> [min, max] and wins over the derived bounds.
    """
    out: list[Quota] = []
    over = overrides or {}
    for f in features:
        counts = population[f].astype(str).value_counts()
        n = int(counts.sum())
        for v, c in sorted(counts.items()):
            ideal = size * c / n
            lo = max(0, math.floor(ideal) - margin)
            hi = min(size, math.ceil(ideal) + margin)
            if v in over.get(f, {}):
                lo, hi = (int(x) for x in over[f][v])
            out.append(Quota(f, str(v), lo, hi))
    return out


def plan_from_config(ws: Mapping[str, Any], population: pd.DataFrame, size: int,
                     features: Sequence[str]) -> Plan:
    """Plan from ``[workshop]``: quota_margin, quotas (feature -> value -> [min, max]), seats,
    one_per_service."""
    quotas = derive_quotas(population, size, features, int(ws.get("quota_margin", 1)),
                           ws.get("quotas"))
    try:
        seats = dict(DEFAULT_SEATS) | {str(k): int(v) for k, v in ws.get("seats", {}).items()}
    except (TypeError, ValueError):
        raise InviteError("[workshop.seats] values must be whole numbers of seats") from None
    unknown = [f for f in seats if f not in FAMILIES]
    if unknown:
        raise InviteError("[workshop.seats]: unknown role famil(y/ies) {unknown}; "
                          "known: {families}",
                          unknown=", ".join(unknown), families=", ".join(FAMILIES))
    return Plan(size, quotas, seats, bool(ws.get("one_per_service", True)))
