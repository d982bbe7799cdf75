"""Invitation lists for the workshops: a fair lottery over panels that meet quotas and roles.

Why a lottery and not a greedy draw: Flanigan et al. (Nature 2021) showed that drawing people
one by one against quotas gives some people a near-zero chance. We compute instead a
probability distribution over *feasible* panels that maximises the smallest selection
probability (maximin), then draw one panel from it with a recorded seed; every person can be
told their probability, and the distribution's hash lets an auditor re-check the draw.

Map of the package (the lottery engine is pure: DataFrames in, DataFrames and numbers out;
only ``intake`` and ``run`` read or write files):

- ``plan``: role families, ``Quota``, ``Plan``, ``derive_quotas``, ``plan_from_config``,
  ``InviteError``.
- ``pool``: ``build_pool`` (who may be drawn) and ``make_types`` (interchangeable people).
- ``pricing``: the HiGHS pricing ILP over panel compositions.
- ``master``: the master LP of the column generation.
- ``search``: the swap local search that prices cheaply before the ILP.
- ``distribution``: ``find_distribution`` (the maximin lottery), ``Lottery``,
  ``distribution_hash``, ``diagnose`` / ``InfeasibleError``.
- ``draw``: ``sample``, ``draw_panel``, ``pick_reserves``.
- ``fairness``: ``gini``, ``fairness``, ``composition``, ``explain``.
- ``intake``: pseudonymised imports of volunteers and availability files.
- ``run``: ``invite`` on tables, and the study edges: ``load_pool``, ``run_invite``,
  ``write_invitation``, ``panel_hash``.
"""

from mailstudy.invite.distribution import InfeasibleError, Lottery, diagnose, find_distribution
from mailstudy.invite.draw import PANEL_COLUMNS, draw_panel, pick_reserves, sample
from mailstudy.invite.fairness import composition, explain, fairness, gini
from mailstudy.invite.intake import import_availability, import_volunteers
from mailstudy.invite.plan import (
    DEFAULT_FEATURES,
    FAMILIES,
    NOT_PROFILED,
    SEP,
    UNKNOWN,
    USAGERS,
    InviteError,
    Plan,
    Quota,
    derive_quotas,
    plan_from_config,
    role_families,
)
from mailstudy.invite.pool import build_pool, make_types
from mailstudy.invite.run import (
    INVITATIONS_DIR,
    Invitation,
    invite,
    load_pool,
    panel_hash,
    run_invite,
    write_invitation,
)

__all__ = [
    "DEFAULT_FEATURES", "FAMILIES", "INVITATIONS_DIR", "NOT_PROFILED", "PANEL_COLUMNS", "SEP",
    "UNKNOWN", "USAGERS", "InfeasibleError", "Invitation", "InviteError", "Lottery", "Plan",
    "Quota", "build_pool", "composition", "derive_quotas", "diagnose", "draw_panel", "explain",
    "fairness", "find_distribution", "gini", "import_availability", "import_volunteers",
    "invite", "load_pool", "make_types", "panel_hash", "pick_reserves", "plan_from_config",
    "role_families", "run_invite", "sample", "write_invitation",
]
