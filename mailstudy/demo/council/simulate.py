"""The traffic, in time order: originals, partner and bulk mail, then replies, forwards,
partner answers and out-of-office replies spawned as messages are delivered."""

from __future__ import annotations

import datetime as dt
import heapq
import math

from mailstudy.demo.council.draws import poisson
from mailstudy.demo.council.records import Agent, MailboxCopy, Message, fold_ascii
from mailstudy.demo.council.tables import (
    BASE_DATE,
    CLIENTS,
    DAYS_FR,
    FIRST_F,
    LAST,
    LEVEL_SEND,
    MONTHS_FR,
    NEWSLETTERS,
    PARTNER_DOMAINS,
    PARTNER_STYLE,
    PERSONAL_DOMAINS,
    SENTENCES,
    SHORT_REPLIES,
    TOPICS,
    Behaviour,
)
from mailstudy.demo.council.world import World


class Simulation(World):
    """Seeds the traffic, then delivers it in time order (:meth:`run`), each delivery
    possibly spawning a reply, a forward or an out-of-office answer."""

    def originals(self) -> None:
        rng, cal = self.rng, self.cal
        for agent in self.agents:
            style = agent.params
            base = style.send_rate * LEVEL_SEND[agent.rank]
            we_rate = base * 5 * style.weekend / (2 * (1 - style.weekend)) \
                if style.weekend < 1 else base
            for day in range(cal.n_days):
                work = cal.workday[day]
                lam = base if work else we_rate
                if work and agent.fte < 1:
                    lam *= 0.05 if (agent.fte <= 0.8 and day % 7 == 2) else agent.fte
                if day in agent.leave:
                    lam *= 0.2 if style.acts_at_once else 0.0
                for _ in range(poisson(rng, lam)):
                    self.original(agent, style, day * 24 + self.sample_hour(style, work))
            # Partners writing to the agent.
            for day in range(cal.n_days):
                if cal.workday[day]:
                    for _ in range(poisson(rng, 0.18 * LEVEL_SEND[agent.rank])):
                        self.inbound(agent, day * 24 + self.sample_hour(PARTNER_STYLE, True))

    def original(self, agent: Agent, style: Behaviour, at: float) -> None:
        rng = self.rng
        topic = rng.randrange(len(TOPICS))
        cc_i: list[int] = []
        if rng.random() < style.external_p:
            mine = self.my_partners[agent.idx]
            to = [self.partners[j] for j in rng.sample(mine, min(len(mine), rng.randint(1, 2)))]
            if rng.random() < 0.5:
                cc_i = self.pick_contacts(agent.idx, 1, self.cum_cc[agent.idx], set())
        else:
            to_i = self.pick_contacts(agent.idx, rng.randint(*style.n_to),
                                      self.cum_to[agent.idx], set())
            to = [self.person(j) for j in to_i]
            cc_i = self.pick_contacts(agent.idx, rng.randint(*style.n_cc),
                                      self.cum_cc[agent.idx], set(to_i))
        if not to:
            return
        bcc = []
        if style.broadcasts and rng.random() < 0.1:
            bcc = [self.person(j) for j in self.pick_contacts(
                agent.idx, 1, self.cum_cc[agent.idx], {person[2] for person in to} | set(cc_i))]
        client = self.client_for(agent, at)
        first = to[0][0].split(" ")[0]
        msg = Message(self.seq, at, self.person(agent.idx), to, [self.person(j) for j in cc_i],
                    self.subject(topic), self.body(agent, len(to), first, style, client),
                    self.new_id(self.domain), topic, client, bcc=bcc,
                    attachments=self.attachments(style.attach_mult))
        if rng.random() < style.urgent_p:
            msg.extra.append(("Importance", "high"))
        self.push(msg)

    def inbound(self, agent: Agent, at: float) -> None:
        rng = self.rng
        person = self.partners[rng.choice(self.my_partners[agent.idx])] if rng.random() < 0.8 else \
            rng.choice(self.others)
        topic = rng.randrange(len(TOPICS))
        cc = [self.person(j)
              for j in self.pick_contacts(agent.idx, 1, self.cum_cc[agent.idx], set())] \
            if rng.random() < 0.3 else []
        sender = Agent(-1, person[0].split(" ")[0], person[0].split(" ", 1)[1], False, person[1], 4,
                       "Chargé de mission", "", "Service partenaire", "", None, 1.0)
        client = "outlook" if rng.random() < 0.8 else None
        body = self.body(sender, 1, agent.first, PARTNER_STYLE, "outlook")
        msg = Message(self.seq, at, person, [self.person(agent.idx)], cc, self.subject(topic), body,
                    self.new_id(person[1].split("@")[1]), topic, client, kind="ext",
                    attachments=self.attachments(1.2))
        self.push(msg)

    def bulk(self) -> None:
        """Newsletters (one message, many subscribers), the internal weekly and robots."""
        rng, cal, n = self.rng, self.cal, len(self.agents)
        subs: list[list[int]] = [[] for _ in NEWSLETTERS]
        for agent in self.agents:
            k = min(len(NEWSLETTERS), agent.params.newsletters)
            for j in rng.sample(range(len(NEWSLETTERS)), k):
                subs[j].append(agent.idx)
        lists = [*NEWSLETTERS, ("L'hebdo de la Région", f"intranet@{self.domain}",
                                f"hebdo.intranet.{self.domain}",
                                "L'hebdo de la Région : les actualités internes", (0,), 9.0)]
        subs.append(list(range(n)))
        for (name, addr, list_id, subj, days, hour), who in zip(lists, subs, strict=True):
            if not who:
                continue
            for day in range(cal.n_days):
                if day % 7 not in days or not cal.workday[day]:
                    continue
                dom = addr.split("@")[1]
                msg = Message(self.seq, day * 24 + hour + rng.uniform(0, 0.2), (name, addr, -1),
                            [(name, addr, -1)], [], subj,
                            f"{subj}\n\nÀ la une cette semaine : finances locales, "
                            "transition écologique, ressources humaines.\n\nSe désinscrire : "
                            f"https://{dom}/desinscription\n", self.new_id(dom), 0, None,
                            kind="bulk",
                            extra=[("List-Id", f"{name} <{list_id}>"),
                                   ("List-Unsubscribe", f"<https://{dom}/desinscription>"),
                                   ("Precedence", "bulk")])
                msg.bcc = [self.person(i) for i in who]  # delivery list, never a header
                self.push(msg)
        robot = ("Parapheur électronique", f"ne-pas-repondre@{self.domain}", -1)
        for agent in self.agents:
            lam = 0.3 if agent.rank <= 3 else 0.05
            for day in range(cal.n_days):
                if cal.workday[day]:
                    for _ in range(poisson(rng, lam)):
                        msg = Message(self.seq, day * 24 + rng.uniform(7.0, 19.0), robot,
                                    [self.person(agent.idx)], [],
                                    "Parapheur : un document attend votre visa",
                                    "Un document attend votre visa dans le parapheur électronique."
                                    "\n\nCeci est un message automatique, merci de ne pas y "
                                    "répondre.\n", self.new_id(self.domain), 0, None, kind="robot",
                                    extra=[("Auto-Submitted", "auto-generated")], html=False)
                        self.push(msg)

    def private(self) -> None:
        """A few agents keep personal mail in a 'Personnel' folder (collection must skip it)."""
        rng = self.rng
        for agent in self.agents:
            if not agent.personal:
                continue
            fam = rng.choice(LAST)
            addr = (f"{fold_ascii(rng.choice(FIRST_F))}.{fold_ascii(fam)}"
                    f"@{rng.choice(PERSONAL_DOMAINS)}")
            for _ in range(rng.randint(2, 5)):
                at = rng.randrange(self.cal.n_days) * 24 + rng.uniform(8, 22)
                subj = rng.choice(("Week-end en famille", "Rendez-vous médical de mardi",
                                 "Photos des vacances", "Anniversaire de Léa"))
                msg = Message(self.seq, at, (f"Famille {fam}", addr, -1),
                              [self.person(agent.idx)], [],
                            subj, f"Coucou {agent.first},\n\nÀ samedi !\n",
                            self.new_id(addr.split("@")[1]), 0, None, kind="personal", html=False)
                self.boxes[agent.idx].append(MailboxCopy(msg, "personal"))

    def drafts(self) -> None:
        rng = self.rng
        for agent in self.agents:
            for _ in range(rng.randint(0, 2) if rng.random() < 0.3 else 0):
                at = rng.randrange(self.cal.n_days) * 24 + self.sample_hour(agent.params, True)
                topic = rng.randrange(len(TOPICS))
                msg = Message(self.seq, at, self.person(agent.idx), [], [], self.subject(topic),
                            self.body(agent, 2, "", agent.params, agent.desktop),
                            self.new_id(self.domain), topic, agent.desktop, kind="draft")
                self.boxes[agent.idx].append(MailboxCopy(msg, "draft"))

    def run(self) -> list[Message]:
        """Deliver messages in time order; each delivery may spawn a reply, a forward, or an
        out-of-office answer, pushed back into the queue."""
        done: list[Message] = []
        while self.heap:
            at, _, msg = heapq.heappop(self.heap)
            if at >= self.cal.t_end:
                continue
            done.append(msg)
            si = msg.sender[2]
            if si >= 0 and msg.kind in ("orig", "reply", "fwd"):
                self.boxes[si].append(MailboxCopy(msg, "sent"))
            roles: dict[int, str] = {}
            if msg.kind == "bulk":
                for person in msg.bcc:
                    roles[person[2]] = "list"
            else:
                for role, people in (("to", msg.to), ("cc", msg.cc), ("bcc", msg.bcc)):
                    for person in people:
                        if person[2] >= 0 and person[2] != si and person[2] not in roles:
                            roles[person[2]] = role
            for i, role in roles.items():
                box_copy = MailboxCopy(msg, role)
                self.boxes[i].append(box_copy)
                if msg.kind in ("bulk", "robot", "auto"):
                    continue
                self.react(self.agents[i], box_copy, at)
            if si >= 0 and msg.kind in ("orig", "reply", "fwd"):
                ext = [person for person in msg.to
                       if person[2] < 0 and person[1].split("@")[1] in PARTNER_DOMAINS]
                if ext and msg.depth < 3 and self.rng.random() < 0.35:
                    self.partner_reply(ext[0], msg)
        return done

    def react(self, agent: Agent, box_copy: MailboxCopy, at: float) -> None:
        rng, msg, style = self.rng, box_copy.msg, agent.params
        day = int(at // 24)
        if day in agent.leave and msg.sender[2] != agent.idx:
            key = (agent.idx, msg.sender[2], day // 7)
            if msg.sender[2] >= 0 and key not in self.auto_sent:
                self.auto_sent.add(key)
                self.auto_reply(agent, msg, at)
        chance = style.reply_p * (0.4 ** msg.depth) * (1.0 if box_copy.role == "to" else 0.05)
        if msg.depth < 4 and rng.random() < chance:
            delay = style.reply_median_h * math.exp(0.8 * rng.gauss(0.0, 1.0))
            tr = self.when_acting(agent, at + delay)
            if tr < self.cal.t_end:
                box_copy.answered = True
                self.reply(agent, msg, tr)
        elif msg.depth < 3 and rng.random() < style.forward_p:
            tf = self.when_acting(agent, at + style.reply_median_h * rng.uniform(0.2, 2.0))
            if tf < self.cal.t_end:
                box_copy.forwarded = True
                self.forward(agent, msg, tf)

    def reply(self, agent: Agent, parent: Message, at: float) -> None:
        rng, style = self.rng, agent.params
        client = self.client_for(agent, at)
        to = [parent.sender]
        cc: list[tuple[str, str, int]] = []
        if rng.random() < style.reply_all:
            seen = {agent.address, parent.sender[1]}
            for person in parent.to + parent.cc:
                if person[1] not in seen:
                    seen.add(person[1])
                    cc.append(person)
        prefix = CLIENTS[client][2]
        base = strip_reply_prefixes(parent.subject)
        text = rng.choice(SHORT_REPLIES) if style.sentences[1] <= 2 else \
            " ".join(rng.sample(SENTENCES, rng.randint(1, style.sentences[1] - 1)))
        when = self.cal.aware(parent.t)
        quote = parent.body[:1500]
        if CLIENTS[client][2] == "RE: ":
            quoted = (f"\n-----Message d'origine-----\n"
                      f"De : {parent.sender[0]} <{parent.sender[1]}>\n"
                      f"Envoyé : {DAYS_FR[when.weekday()]} {when.day} {MONTHS_FR[when.month - 1]} "
                      f"{when.year} {when:%H:%M}\nObjet : {parent.subject}\n\n{quote}")
        else:
            quoted = f"\nLe {when:%d/%m/%Y à %H:%M}, {parent.sender[0]} a écrit :\n> " + \
                quote.replace("\n", "\n> ")
        sig = f"{agent.name}\n{agent.title}" if client == agent.desktop else "Envoyé de mon mobile"
        body = f"Bonjour,\n\n{text}\n\n{sig}\n{quoted}\n"
        msg = Message(self.seq, at, self.person(agent.idx), to, cc, prefix + base, body,
                    self.new_id(self.domain), parent.topic, client, in_reply_to=parent.msgid,
                    references=[*parent.references, parent.msgid][-8:], kind="reply",
                    depth=parent.depth + 1, attachments=self.attachments(style.attach_mult * 0.3))
        self.push(msg)

    def forward(self, agent: Agent, parent: Message, at: float) -> None:
        rng = self.rng
        client = self.client_for(agent, at)
        to_i = self.pick_contacts(agent.idx, rng.randint(1, 3 if agent.params.broadcasts else 1),
                                  self.cum_to[agent.idx], set())
        cc_i = self.pick_contacts(agent.idx, rng.randint(0, 3), self.cum_cc[agent.idx], set(to_i)) \
            if agent.params.broadcasts else []
        if not to_i:
            return
        body = (f"Pour information.\n\n{agent.name}\n\n-----Message d'origine-----\n"
                f"De : {parent.sender[0]}\nObjet : {parent.subject}\n\n{parent.body[:1500]}")
        msg = Message(self.seq, at, self.person(agent.idx), [self.person(j) for j in to_i],
                    [self.person(j) for j in cc_i], CLIENTS[client][3] + parent.subject, body,
                    self.new_id(self.domain), parent.topic, client,
                    references=[*parent.references, parent.msgid][-8:], kind="fwd",
                    depth=parent.depth + 1, attachments=list(parent.attachments))
        self.push(msg)

    def partner_reply(self, person: tuple[str, str, int], parent: Message) -> None:
        rng = self.rng
        at = parent.t + rng.uniform(1.0, 40.0)
        day, hour = int(at // 24), at % 24
        if not (0 <= day < self.cal.n_days and self.cal.workday[day] and 8 <= hour < 18.5):
            day += 1
            while day < self.cal.n_days and not self.cal.workday[day]:
                day += 1
            at = day * 24 + rng.uniform(8.5, 11.0)
        cc = [x for x in parent.cc if x[2] >= 0]
        subject = "RE: " + strip_reply_prefixes(parent.subject)
        msg = Message(self.seq, at, person, [parent.sender], cc, subject,
                    f"Bonjour,\n\nMerci pour votre message, je reviens vers vous.\n\n{person[0]}\n",
                    self.new_id(person[1].split("@")[1]), parent.topic, "outlook",
                    in_reply_to=parent.msgid, references=[*parent.references, parent.msgid][-8:],
                    kind="ext", depth=parent.depth + 1)
        self.push(msg)

    def auto_reply(self, agent: Agent, parent: Message, at: float) -> None:
        days = sorted(agent.leave)
        start = BASE_DATE + dt.timedelta(days=days[0])
        end = BASE_DATE + dt.timedelta(days=days[-1])
        mgr = self.agents[agent.manager].name if agent.manager is not None else "le secrétariat"
        body = (f"Bonjour,\n\nJe suis absent(e) du {start:%d/%m} au {end:%d/%m} inclus. "
                f"Pour toute urgence, merci de contacter {mgr}.\n\nCordialement,\n{agent.name}\n")
        msg = Message(self.seq, at + 0.001, self.person(agent.idx), [parent.sender], [],
                    "Réponse automatique : " + strip_reply_prefixes(parent.subject), body,
                    self.new_id(self.domain), parent.topic, None, kind="auto",
                    extra=[("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")],
                    html=False)
        self.push(msg)


def strip_reply_prefixes(subject: str) -> str:
    subject = subject
    while True:
        for person in ("RE: ", "Re: ", "TR: ", "Tr: ", "Fwd: "):
            if subject.startswith(person):
                subject = subject[len(person):]
                break
        else:
            return subject
