"""What the traffic simulation draws from: people, contact weights, timing, clients, texts.

:class:`World` holds the agents, their partners and the weighted contact lists, and the
per-message draws (who is addressed, when an agent acts, from which client, what the body and
subject say); :class:`mailstudy.demo.council.simulate.Simulation` builds the traffic on it.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random

from mailstudy.demo.council.calendar import Calendar
from mailstudy.demo.council.records import Agent, MailboxCopy, Message, fold_ascii
from mailstudy.demo.council.tables import (
    ATTACHMENTS,
    BASE_DATE,
    FIRST_F,
    FIRST_M,
    LAST,
    MONTHS_FR,
    OTHER_DOMAINS,
    PARTNER_DOMAINS,
    SENTENCES,
    TOPICS,
    WORK_END,
    WORK_START,
    Behaviour,
)


class World:
    """The agents, their partners and contact weights, and the draws every message needs."""

    def __init__(self, rng: random.Random, agents: list[Agent], cal: Calendar, domain: str,
                 attachment_share: float) -> None:
        self.rng, self.agents, self.cal, self.domain = rng, agents, cal, domain
        self.attachment_share = attachment_share
        self.seq = 0
        self.heap: list[tuple[float, int, Message]] = []
        self.boxes: list[list[MailboxCopy]] = [[] for _ in agents]
        self.n_by_level: dict[int, int] = {}
        self.partners = self._externals(PARTNER_DOMAINS, 8)
        self.others = self._externals(OTHER_DOMAINS, 4)
        self.people_names = [p[0] for p in self.partners + self.others]
        self.auto_sent: set[tuple[int, int, int]] = set()
        n = len(agents)
        self.my_partners = [rng.sample(range(len(self.partners)), min(5, len(self.partners)))
                            for _ in agents]
        # Contact weights: service, hierarchy, direction, then everyone.
        self.cum_to: list[list[float]] = []
        self.cum_cc: list[list[float]] = []
        for agent in agents:
            ct, cc, s_to, s_cc = [], [], 0.0, 0.0
            for other in agents:
                if other.idx == agent.idx:
                    weight = 0.0
                elif other.service == agent.service and other.direction == agent.direction:
                    weight = 6.0
                elif other.idx == agent.manager or other.manager == agent.idx:
                    weight = 5.0
                elif other.direction == agent.direction:
                    weight = 2.0
                elif other.rank <= 2:
                    weight = 0.8
                else:
                    weight = 0.25 * (40 / max(n, 40))
                params = other.params
                s_to += weight * params.to_weight
                s_cc += weight * params.cc_weight
                ct.append(s_to)
                cc.append(s_cc)
            self.cum_to.append(ct)
            self.cum_cc.append(cc)

    def _externals(self, domains: tuple[str, ...], k: int) -> list[tuple[str, str, int]]:
        out, seen = [], set()
        for domain in domains:
            for _ in range(k):
                female = self.rng.random() < 0.5
                first = self.rng.choice(FIRST_F if female else FIRST_M)
                last = self.rng.choice(LAST)
                addr = f"{fold_ascii(first)}.{fold_ascii(last)}@{domain}"
                if addr not in seen:
                    seen.add(addr)
                    out.append((f"{first} {last}", addr, -1))
        return out

    # -- helpers
    def person(self, i: int) -> tuple[str, str, int]:
        agent = self.agents[i]
        return (agent.name, agent.address, i)

    def new_id(self, domain: str) -> str:
        self.seq += 1
        return f"<{self.rng.getrandbits(64):016X}.{self.seq:06d}@{domain}>"

    def push(self, m: Message) -> None:
        heapq.heappush(self.heap, (m.t, m.seq, m))

    def pick_contacts(self, i: int, k: int, cum: list[float], exclude: set[int]) -> list[int]:
        out: list[int] = []
        for _ in range(k * 20):
            if len(out) >= k:
                break
            j = self.rng.choices(range(len(cum)), cum_weights=cum)[0]
            if j != i and j not in exclude and j not in out:
                out.append(j)
        return out

    def working(self, day: int, agent: Agent) -> bool:
        return 0 <= day < self.cal.n_days and self.cal.workday[day] and day not in agent.leave

    def sample_hour(self, style: Behaviour, workday: bool) -> float:
        rng = self.rng
        if not workday:
            return rng.uniform(9.0, 22.5)
        if rng.random() < style.after_hours:
            return rng.uniform(19.1, 23.5) if rng.random() < 0.75 else rng.uniform(6.0, 7.9)
        if rng.random() < 0.5:
            return rng.triangular(8.0, 12.5, 10.0)
        return rng.triangular(13.5, 19.0, 15.5)

    def when_acting(self, agent: Agent, at: float) -> float:
        """Shift an action (a reply, a forward) to when the agent would do it: the vigie acts
        at once; others wait for working time, with their small after-hours share."""
        style = agent.params
        day, hour = int(at // 24), at % 24
        if style.acts_at_once and (day not in agent.leave or self.rng.random() < 0.2):
            return at
        if self.working(day, agent):
            if WORK_START <= hour < WORK_END:
                return at
            if (6.0 <= hour < WORK_START or WORK_END <= hour < 23.5) and \
                    self.rng.random() < style.after_hours:
                return at
        if self.working(day, agent) and hour < WORK_START:
            return day * 24 + WORK_START + self.rng.uniform(0.0, 1.5)
        day += 1
        while day < self.cal.n_days and not self.working(day, agent):
            day += 1
        return day * 24 + WORK_START + self.rng.uniform(0.0, 2.5)

    def client_for(self, agent: Agent, at: float) -> str:
        style = agent.params
        hour, day = at % 24, int(at // 24)
        off = not (WORK_START <= hour < WORK_END) or not self.working(day, agent)
        p = min(1.0, style.mobile * (1.3 if off else 1.0))
        return agent.mobile if self.rng.random() < p else agent.desktop

    def body(self, agent: Agent, n_to: int, to_first: str, style: Behaviour, client: str) -> str:
        rng = self.rng
        greet = "Bonjour à tous," if n_to > 1 else f"Bonjour {to_first},"
        text = " ".join(rng.sample(SENTENCES, rng.randint(*style.sentences)))
        sig = ("Envoyé de mon iPhone" if client == "iphone" else
               "Envoyé depuis Outlook pour Android" if client == "android" else
               f"{agent.name}\n{agent.title}\n{agent.direction}\nRégion Pays de la Loire")
        close = rng.choice(("Cordialement,", "Bien à vous,", "Merci d'avance,", "Bonne journée,"))
        return f"{greet}\n\n{text}\n\n{close}\n{sig}\n"

    def subject(self, topic: int) -> str:
        date = BASE_DATE + dt.timedelta(days=self.rng.randrange(self.cal.n_days))
        return TOPICS[topic][0].format(n=self.rng.randint(10000, 99999),
                                       jour=f"{date.day} {MONTHS_FR[date.month - 1]}")

    def attachments(self, mult: float) -> list[int]:
        if self.rng.random() < min(0.95, self.attachment_share * mult):
            return [self.rng.randrange(len(ATTACHMENTS))
                    for _ in range(1 if self.rng.random() < 0.8 else 2)]
        return []

