"""The organisation: the hierarchy of agents, their transverse roles and latent behaviours."""

from __future__ import annotations

import dataclasses
import math
import random

from mailstudy.demo.council.draws import pick_weighted
from mailstudy.demo.council.records import Agent, fold_ascii
from mailstudy.demo.council.tables import (
    COUNCIL_BEHAVIOURS,
    DESKTOP,
    DG,
    DIRECTIONS,
    FIRST_F,
    FIRST_M,
    LAST,
    MOBILE,
    Behaviour,
    BehaviourTable,
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
        agent = Agent(len(agents), first, last, female, f"{local}@{domain}", rank,
                  title_f if female else title_m, cat, direction, service, manager, float(fte))
        agents.append(agent)
        return agent

    dgs = make(0, DG[0], DG[1][0], None, "Directrice générale des services",
               "Directeur général des services")
    dgas = [make(1, DG[0], DG[1][0], dgs.idx, "Directrice générale adjointe",
                 "Directeur général adjoint") for _ in range(n_dga)]
    heads: list[tuple[str, str, int]] = []  # direction, service, head index
    for i, (dname, services) in enumerate(directions):
        suffix = dname.removeprefix("Direction")
        director = make(2, dname, "", dgas[i % n_dga].idx, "Directrice" + suffix,
                        "Directeur" + suffix)
        for service_name in services[:per_dir]:
            head = make(3, dname, service_name, director.idx, "Cheffe de service",
                        "Chef de service")
            heads.append((dname, service_name, head.idx))
    for _ in range(2 if n >= 40 else 1):
        make(5, DG[0], DG[1][0], dgs.idx, "Assistante de direction", "Assistant de direction")
    rest = n + n_extra - len(agents)
    slots = [heads[i % len(heads)] for i in range(rest)]
    rng.shuffle(slots)
    for dname, service_name, head in slots:
        rank, title_f, title_m = _junior_post(rng, dname)
        make(rank, dname, service_name, head, title_f, title_m)
    return agents


def _junior_post(rng: random.Random, direction: str) -> tuple[int, str, str]:
    """Rank and feminine/masculine titles of a post below the service heads: project leads,
    clerks, then agents; some titles name the direction's speciality."""
    draw = rng.random()
    spec = {"Direction juridique": " juridique", "Direction des systèmes d'information":
            " informatique", "Direction de la communication interne": " communication"
            }.get(direction, "")
    if draw < 0.22:
        if rng.random() < 0.5:
            return 4, "Cheffe de projet" + spec, "Chef de projet" + spec
        return 4, "Chargée de mission" + spec, "Chargé de mission" + spec
    if draw < 0.62:
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
        pool = [agent for agent in pool if role not in agent.roles and len(agent.roles) < 2]
        for agent in rng.sample(pool, min(k, len(pool))):
            agent.roles.append(role)

    n = len(agents)
    give([agent for agent in agents
          if agent.direction == "Direction juridique" and 3 <= agent.rank <= 5]
         or [agent for agent in agents if agent.rank == 4], "juridique", max(2, n // 40))
    give([agent for agent in agents if "systèmes" in agent.direction and 3 <= agent.rank <= 4]
         or [agent for agent in agents if agent.rank == 4], "informatique", max(2, n // 40))
    give([agent for agent in agents if 4 <= agent.rank <= 5 and agent.direction in (
        "Direction des finances", "Direction juridique", "Direction des ressources humaines")],
         "norme", max(2, n // 50))
    give([agent for agent in agents if 2 <= agent.rank <= 4], "expert", max(2, n // 25))
    give([agent for agent in agents if "communication" in agent.direction and agent.rank >= 4]
         + [agent for agent in agents if agent.rank == 4], "créatif", max(2, n // 40))
    give([agent for agent in agents if agent.rank in (1, 4)], "pilote", 1)
    give([agent for agent in agents if agent.rank in (4, 5)], "animateur", max(1, n // 60))
    give([agent for agent in agents if agent.rank == 3], "arbitre", max(1, n // 80))


def assign_behaviours(rng: random.Random, agents: list[Agent], weeks: int,
                      table: BehaviourTable = COUNCIL_BEHAVIOURS, spread: float = 0.0,
                      spread_rng: random.Random | None = None) -> None:
    """Behaviours are dealt in shuffled blocks within each level (a block holds each row of
    ``table`` in its share), so every level holds every behaviour in near-equal shares:
    personas must not be levels in disguise. Each agent's parameters are its row's, each
    numeric one times a factor drawn in [1 - spread, 1 + spread] from ``spread_rng`` (so the
    rest of the council does not depend on the spread)."""
    deal = _block(table)
    block: list[int] = []
    for agent in sorted(agents, key=lambda agent: (agent.rank, rng.random())):
        if not block:
            block = list(deal)
            rng.shuffle(block)
        agent.behaviour = block.pop()
        agent.params = table[agent.behaviour][1]
        if spread > 0:
            agent.params = vary(table[agent.behaviour][1], spread_rng or rng, spread)
    for agent in agents:
        agent.desktop = pick_weighted(rng, DESKTOP)
        agent.mobile = pick_weighted(rng, MOBILE)
        if rng.random() < 0.35:  # one week of leave
            week = rng.randrange(weeks)
            agent.leave = frozenset(range(week * 7, week * 7 + 5))
        agent.personal = rng.random() < 0.08


def _block(table: BehaviourTable, size: int = 20) -> list[int]:
    """One block of behaviour rows: each row once when the shares are equal, else ``size``
    slots shared by largest remainder."""
    shares = [share for _, _, share in table]
    if not table or min(shares) <= 0:
        raise ValueError("a behaviour table needs rows of positive share")
    if max(shares) - min(shares) < 1e-9:
        return list(range(len(table)))
    quotas = [size * share / sum(shares) for share in shares]
    seats = [math.floor(q) for q in quotas]
    by_remainder = sorted(range(len(table)), key=lambda i: (seats[i] - quotas[i], i))
    for i in by_remainder[: size - sum(seats)]:
        seats[i] += 1
    return [i for i, n_seats in enumerate(seats) for _ in range(n_seats)]


_PROBABILITIES = ("after_hours", "weekend", "mobile", "reply_p", "reply_all", "forward_p",
                  "read_p", "read_bulk_p", "file_p", "trash_p", "flag_p", "external_p",
                  "urgent_p")


def vary(params: Behaviour, rng: random.Random, spread: float) -> Behaviour:
    """One agent's parameters: every rate, probability, delay and weight of ``params`` times
    a factor uniform in [1 - spread, 1 + spread] (probabilities kept below 0.99); counts and
    ranges stay."""
    changes = {}
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        if isinstance(value, float):
            value *= rng.uniform(1 - spread, 1 + spread)
            changes[f.name] = min(value, 0.99) if f.name in _PROBABILITIES else value
    return dataclasses.replace(params, **changes)
