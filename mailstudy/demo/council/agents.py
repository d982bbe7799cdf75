"""The organisation: the hierarchy of agents, their transverse roles and latent behaviours."""

from __future__ import annotations

import random

from mailstudy.demo.council.draws import pick_weighted
from mailstudy.demo.council.records import Agent, fold_ascii
from mailstudy.demo.council.tables import (
    BEHAVIOURS,
    DESKTOP,
    DG,
    DIRECTIONS,
    FIRST_F,
    FIRST_M,
    LAST,
    MOBILE,
)


def build_agents(rng: random.Random, n: int, n_extra: int, domain: str) -> list[Agent]:
    """The pyramid: one DGS, a few DGAs, a director per direction, a head per service, then
    project leads, clerks and agents spread over services. Directory-only people come last."""
    if n < 10:
        raise ValueError("n_agents must be at least 10")
    n_dir = max(2, min(len(DIRECTIONS), round(n / 17)))
    n_dga = max(1, min(4, round(n_dir / 3)))
    per_dir = max(1, min(3, round((n - 1 - n_dga - n_dir) / (n_dir * 9))))
    order = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]  # finances, lycées, DSI, juridique... first
    directions = [DIRECTIONS[i] for i in order[:n_dir]]
    used: dict[str, int] = {}
    agents: list[Agent] = []

    def make(rank: int, direction: str, service: str, manager: int | None,
             title_f: str, title_m: str) -> Agent:
        female = rng.random() < 0.55
        first = rng.choice(FIRST_F if female else FIRST_M)
        last = rng.choice(LAST)
        local = f"{fold_ascii(first)}.{fold_ascii(last)}"
        used[local] = used.get(local, 0) + 1
        if used[local] > 1:
            local = f"{local}{used[local]}"
        cat = "A" if rank <= 4 else ("B" if rank == 5 and rng.random() < 0.65 else "C")
        fte = 1.0 if rank <= 2 else pick_weighted(rng, (("1", 0.8), ("0.8", 0.12), ("0.9", 0.04),
                                                        ("0.5", 0.02), ("0.6", 0.02)))
        a = Agent(len(agents), first, last, female, f"{local}@{domain}", rank,
                  title_f if female else title_m, cat, direction, service, manager, float(fte))
        agents.append(a)
        return a

    dgs = make(0, DG[0], DG[1][0], None, "Directrice générale des services",
               "Directeur général des services")
    dgas = [make(1, DG[0], DG[1][0], dgs.idx, "Directrice générale adjointe",
                 "Directeur général adjoint") for _ in range(n_dga)]
    heads: list[tuple[str, str, int]] = []  # direction, service, head index
    for i, (dname, services) in enumerate(directions):
        suffix = dname.removeprefix("Direction")
        director = make(2, dname, "", dgas[i % n_dga].idx, "Directrice" + suffix,
                        "Directeur" + suffix)
        for s in services[:per_dir]:
            head = make(3, dname, s, director.idx, "Cheffe de service", "Chef de service")
            heads.append((dname, s, head.idx))
    for _ in range(2 if n >= 40 else 1):
        make(5, DG[0], DG[1][0], dgs.idx, "Assistante de direction", "Assistant de direction")
    rest = n + n_extra - len(agents)
    slots = [heads[i % len(heads)] for i in range(rest)]
    rng.shuffle(slots)
    for dname, s, head in slots:
        rank, title_f, title_m = _junior_post(rng, dname)
        make(rank, dname, s, head, title_f, title_m)
    return agents


def _junior_post(rng: random.Random, direction: str) -> tuple[int, str, str]:
    """Rank and feminine/masculine titles of a post below the service heads: project leads,
    clerks, then agents; some titles name the direction's speciality."""
    u = rng.random()
    spec = {"Direction juridique": " juridique", "Direction des systèmes d'information":
            " informatique", "Direction de la communication interne": " communication"
            }.get(direction, "")
    if u < 0.22:
        if rng.random() < 0.5:
            return 4, "Cheffe de projet" + spec, "Chef de projet" + spec
        return 4, "Chargée de mission" + spec, "Chargé de mission" + spec
    if u < 0.62:
        kind = rng.choice((" comptable", " administrative", " marchés publics", " RH"))
        if rng.random() < 0.8:
            return (5, "Gestionnaire" + kind,
                    "Gestionnaire" + kind.replace("administrative", "administratif"))
        return 5, "Assistante administrative", "Assistant administratif"
    titles = rng.choice((("Agente d'accueil", "Agent d'accueil"),
                         ("Agente administrative", "Agent administratif"),
                         ("Agente technique", "Agent technique")))
    return 6, *titles


def assign_roles(rng: random.Random, agents: list[Agent]) -> None:
    def give(pool: list[Agent], role: str, k: int) -> None:
        pool = [a for a in pool if role not in a.roles and len(a.roles) < 2]
        for a in rng.sample(pool, min(k, len(pool))):
            a.roles.append(role)

    n = len(agents)
    give([a for a in agents if a.direction == "Direction juridique" and 3 <= a.rank <= 5]
         or [a for a in agents if a.rank == 4], "juridique", max(2, n // 40))
    give([a for a in agents if "systèmes" in a.direction and 3 <= a.rank <= 4]
         or [a for a in agents if a.rank == 4], "informatique", max(2, n // 40))
    give([a for a in agents if 4 <= a.rank <= 5 and a.direction in (
        "Direction des finances", "Direction juridique", "Direction des ressources humaines")],
         "norme", max(2, n // 50))
    give([a for a in agents if 2 <= a.rank <= 4], "expert", max(2, n // 25))
    give([a for a in agents if "communication" in a.direction and a.rank >= 4]
         + [a for a in agents if a.rank == 4], "créatif", max(2, n // 40))
    give([a for a in agents if a.rank in (1, 4)], "pilote", 1)
    give([a for a in agents if a.rank in (4, 5)], "animateur", max(1, n // 60))
    give([a for a in agents if a.rank == 3], "arbitre", max(1, n // 80))


def assign_behaviours(rng: random.Random, agents: list[Agent], weeks: int) -> None:
    """Behaviours are dealt in shuffled blocks of four within each level, so every level
    holds every behaviour in near-equal shares: personas must not be levels in disguise."""
    n_b = len(BEHAVIOURS)
    block: list[int] = []
    for a in sorted(agents, key=lambda a: (a.rank, rng.random())):
        if not block:
            block = list(range(n_b))
            rng.shuffle(block)
        a.behaviour = block.pop()
    for a in agents:
        a.desktop = pick_weighted(rng, DESKTOP)
        a.mobile = pick_weighted(rng, MOBILE)
        if rng.random() < 0.35:  # one week of leave
            w = rng.randrange(weeks)
            a.leave = frozenset(range(w * 7, w * 7 + 5))
        a.personal = rng.random() < 0.08


