"""Invitation lists for the workshops: a fair lottery over panels that meet quotas and roles.

Why a lottery and not a greedy draw: Flanigan et al. (Nature 2021) showed that drawing people
one by one against quotas gives some people a near-zero chance. We compute instead a
probability distribution over *feasible* panels that maximises the smallest selection
probability, then the next smallest and so on (leximin), then draw one panel from it; every
person can be told their probability, and the distribution's hash lets an auditor re-check the draw.

Map of the package (the lottery engine is pure: DataFrames in, DataFrames and numbers out;
only ``run`` reads or writes files, through the catalogue; the volunteers and availability
files are imported by ``mailstudy.intake.answers``):

- ``plan``: role families, ``Quota``, ``Plan``, ``derive_quotas``, ``plan_from_config``,
  ``InviteError``.
- ``pool``: ``build_pool`` (who may be drawn) and ``make_types`` (interchangeable people).
- ``pricing``: the HiGHS pricing ILP over panel compositions.
- ``master``: the master LP of the column generation (maximin, then leximin levels).
- ``search``: the single and double swap searches that price cheaply before the ILP.
- ``generation``: the column generation loop, one LP per leximin level, and its proofs.
- ``distribution``: ``find_distribution`` (leximin, maximin or legacy), ``Lottery``,
  ``distribution_hash``, ``diagnose`` / ``InfeasibleError``.
- ``draw``: ``sample``, ``draw_panel``, ``pick_reserves``.
- ``transparent``: the lottery rounded to M published panels (``uniform_lottery``),
  ``lottery_hash``, ``panel_number``, ``verify``.
- ``fairness``: ``gini``, ``fairness``, ``composition``, ``explain``.
- ``run``: ``invite`` on tables, and the study edges: ``load_pool``, ``run_invite``,
  ``write_invitation`` (published seats and roles; strata, reasons and probabilities stay
  with the operator).
"""

from mailstudy.invite.distribution import InfeasibleError, Lottery, diagnose, find_distribution
from mailstudy.invite.draw import PANEL_COLUMNS, draw_panel, pick_reserves, sample
from mailstudy.invite.fairness import composition, explain, fairness, gini
from mailstudy.invite.plan import (
    ALGORITHMS,
    DEFAULT_FEATURES,
    FAMILIES,
    NOT_PROFILED,
    SEP,
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
    Invitation,
    invite,
    load_pool,
    run_invite,
    write_invitation,
)
from mailstudy.text import UNKNOWN

__all__ = [
    "ALGORITHMS", "DEFAULT_FEATURES", "FAMILIES", "NOT_PROFILED", "PANEL_COLUMNS", "SEP",
    "UNKNOWN", "USAGERS", "InfeasibleError", "Invitation", "InviteError", "Lottery", "Plan",
    "Quota", "build_pool", "composition", "derive_quotas", "diagnose", "draw_panel", "explain",
    "fairness", "find_distribution", "gini", "invite", "load_pool", "make_types",
    "pick_reserves", "plan_from_config", "role_families", "run_invite", "sample",
    "write_invitation",
]
