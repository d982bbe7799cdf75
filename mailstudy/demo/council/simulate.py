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
        r, cal = self.rng, self.cal
        for a in self.agents:
            b = a.params
            base = b.send_rate * LEVEL_SEND[a.rank]
            we_rate = base * 5 * b.weekend / (2 * (1 - b.weekend)) if b.weekend < 1 else base
            for d in range(cal.n_days):
                work = cal.workday[d]
                lam = base if work else we_rate
                if work and a.fte < 1:
                    lam *= 0.05 if (a.fte <= 0.8 and d % 7 == 2) else a.fte
                if d in a.leave:
                    lam *= 0.2 if b.acts_at_once else 0.0
                for _ in range(poisson(r, lam)):
                    self.original(a, b, d * 24 + self.sample_hour(b, work))
            # Partners writing to the agent.
            for d in range(cal.n_days):
                if cal.workday[d]:
                    for _ in range(poisson(r, 0.18 * LEVEL_SEND[a.rank])):
                        self.inbound(a, d * 24 + self.sample_hour(PARTNER_STYLE, True))

    def original(self, a: Agent, b: Behaviour, t: float) -> None:
        r = self.rng
        topic = r.randrange(len(TOPICS))
        cc_i: list[int] = []
        if r.random() < b.external_p:
            mine = self.my_partners[a.idx]
            to = [self.partners[j] for j in r.sample(mine, min(len(mine), r.randint(1, 2)))]
            if r.random() < 0.5:
                cc_i = self.pick_contacts(a.idx, 1, self.cum_cc[a.idx], set())
        else:
            to_i = self.pick_contacts(a.idx, r.randint(*b.n_to), self.cum_to[a.idx], set())
            to = [self.person(j) for j in to_i]
            cc_i = self.pick_contacts(a.idx, r.randint(*b.n_cc), self.cum_cc[a.idx], set(to_i))
        if not to:
            return
        bcc = []
        if b.broadcasts and r.random() < 0.1:
            bcc = [self.person(j) for j in self.pick_contacts(
                a.idx, 1, self.cum_cc[a.idx], {p[2] for p in to} | set(cc_i))]
        client = self.client_for(a, t)
        first = to[0][0].split(" ")[0]
        m = Message(self.seq, t, self.person(a.idx), to, [self.person(j) for j in cc_i],
                    self.subject(topic), self.body(a, len(to), first, b, client),
                    self.new_id(self.domain), topic, client, bcc=bcc,
                    attachments=self.attachments(b.attach_mult))
        if r.random() < b.urgent_p:
            m.extra.append(("Importance", "high"))
        self.push(m)

    def inbound(self, a: Agent, t: float) -> None:
        r = self.rng
        p = self.partners[r.choice(self.my_partners[a.idx])] if r.random() < 0.8 else \
            r.choice(self.others)
        topic = r.randrange(len(TOPICS))
        cc = [self.person(j) for j in self.pick_contacts(a.idx, 1, self.cum_cc[a.idx], set())] \
            if r.random() < 0.3 else []
        sender = Agent(-1, p[0].split(" ")[0], p[0].split(" ", 1)[1], False, p[1], 4,
                       "Chargé de mission", "", "Service partenaire", "", None, 1.0)
        client = "outlook" if r.random() < 0.8 else None
        body = self.body(sender, 1, a.first, PARTNER_STYLE, "outlook")
        m = Message(self.seq, t, p, [self.person(a.idx)], cc, self.subject(topic), body,
                    self.new_id(p[1].split("@")[1]), topic, client, kind="ext",
                    attachments=self.attachments(1.2))
        self.push(m)

    def bulk(self) -> None:
        """Newsletters (one message, many subscribers), the internal weekly and robots."""
        r, cal, n = self.rng, self.cal, len(self.agents)
        subs: list[list[int]] = [[] for _ in NEWSLETTERS]
        for a in self.agents:
            k = min(len(NEWSLETTERS), a.params.newsletters)
            for j in r.sample(range(len(NEWSLETTERS)), k):
                subs[j].append(a.idx)
        lists = [*NEWSLETTERS, ("L'hebdo de la Région", f"intranet@{self.domain}",
                                f"hebdo.intranet.{self.domain}",
                                "L'hebdo de la Région : les actualités internes", (0,), 9.0)]
        subs.append(list(range(n)))
        for (name, addr, list_id, subj, days, hour), who in zip(lists, subs, strict=True):
            if not who:
                continue
            for d in range(cal.n_days):
                if d % 7 not in days or not cal.workday[d]:
                    continue
                dom = addr.split("@")[1]
                m = Message(self.seq, d * 24 + hour + r.uniform(0, 0.2), (name, addr, -1),
                            [(name, addr, -1)], [], subj,
                            f"{subj}\n\nÀ la une cette semaine : finances locales, "
                            "transition écologique, ressources humaines.\n\nSe désinscrire : "
                            f"https://{dom}/desinscription\n", self.new_id(dom), 0, None,
                            kind="bulk",
                            extra=[("List-Id", f"{name} <{list_id}>"),
                                   ("List-Unsubscribe", f"<https://{dom}/desinscription>"),
                                   ("Precedence", "bulk")])
                m.bcc = [self.person(i) for i in who]  # delivery list, never a header
                self.push(m)
        robot = ("Parapheur électronique", f"ne-pas-repondre@{self.domain}", -1)
        for a in self.agents:
            lam = 0.3 if a.rank <= 3 else 0.05
            for d in range(cal.n_days):
                if cal.workday[d]:
                    for _ in range(poisson(r, lam)):
                        m = Message(self.seq, d * 24 + r.uniform(7.0, 19.0), robot,
                                    [self.person(a.idx)], [],
                                    "Parapheur : un document attend votre visa",
                                    "Un document attend votre visa dans le parapheur électronique."
                                    "\n\nCeci est un message automatique, merci de ne pas y "
                                    "répondre.\n", self.new_id(self.domain), 0, None, kind="robot",
                                    extra=[("Auto-Submitted", "auto-generated")], html=False)
                        self.push(m)

    def private(self) -> None:
        """A few agents keep personal mail in a 'Personnel' folder (collection must skip it)."""
        r = self.rng
        for a in self.agents:
            if not a.personal:
                continue
            fam = r.choice(LAST)
            addr = f"{fold_ascii(r.choice(FIRST_F))}.{fold_ascii(fam)}@{r.choice(PERSONAL_DOMAINS)}"
            for _ in range(r.randint(2, 5)):
                t = r.randrange(self.cal.n_days) * 24 + r.uniform(8, 22)
                subj = r.choice(("Week-end en famille", "Rendez-vous médical de mardi",
                                 "Photos des vacances", "Anniversaire de Léa"))
                m = Message(self.seq, t, (f"Famille {fam}", addr, -1), [self.person(a.idx)], [],
                            subj, f"Coucou {a.first},\n\nÀ samedi !\n",
                            self.new_id(addr.split("@")[1]), 0, None, kind="personal", html=False)
                self.boxes[a.idx].append(MailboxCopy(m, "personal"))

    def drafts(self) -> None:
        r = self.rng
        for a in self.agents:
            for _ in range(r.randint(0, 2) if r.random() < 0.3 else 0):
                t = r.randrange(self.cal.n_days) * 24 + self.sample_hour(a.params, True)
                topic = r.randrange(len(TOPICS))
                m = Message(self.seq, t, self.person(a.idx), [], [], self.subject(topic),
                            self.body(a, 2, "", a.params, a.desktop),
                            self.new_id(self.domain), topic, a.desktop, kind="draft")
                self.boxes[a.idx].append(MailboxCopy(m, "draft"))

    def run(self) -> list[Message]:
        """Deliver messages in time order; each delivery may spawn a reply, a forward, or an
        out-of-office answer, pushed back into the queue."""
        done: list[Message] = []
        while self.heap:
            t, _, m = heapq.heappop(self.heap)
            if t >= self.cal.t_end:
                continue
            done.append(m)
            si = m.sender[2]
            if si >= 0 and m.kind in ("orig", "reply", "fwd"):
                self.boxes[si].append(MailboxCopy(m, "sent"))
            roles: dict[int, str] = {}
            if m.kind == "bulk":
                for p in m.bcc:
                    roles[p[2]] = "list"
            else:
                for role, people in (("to", m.to), ("cc", m.cc), ("bcc", m.bcc)):
                    for p in people:
                        if p[2] >= 0 and p[2] != si and p[2] not in roles:
                            roles[p[2]] = role
            for i, role in roles.items():
                c = MailboxCopy(m, role)
                self.boxes[i].append(c)
                if m.kind in ("bulk", "robot", "auto"):
                    continue
                self.react(self.agents[i], c, t)
            if si >= 0 and m.kind in ("orig", "reply", "fwd"):
                ext = [p for p in m.to if p[2] < 0 and p[1].split("@")[1] in PARTNER_DOMAINS]
                if ext and m.depth < 3 and self.rng.random() < 0.35:
                    self.partner_reply(ext[0], m)
        return done

    def react(self, a: Agent, c: MailboxCopy, t: float) -> None:
        r, m, b = self.rng, c.msg, a.params
        d = int(t // 24)
        if d in a.leave and m.sender[2] != a.idx:
            key = (a.idx, m.sender[2], d // 7)
            if m.sender[2] >= 0 and key not in self.auto_sent:
                self.auto_sent.add(key)
                self.auto_reply(a, m, t)
        p = b.reply_p * (0.4 ** m.depth) * (1.0 if c.role == "to" else 0.05)
        if m.depth < 4 and r.random() < p:
            delay = b.reply_median_h * math.exp(0.8 * r.gauss(0.0, 1.0))
            tr = self.when_acting(a, t + delay)
            if tr < self.cal.t_end:
                c.answered = True
                self.reply(a, m, tr)
        elif m.depth < 3 and r.random() < b.forward_p:
            tf = self.when_acting(a, t + b.reply_median_h * r.uniform(0.2, 2.0))
            if tf < self.cal.t_end:
                c.forwarded = True
                self.forward(a, m, tf)

    def reply(self, a: Agent, parent: Message, t: float) -> None:
        r, b = self.rng, a.params
        client = self.client_for(a, t)
        to = [parent.sender]
        cc: list[tuple[str, str, int]] = []
        if r.random() < b.reply_all:
            seen = {a.address, parent.sender[1]}
            for p in parent.to + parent.cc:
                if p[1] not in seen:
                    seen.add(p[1])
                    cc.append(p)
        prefix = CLIENTS[client][2]
        base = strip_reply_prefixes(parent.subject)
        text = r.choice(SHORT_REPLIES) if b.sentences[1] <= 2 else \
            " ".join(r.sample(SENTENCES, r.randint(1, b.sentences[1] - 1)))
        when = self.cal.aware(parent.t)
        quote = parent.body[:1500]
        if CLIENTS[client][2] == "RE: ":
            q = (f"\n-----Message d'origine-----\nDe : {parent.sender[0]} <{parent.sender[1]}>\n"
                 f"Envoyé : {DAYS_FR[when.weekday()]} {when.day} {MONTHS_FR[when.month - 1]} "
                 f"{when.year} {when:%H:%M}\nObjet : {parent.subject}\n\n{quote}")
        else:
            q = f"\nLe {when:%d/%m/%Y à %H:%M}, {parent.sender[0]} a écrit :\n> " + \
                quote.replace("\n", "\n> ")
        sig = f"{a.name}\n{a.title}" if client == a.desktop else "Envoyé de mon mobile"
        body = f"Bonjour,\n\n{text}\n\n{sig}\n{q}\n"
        m = Message(self.seq, t, self.person(a.idx), to, cc, prefix + base, body,
                    self.new_id(self.domain), parent.topic, client, in_reply_to=parent.msgid,
                    references=[*parent.references, parent.msgid][-8:], kind="reply",
                    depth=parent.depth + 1, attachments=self.attachments(b.attach_mult * 0.3))
        self.push(m)

    def forward(self, a: Agent, parent: Message, t: float) -> None:
        r = self.rng
        client = self.client_for(a, t)
        to_i = self.pick_contacts(a.idx, r.randint(1, 3 if a.params.broadcasts else 1),
                                  self.cum_to[a.idx], set())
        cc_i = self.pick_contacts(a.idx, r.randint(0, 3), self.cum_cc[a.idx], set(to_i)) \
            if a.params.broadcasts else []
        if not to_i:
            return
        body = (f"Pour information.\n\n{a.name}\n\n-----Message d'origine-----\n"
                f"De : {parent.sender[0]}\nObjet : {parent.subject}\n\n{parent.body[:1500]}")
        m = Message(self.seq, t, self.person(a.idx), [self.person(j) for j in to_i],
                    [self.person(j) for j in cc_i], CLIENTS[client][3] + parent.subject, body,
                    self.new_id(self.domain), parent.topic, client,
                    references=[*parent.references, parent.msgid][-8:], kind="fwd",
                    depth=parent.depth + 1, attachments=list(parent.attachments))
        self.push(m)

    def partner_reply(self, p: tuple[str, str, int], parent: Message) -> None:
        r = self.rng
        t = parent.t + r.uniform(1.0, 40.0)
        d, h = int(t // 24), t % 24
        if not (0 <= d < self.cal.n_days and self.cal.workday[d] and 8 <= h < 18.5):
            d += 1
            while d < self.cal.n_days and not self.cal.workday[d]:
                d += 1
            t = d * 24 + r.uniform(8.5, 11.0)
        cc = [x for x in parent.cc if x[2] >= 0]
        subject = "RE: " + strip_reply_prefixes(parent.subject)
        m = Message(self.seq, t, p, [parent.sender], cc, subject,
                    f"Bonjour,\n\nMerci pour votre message, je reviens vers vous.\n\n{p[0]}\n",
                    self.new_id(p[1].split("@")[1]), parent.topic, "outlook",
                    in_reply_to=parent.msgid, references=[*parent.references, parent.msgid][-8:],
                    kind="ext", depth=parent.depth + 1)
        self.push(m)

    def auto_reply(self, a: Agent, parent: Message, t: float) -> None:
        days = sorted(a.leave)
        start = BASE_DATE + dt.timedelta(days=days[0])
        end = BASE_DATE + dt.timedelta(days=days[-1])
        mgr = self.agents[a.manager].name if a.manager is not None else "le secrétariat"
        body = (f"Bonjour,\n\nJe suis absent(e) du {start:%d/%m} au {end:%d/%m} inclus. "
                f"Pour toute urgence, merci de contacter {mgr}.\n\nCordialement,\n{a.name}\n")
        m = Message(self.seq, t + 0.001, self.person(a.idx), [parent.sender], [],
                    "Réponse automatique : " + strip_reply_prefixes(parent.subject), body,
                    self.new_id(self.domain), parent.topic, None, kind="auto",
                    extra=[("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")],
                    html=False)
        self.push(m)


def strip_reply_prefixes(subject: str) -> str:
    s = subject
    while True:
        for p in ("RE: ", "Re: ", "TR: ", "Tr: ", "Fwd: "):
            if s.startswith(p):
                s = s[len(p):]
                break
        else:
            return s
