"""A seeded synthetic regional council: Maildir++ mailboxes, an HR directory and ground truth.

Why: every stage (collect, directory, profile, personas, invite, report) needs realistic input
that carries real identities (so privacy leaks can be caught by canary scans) and a known latent
structure (so personas can be checked against the truth). Real mailboxes cannot ship in tests.

The council has French agents on a regional-council ladder, organised in directions and
services, each with one of four latent e-mail behaviours (``BEHAVIOURS``) drawn independently of
the level. Traffic is simulated in time order: original messages, replies (In-Reply-To,
References, RE: subjects), forwards (TR:), partner mail, newsletters (List-Id, Precedence: bulk),
robot notifications and out-of-office replies (Auto-Submitted). An internal message is written to
the sender's sent folder and to every internal recipient's mailbox with the same Message-ID.
Each behaviour shows in the owner's own mailbox: send times, clients, recipients, flags, filing.

Everything derives from ``random.Random(seed)`` and a fixed calendar (weeks from Monday
2026-09-07, Europe/Paris; the switch to winter time on 2026-10-25 gives both +0200 and +0100
offsets), so a seed always yields the same bytes. No wall-clock time is read.
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import heapq
import html
import io
import math
import os
import quopri
import random
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from email import quoprimime
from email.utils import encode_rfc2231, format_datetime, formataddr
from pathlib import Path
from zoneinfo import ZoneInfo

from imapclient import imap_utf7

TZ = ZoneInfo("Europe/Paris")
BASE_DATE = dt.date(2026, 9, 7)  # a Monday
HOST = "mbx01"
WORK_START, WORK_END = 8.0, 19.0

BEHAVIOURS = ("vigie_hors_horaires", "classeur_methodique", "diffuseur_en_copie",
              "lecteur_discret")
VIGIE, CLASSEUR, DIFFUSEUR, LECTEUR = range(4)

# Folder names as a French Outlook/Exchange mailbox shows them.
SENT = "Éléments envoyés"
TRASH = "Éléments supprimés"
DRAFTS = "Brouillons"
ARCHIVE = "Archives"
PERSONAL = "Personnel"
FILING_ROOT = "Dossiers"

DIRECTORY_HEADERS = ["Nom", "Prénom", "Courriel", "Intitulé de poste", "Catégorie", "Direction",
                     "Service", "Rôles", "Responsable", "Quotité"]

# The ladder, top first (rank = index).
LEVELS = ("DGS", "DGA", "directeur", "chef de service", "chef de projet", "gestionnaire",
          "agent")
LEVEL_SEND = (1.5, 1.4, 1.3, 1.2, 1.1, 1.0, 0.7)  # send-rate multiplier by rank

PARTNER_DOMAINS = ("nantes-metropole.test", "angers-loire-metropole.test",
                   "loire-atlantique.test", "pays-de-la-loire.gouv.test",
                   "cci-paysdelaloire.test", "univ-nantes.test")
OTHER_DOMAINS = ("entreprise-martineau.test", "cabinet-conseil-ouest.test", "laposte.test")
PERSONAL_DOMAINS = ("orange.test", "free.test")


@dataclass(frozen=True)
class Behaviour:
    """Parameters of one latent behaviour; rates are per working day."""
    send_rate: float  # original messages
    after_hours: float  # share of sends outside working hours on working days
    weekend: float  # share of originals on non-working days
    mobile: float  # share sent from a phone
    reply_p: float  # chance of replying to a message addressed To them
    reply_median_h: float
    reply_all: float
    n_to: tuple[int, int]
    n_cc: tuple[int, int]
    attach_mult: float
    forward_p: float  # chance of forwarding a received message
    read_p: float
    read_bulk_p: float
    file_p: float  # share of read mail moved out of the inbox
    trash_p: float
    flag_p: float
    newsletters: int  # optional newsletters subscribed
    sentences: tuple[int, int]
    to_weight: float  # how colleagues address them: To
    cc_weight: float  # ... and Cc
    external_p: float  # share of originals to partners


PARAMS: tuple[Behaviour, ...] = (
    Behaviour(0.8, 0.40, 0.12, 0.70, 0.60, 0.25, 0.3, (1, 2), (0, 1), 0.6, 0.02, 0.98, 0.7,
              0.08, 0.15, 0.04, 0, (1, 2), 1.2, 0.8, 0.25),
    Behaviour(0.35, 0.02, 0.0, 0.03, 0.40, 3.0, 0.2, (1, 2), (0, 1), 1.0, 0.02, 1.0, 0.95,
              0.85, 0.03, 0.10, 1, (3, 6), 1.0, 0.8, 0.12),
    Behaviour(0.4, 0.05, 0.01, 0.12, 0.30, 1.5, 0.9, (2, 4), (1, 4), 3.5, 0.18, 0.9, 0.5,
              0.10, 0.05, 0.03, 1, (2, 4), 1.0, 1.0, 0.15),
    Behaviour(0.08, 0.02, 0.0, 0.05, 0.10, 30.0, 0.1, (1, 1), (0, 0), 0.4, 0.005, 0.5, 0.1,
              0.02, 0.01, 0.01, 4, (1, 2), 0.35, 3.0, 0.08),
)

FIRST_F = ("Élodie", "Françoise", "Hélène", "Cécile", "Amélie", "Géraldine", "Valérie", "Sophie",
           "Nathalie", "Isabelle", "Sandrine", "Stéphanie", "Céline", "Aurélie", "Émilie",
           "Marie", "Camille", "Claire", "Anne", "Catherine", "Laurence", "Véronique", "Martine",
           "Sylvie", "Agnès", "Chloé", "Léa", "Manon", "Inès", "Noémie", "Zoé", "Maëlle",
           "Solène", "Anaïs", "Gaëlle", "Béatrice", "Mélanie", "Pauline", "Justine", "Margaux",
           "Océane", "Séverine", "Joëlle", "Marie-Hélène", "Anne-Sophie", "Delphine")
FIRST_M = ("Hervé", "François", "Jérôme", "Stéphane", "Frédéric", "Sébastien", "Grégory",
           "Thierry", "Philippe", "Laurent", "Nicolas", "Olivier", "Pierre", "Jean-Pierre",
           "Jean-Marc", "Éric", "Benoît", "Rémi", "Loïc", "Gaël", "Yannick", "Mickaël", "Cédric",
           "Jérémy", "Clément", "Théo", "Hugo", "Lucas", "Mathieu", "Antoine", "Julien",
           "Guillaume", "Maxime", "Alexandre", "Bruno", "Didier", "Patrick", "Gérard", "André",
           "Noël", "Joël", "Raphaël", "Damien", "Fabrice", "Pascal", "Xavier", "Yves", "Aurélien")
LAST = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
        "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
        "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert",
        "Bonnet", "François", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin",
        "Muller", "Henry", "Roussel", "Perrin", "Morin", "Mathieu", "Clément", "Gauthier",
        "Dumont", "Fontaine", "Chevalier", "Robin", "Masson", "Gérard", "Nguyen", "Boyer",
        "Denis", "Lemaire", "Duval", "Joly", "Roche", "Noël", "Meyer", "Lucas", "Meunier",
        "Pérez", "Marchand", "Dufour", "Blanchard", "Barbier", "Brun", "Dumas", "Brunet",
        "Leroux", "Colin", "Renard", "Arnaud", "Caron", "Aubert", "Giraud", "Leclerc", "Vidal",
        "Bourgeois", "Renaud", "Lemoine", "Picard", "Gaillard", "Lacroix", "Fabre", "Dupuis",
        "Hubert", "Rivière", "Le Gall", "Guillaume", "Ménard", "Fleury", "Deschamps", "Benoît",
        "Prévost", "Poirier", "Charpentier", "Huet", "Carré", "Le Goff", "Rémy", "Hervé",
        "Étienne", "Lebrun", "Tessier", "Hamon", "Jégou", "Le Bihan", "Daniélou", "Kerbrat",
        "D'Hondt", "Bréhier", "Thébault", "Gicquel", "Péan", "Chéneau")

DG = ("Direction générale des services", ["Secrétariat général"])
DIRECTIONS = (
    ("Direction des finances", ["Service du budget", "Service de l'exécution comptable",
                                "Service de la commande publique"]),
    ("Direction des lycées", ["Service des dotations des lycées",
                              "Service du patrimoine des lycées",
                              "Service du numérique éducatif"]),
    ("Direction des systèmes d'information", ["Service des infrastructures",
                                              "Service des applications métier",
                                              "Service de l'assistance aux utilisateurs"]),
    ("Direction juridique", ["Service des affaires juridiques", "Service des assemblées"]),
    ("Direction de l'économie", ["Service des aides aux entreprises", "Service de l'innovation",
                                 "Service de l'attractivité"]),
    ("Direction de la communication interne", ["Service de l'information interne",
                                               "Service de l'événementiel"]),
    ("Direction des ressources humaines", ["Service des carrières et de la paie",
                                           "Service de la formation",
                                           "Service de la qualité de vie au travail"]),
    ("Direction des transports", ["Service des transports scolaires",
                                  "Service du ferroviaire régional"]),
    ("Direction de la culture et du patrimoine", ["Service de l'action culturelle",
                                                  "Service de l'inventaire"]),
    ("Direction de l'environnement", ["Service de la transition énergétique",
                                      "Service de la biodiversité"]),
)

# Subjects and the folder a methodical filer puts them in.
TOPICS = (
    ("Budget primitif 2027 : arbitrages de la direction", "Budget"),
    ("Décision modificative n°2 – éléments à transmettre", "Budget"),
    ("Suivi des crédits de paiement – point mensuel", "Budget"),
    ("Facture n° {n} – demande de précisions", "Budget"),
    ("Réunion de service du {jour}", "Réunions"),
    ("Ordre du jour du comité de direction", "Réunions"),
    ("Compte rendu de la réunion d'équipe", "Réunions"),
    ("Préparation du séminaire des cadres", "Réunions"),
    ("Convocation : comité de pilotage du {jour}", "Projets"),
    ("Évaluation du dispositif d'aide aux entreprises", "Projets"),
    ("Schéma régional de développement économique : contributions", "Projets"),
    ("Point d'étape sur la dématérialisation des procédures", "Projets.Numérique"),
    ("Déploiement de l'ENT dans les lycées", "Projets.Lycées"),
    ("Travaux de rénovation énergétique – lycée Clemenceau", "Projets.Lycées"),
    ("Dotations de fonctionnement des lycées 2027", "Projets.Lycées"),
    ("Demande de subvention – dossier à compléter", "Partenaires"),
    ("Convention de partenariat avec la métropole", "Partenaires"),
    ("Marché public : analyse des offres", "Marchés publics"),
    ("Relecture du cahier des clauses techniques", "Marchés publics"),
    ("Projet de délibération pour la commission permanente", "Élus"),
    ("Note à l'attention du cabinet du président", "Élus"),
    ("Question écrite d'un élu – éléments de réponse", "Élus"),
    ("Planning des congés de fin d'année", "Ressources humaines"),
    ("Entretiens professionnels annuels : calendrier", "Ressources humaines"),
    ("Formation RGPD : inscriptions ouvertes", "Formation"),
    ("Demande d'accès à l'application de gestion financière", "Informatique"),
    ("Incident sur la messagerie – intervention prévue", "Informatique"),
    ("Mise à jour des procédures internes", "Procédures"),
    ("Bilan d'activité du service – premier semestre", "Rapports"),
    ("Rapport annuel de performance : relecture", "Rapports"),
)
SENTENCES = (
    "Je vous transmets les éléments demandés pour la réunion de jeudi.",
    "Pourriez-vous me confirmer votre disponibilité avant vendredi ?",
    "Le document a été mis à jour suite à nos échanges de la semaine dernière.",
    "Merci de bien vouloir relire la note et me faire part de vos remarques.",
    "La direction souhaite disposer d'une synthèse pour la prochaine commission permanente.",
    "Les crédits correspondants sont inscrits au budget de l'exercice en cours.",
    "Je reste à votre disposition pour tout complément d'information.",
    "Le calendrier prévisionnel est joint ; il reste à valider les dates de la phase deux.",
    "Nous avons reçu la réponse des services de l'État, qui appelle quelques précisions.",
    "Il conviendrait d'associer le service juridique à la rédaction de la convention.",
    "Le comité de pilotage a validé les orientations présentées lors de la dernière séance.",
    "Les lycées concernés ont été informés du report de l'intervention.",
    "Pouvez-vous vérifier le montant inscrit à la ligne 6574 du tableau ?",
    "Je propose que nous fassions un point rapide en début de semaine prochaine.",
    "Voici le compte rendu de notre échange téléphonique de ce matin.",
    "Les élus souhaitent un état d'avancement précis avant la fin du mois.",
)
SHORT_REPLIES = ("Bien reçu, merci.", "C'est noté, je m'en occupe.", "Merci pour ces éléments.",
                 "D'accord pour moi.", "Je regarde et je reviens vers toi rapidement.",
                 "Parfait, merci beaucoup.", "Ok pour jeudi.", "Je valide, vous pouvez envoyer.")
ATTACHMENTS = (
    ("Note de synthèse - budget 2027.pdf", "application/pdf", b"%PDF-1.7\n"),
    ("Convention de partenariat.pdf", "application/pdf", b"%PDF-1.7\n"),
    ("Délibération CP octobre.pdf", "application/pdf", b"%PDF-1.7\n"),
    ("Compte rendu COPIL lycées.docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04"),
    ("Projet de courrier - réponse élu.docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04"),
    ("Tableau de suivi des subventions.xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04"),
    ("Prévisions budgétaires DM2.xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04"),
    ("Présentation séminaire des cadres.pptx",
     "application/vnd.openxmlformats-officedocument.presentationml.presentation", b"PK\x03\x04"),
    ("Capture d'écran.png", "image/png", b"\x89PNG\r\n\x1a\n"),
    ("Plan d'accès salle Loire.png", "image/png", b"\x89PNG\r\n\x1a\n"),
)
NEWSLETTERS = (  # name, address, list id, subject, weekdays, hour
    ("La Gazette des communes", "newsletter@lagazette.test", "gazette.lagazette.test",
     "La Gazette : l'essentiel de l'actualité territoriale", (0, 2, 4), 7.25),
    ("Acteurs publics", "lettre@acteurspublics.test", "lettre.acteurspublics.test",
     "Acteurs publics : la lettre de la semaine", (1, 3), 8.0),
    ("Localtis", "info@banquedesterritoires.test", "localtis.banquedesterritoires.test",
     "Localtis : l'actualité des collectivités", (0, 2, 4), 6.75),
    ("CNFPT", "formations@cnfpt.test", "formations.cnfpt.test",
     "Catalogue des formations : nouveautés de la rentrée", (2,), 10.0),
    ("Régions de France", "actualites@regions-france.test", "actualites.regions-france.test",
     "Régions de France : actualités de la semaine", (4,), 16.0),
)
CLIENTS = {  # key -> (header, value, reply prefix, forward prefix, html alternative)
    "outlook": ("X-Mailer", "Microsoft Outlook 16.0", "RE: ", "TR: ", True),
    "thunderbird": ("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) "
                    "Gecko/20100101 Thunderbird/115.15.0", "Re: ", "Fwd: ", False),
    "apple_mail": ("X-Mailer", "Apple Mail (2.3774.600.62)", "Re: ", "Tr: ", True),
    "iphone": ("X-Mailer", "iPhone Mail (21G93)", "Re: ", "Tr: ", True),
    "android": ("User-Agent", "Outlook-Android/2.0", "RE: ", "TR: ", True),
    "webmail": ("User-Agent", "Roundcube Webmail/1.6.6", "Re: ", "Tr: ", True),
}
DESKTOP = (("outlook", 0.75), ("thunderbird", 0.12), ("apple_mail", 0.05), ("webmail", 0.08))
MOBILE = (("iphone", 0.55), ("android", 0.45))
DAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre")
FIXED_HOLIDAYS = ((1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25))


@dataclass
class Council:
    """What `generate_council` wrote, for tests and the demo."""
    root: Path
    mailboxes: Path
    directory_csv: Path
    ground_truth_csv: Path
    domain: str
    addresses: list[str]  # staff with a mailbox
    names: list[str]  # display names of everyone generated (staff, directory-only, partners)
    n_messages: int  # message files written
    partner_domains: list[str] = field(default_factory=list)
    directory_only: list[str] = field(default_factory=list)  # directory rows without mailbox


@dataclass
class _Agent:
    idx: int
    first: str
    last: str
    female: bool
    address: str
    rank: int
    title: str
    category: str
    direction: str
    service: str
    manager: int | None
    fte: float
    behaviour: int = 0
    roles: list[str] = field(default_factory=list)
    desktop: str = "outlook"
    mobile: str = "iphone"
    leave: frozenset[int] = frozenset()
    personal: bool = False

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass
class _Msg:
    seq: int
    t: float  # wall-clock hours since BASE_DATE 00:00 local
    sender: tuple[str, str, int]  # display name, address, agent index or -1
    to: list[tuple[str, str, int]]
    cc: list[tuple[str, str, int]]
    subject: str
    body: str
    msgid: str
    topic: int = 0
    client: str | None = "outlook"
    bcc: list[tuple[str, str, int]] = field(default_factory=list)
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    attachments: list[int] = field(default_factory=list)
    kind: str = "orig"  # orig, reply, fwd, ext, bulk, robot, auto, personal, draft
    depth: int = 0
    extra: list[tuple[str, str]] = field(default_factory=list)
    html: bool = True

    def __lt__(self, other: _Msg) -> bool:
        return self.seq < other.seq


@dataclass
class _Copy:
    msg: _Msg
    role: str  # sent, to, cc, bcc, list, personal, draft
    answered: bool = False
    forwarded: bool = False


def fold_ascii(text: str) -> str:
    """Address form of a name: accents dropped, lower case, spaces as hyphens."""
    s = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return s.lower().replace("'", "").replace(" ", "-")


def folder_dirname(name: str) -> str:
    """Maildir++ directory of a folder: '.' + its IMAP modified UTF-7 name."""
    return "." + imap_utf7.encode(name).decode("ascii")


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([k for k, _ in table], weights=[w for _, w in table])[0]


class _Calendar:
    def __init__(self, weeks: int) -> None:
        self.n_days = weeks * 7
        self.workday = []
        for d in range(self.n_days):
            day = BASE_DATE + dt.timedelta(days=d)
            self.workday.append(day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS)
        self.t_end = self.n_days * 24.0

    def aware(self, t: float) -> dt.datetime:
        day = int(t // 24)
        naive = dt.datetime.combine(BASE_DATE + dt.timedelta(days=day), dt.time()) + \
            dt.timedelta(seconds=int((t - day * 24) * 3600))
        return naive.replace(tzinfo=TZ)


# ---------------------------------------------------------------- organisation

def _build_agents(rng: random.Random, n: int, n_extra: int, domain: str) -> list[_Agent]:
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
    agents: list[_Agent] = []

    def make(rank: int, direction: str, service: str, manager: int | None,
             title_f: str, title_m: str) -> _Agent:
        female = rng.random() < 0.55
        first = rng.choice(FIRST_F if female else FIRST_M)
        last = rng.choice(LAST)
        local = f"{fold_ascii(first)}.{fold_ascii(last)}"
        used[local] = used.get(local, 0) + 1
        if used[local] > 1:
            local = f"{local}{used[local]}"
        cat = "A" if rank <= 4 else ("B" if rank == 5 and rng.random() < 0.65 else "C")
        fte = 1.0 if rank <= 2 else _pick(rng, (("1", 0.8), ("0.8", 0.12), ("0.9", 0.04),
                                                ("0.5", 0.02), ("0.6", 0.02)))
        a = _Agent(len(agents), first, last, female, f"{local}@{domain}", rank,
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
        u = rng.random()
        spec = {"Direction juridique": " juridique", "Direction des systèmes d'information":
                " informatique", "Direction de la communication interne": " communication"
                }.get(dname, "")
        if u < 0.22:
            if rng.random() < 0.5:
                make(4, dname, s, head, "Cheffe de projet" + spec, "Chef de projet" + spec)
            else:
                make(4, dname, s, head, "Chargée de mission" + spec, "Chargé de mission" + spec)
        elif u < 0.62:
            kind = rng.choice((" comptable", " administrative", " marchés publics", " RH"))
            if rng.random() < 0.8:
                make(5, dname, s, head, "Gestionnaire" + kind,
                     "Gestionnaire" + kind.replace("administrative", "administratif"))
            else:
                make(5, dname, s, head, "Assistante administrative", "Assistant administratif")
        else:
            kind = rng.choice((("Agente d'accueil", "Agent d'accueil"),
                               ("Agente administrative", "Agent administratif"),
                               ("Agente technique", "Agent technique")))
            make(6, dname, s, head, *kind)
    return agents


def _assign_roles(rng: random.Random, agents: list[_Agent]) -> None:
    def give(pool: list[_Agent], role: str, k: int) -> None:
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


def _assign_behaviours(rng: random.Random, agents: list[_Agent], weeks: int) -> None:
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
        a.desktop = _pick(rng, DESKTOP)
        a.mobile = _pick(rng, MOBILE)
        if rng.random() < 0.35:  # one week of leave
            w = rng.randrange(weeks)
            a.leave = frozenset(range(w * 7, w * 7 + 5))
        a.personal = rng.random() < 0.08


# ---------------------------------------------------------------- traffic

class _Sim:
    def __init__(self, rng: random.Random, agents: list[_Agent], cal: _Calendar, domain: str,
                 attachment_share: float) -> None:
        self.rng, self.agents, self.cal, self.domain = rng, agents, cal, domain
        self.attachment_share = attachment_share
        self.seq = 0
        self.heap: list[tuple[float, int, _Msg]] = []
        self.boxes: list[list[_Copy]] = [[] for _ in agents]
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
        for a in agents:
            ct, cc, s_to, s_cc = [], [], 0.0, 0.0
            for b in agents:
                if b.idx == a.idx:
                    w = 0.0
                elif b.service == a.service and b.direction == a.direction:
                    w = 6.0
                elif b.idx == a.manager or b.manager == a.idx:
                    w = 5.0
                elif b.direction == a.direction:
                    w = 2.0
                elif b.rank <= 2:
                    w = 0.8
                else:
                    w = 0.25 * (40 / max(n, 40))
                p = PARAMS[b.behaviour]
                s_to += w * p.to_weight
                s_cc += w * p.cc_weight
                ct.append(s_to)
                cc.append(s_cc)
            self.cum_to.append(ct)
            self.cum_cc.append(cc)

    def _externals(self, domains: tuple[str, ...], k: int) -> list[tuple[str, str, int]]:
        out, seen = [], set()
        for d in domains:
            for _ in range(k):
                female = self.rng.random() < 0.5
                first = self.rng.choice(FIRST_F if female else FIRST_M)
                last = self.rng.choice(LAST)
                addr = f"{fold_ascii(first)}.{fold_ascii(last)}@{d}"
                if addr not in seen:
                    seen.add(addr)
                    out.append((f"{first} {last}", addr, -1))
        return out

    # -- helpers
    def person(self, i: int) -> tuple[str, str, int]:
        a = self.agents[i]
        return (a.name, a.address, i)

    def new_id(self, domain: str) -> str:
        self.seq += 1
        return f"<{self.rng.getrandbits(64):016X}.{self.seq:06d}@{domain}>"

    def push(self, m: _Msg) -> None:
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

    def working(self, d: int, a: _Agent) -> bool:
        return 0 <= d < self.cal.n_days and self.cal.workday[d] and d not in a.leave

    def sample_hour(self, b: Behaviour, workday: bool) -> float:
        r = self.rng
        if not workday:
            return r.uniform(9.0, 22.5)
        if r.random() < b.after_hours:
            return r.uniform(19.1, 23.5) if r.random() < 0.75 else r.uniform(6.0, 7.9)
        if r.random() < 0.5:
            return r.triangular(8.0, 12.5, 10.0)
        return r.triangular(13.5, 19.0, 15.5)

    def when_acting(self, a: _Agent, t: float) -> float:
        """Shift an action (a reply, a forward) to when the agent would do it: the vigie acts
        at once; others wait for working time, with their small after-hours share."""
        b = PARAMS[a.behaviour]
        d, h = int(t // 24), t % 24
        if a.behaviour == VIGIE and (d not in a.leave or self.rng.random() < 0.2):
            return t
        if self.working(d, a):
            if WORK_START <= h < WORK_END:
                return t
            if (6.0 <= h < WORK_START or WORK_END <= h < 23.5) and \
                    self.rng.random() < b.after_hours:
                return t
        if self.working(d, a) and h < WORK_START:
            return d * 24 + WORK_START + self.rng.uniform(0.0, 1.5)
        d += 1
        while d < self.cal.n_days and not self.working(d, a):
            d += 1
        return d * 24 + WORK_START + self.rng.uniform(0.0, 2.5)

    def client_for(self, a: _Agent, t: float) -> str:
        b = PARAMS[a.behaviour]
        h, d = t % 24, int(t // 24)
        off = not (WORK_START <= h < WORK_END) or not self.working(d, a)
        p = min(1.0, b.mobile * (1.3 if off else 1.0))
        return a.mobile if self.rng.random() < p else a.desktop

    def body(self, a: _Agent, n_to: int, to_first: str, b: Behaviour, client: str) -> str:
        r = self.rng
        greet = "Bonjour à tous," if n_to > 1 else f"Bonjour {to_first},"
        text = " ".join(r.sample(SENTENCES, r.randint(*b.sentences)))
        sig = ("Envoyé de mon iPhone" if client == "iphone" else
               "Envoyé depuis Outlook pour Android" if client == "android" else
               f"{a.name}\n{a.title}\n{a.direction}\nRégion Pays de la Loire")
        close = r.choice(("Cordialement,", "Bien à vous,", "Merci d'avance,", "Bonne journée,"))
        return f"{greet}\n\n{text}\n\n{close}\n{sig}\n"

    def subject(self, topic: int) -> str:
        d = BASE_DATE + dt.timedelta(days=self.rng.randrange(self.cal.n_days))
        return TOPICS[topic][0].format(n=self.rng.randint(10000, 99999),
                                       jour=f"{d.day} {MONTHS_FR[d.month - 1]}")

    def attachments(self, mult: float) -> list[int]:
        if self.rng.random() < min(0.95, self.attachment_share * mult):
            return [self.rng.randrange(len(ATTACHMENTS))
                    for _ in range(1 if self.rng.random() < 0.8 else 2)]
        return []

    # -- generation
    def originals(self) -> None:
        r, cal = self.rng, self.cal
        for a in self.agents:
            b = PARAMS[a.behaviour]
            base = b.send_rate * LEVEL_SEND[a.rank]
            we_rate = base * 5 * b.weekend / (2 * (1 - b.weekend)) if b.weekend < 1 else base
            for d in range(cal.n_days):
                work = cal.workday[d]
                lam = base if work else we_rate
                if work and a.fte < 1:
                    lam *= 0.05 if (a.fte <= 0.8 and d % 7 == 2) else a.fte
                if d in a.leave:
                    lam *= 0.2 if a.behaviour == VIGIE else 0.0
                for _ in range(_poisson(r, lam)):
                    self.original(a, b, d * 24 + self.sample_hour(b, work))
            # Partners writing to the agent.
            for d in range(cal.n_days):
                if cal.workday[d]:
                    for _ in range(_poisson(r, 0.18 * LEVEL_SEND[a.rank])):
                        self.inbound(a, d * 24 + self.sample_hour(PARAMS[CLASSEUR], True))

    def original(self, a: _Agent, b: Behaviour, t: float) -> None:
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
        if a.behaviour == DIFFUSEUR and r.random() < 0.1:
            bcc = [self.person(j) for j in self.pick_contacts(
                a.idx, 1, self.cum_cc[a.idx], {p[2] for p in to} | set(cc_i))]
        client = self.client_for(a, t)
        first = to[0][0].split(" ")[0]
        m = _Msg(self.seq, t, self.person(a.idx), to, [self.person(j) for j in cc_i],
                 self.subject(topic), self.body(a, len(to), first, b, client),
                 self.new_id(self.domain), topic, client, bcc=bcc,
                 attachments=self.attachments(b.attach_mult))
        if r.random() < (0.1 if a.behaviour == VIGIE else 0.02):
            m.extra.append(("Importance", "high"))
        self.push(m)

    def inbound(self, a: _Agent, t: float) -> None:
        r = self.rng
        p = self.partners[r.choice(self.my_partners[a.idx])] if r.random() < 0.8 else \
            r.choice(self.others)
        topic = r.randrange(len(TOPICS))
        cc = [self.person(j) for j in self.pick_contacts(a.idx, 1, self.cum_cc[a.idx], set())] \
            if r.random() < 0.3 else []
        sender = _Agent(-1, p[0].split(" ")[0], p[0].split(" ", 1)[1], False, p[1], 4,
                        "Chargé de mission", "", "Service partenaire", "", None, 1.0)
        client = "outlook" if r.random() < 0.8 else None
        body = self.body(sender, 1, a.first, PARAMS[CLASSEUR], "outlook")
        m = _Msg(self.seq, t, p, [self.person(a.idx)], cc, self.subject(topic), body,
                 self.new_id(p[1].split("@")[1]), topic, client, kind="ext",
                 attachments=self.attachments(1.2))
        self.push(m)

    def bulk(self) -> None:
        """Newsletters (one message, many subscribers), the internal weekly and robots."""
        r, cal, n = self.rng, self.cal, len(self.agents)
        subs: list[list[int]] = [[] for _ in NEWSLETTERS]
        for a in self.agents:
            k = min(len(NEWSLETTERS), PARAMS[a.behaviour].newsletters)
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
                m = _Msg(self.seq, d * 24 + hour + r.uniform(0, 0.2), (name, addr, -1),
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
                    for _ in range(_poisson(r, lam)):
                        m = _Msg(self.seq, d * 24 + r.uniform(7.0, 19.0), robot,
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
                m = _Msg(self.seq, t, (f"Famille {fam}", addr, -1), [self.person(a.idx)], [],
                         subj, f"Coucou {a.first},\n\nÀ samedi !\n",
                         self.new_id(addr.split("@")[1]), 0, None, kind="personal", html=False)
                self.boxes[a.idx].append(_Copy(m, "personal"))

    def drafts(self) -> None:
        r = self.rng
        for a in self.agents:
            for _ in range(r.randint(0, 2) if r.random() < 0.3 else 0):
                t = r.randrange(self.cal.n_days) * 24 + self.sample_hour(PARAMS[a.behaviour], True)
                topic = r.randrange(len(TOPICS))
                m = _Msg(self.seq, t, self.person(a.idx), [], [], self.subject(topic),
                         self.body(a, 2, "", PARAMS[a.behaviour], a.desktop),
                         self.new_id(self.domain), topic, a.desktop, kind="draft")
                self.boxes[a.idx].append(_Copy(m, "draft"))

    def run(self) -> list[_Msg]:
        """Deliver messages in time order; each delivery may spawn a reply, a forward, or an
        out-of-office answer, pushed back into the queue."""
        done: list[_Msg] = []
        while self.heap:
            t, _, m = heapq.heappop(self.heap)
            if t >= self.cal.t_end:
                continue
            done.append(m)
            si = m.sender[2]
            if si >= 0 and m.kind in ("orig", "reply", "fwd"):
                self.boxes[si].append(_Copy(m, "sent"))
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
                c = _Copy(m, role)
                self.boxes[i].append(c)
                if m.kind in ("bulk", "robot", "auto"):
                    continue
                self.react(self.agents[i], c, t)
            if si >= 0 and m.kind in ("orig", "reply", "fwd"):
                ext = [p for p in m.to if p[2] < 0 and p[1].split("@")[1] in PARTNER_DOMAINS]
                if ext and m.depth < 3 and self.rng.random() < 0.35:
                    self.partner_reply(ext[0], m)
        return done

    def react(self, a: _Agent, c: _Copy, t: float) -> None:
        r, m, b = self.rng, c.msg, PARAMS[a.behaviour]
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

    def reply(self, a: _Agent, parent: _Msg, t: float) -> None:
        r, b = self.rng, PARAMS[a.behaviour]
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
        base = _strip_prefixes(parent.subject)
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
        m = _Msg(self.seq, t, self.person(a.idx), to, cc, prefix + base, body,
                 self.new_id(self.domain), parent.topic, client, in_reply_to=parent.msgid,
                 references=[*parent.references, parent.msgid][-8:], kind="reply",
                 depth=parent.depth + 1, attachments=self.attachments(b.attach_mult * 0.3))
        self.push(m)

    def forward(self, a: _Agent, parent: _Msg, t: float) -> None:
        r = self.rng
        client = self.client_for(a, t)
        to_i = self.pick_contacts(a.idx, r.randint(1, 3 if a.behaviour == DIFFUSEUR else 1),
                                  self.cum_to[a.idx], set())
        cc_i = self.pick_contacts(a.idx, r.randint(0, 3), self.cum_cc[a.idx], set(to_i)) \
            if a.behaviour == DIFFUSEUR else []
        if not to_i:
            return
        body = (f"Pour information.\n\n{a.name}\n\n-----Message d'origine-----\n"
                f"De : {parent.sender[0]}\nObjet : {parent.subject}\n\n{parent.body[:1500]}")
        m = _Msg(self.seq, t, self.person(a.idx), [self.person(j) for j in to_i],
                 [self.person(j) for j in cc_i], CLIENTS[client][3] + parent.subject, body,
                 self.new_id(self.domain), parent.topic, client,
                 references=[*parent.references, parent.msgid][-8:], kind="fwd",
                 depth=parent.depth + 1, attachments=list(parent.attachments))
        self.push(m)

    def partner_reply(self, p: tuple[str, str, int], parent: _Msg) -> None:
        r = self.rng
        t = parent.t + r.uniform(1.0, 40.0)
        d, h = int(t // 24), t % 24
        if not (0 <= d < self.cal.n_days and self.cal.workday[d] and 8 <= h < 18.5):
            d += 1
            while d < self.cal.n_days and not self.cal.workday[d]:
                d += 1
            t = d * 24 + r.uniform(8.5, 11.0)
        cc = [x for x in parent.cc if x[2] >= 0]
        m = _Msg(self.seq, t, p, [parent.sender], cc, "RE: " + _strip_prefixes(parent.subject),
                 f"Bonjour,\n\nMerci pour votre message, je reviens vers vous.\n\n{p[0]}\n",
                 self.new_id(p[1].split("@")[1]), parent.topic, "outlook",
                 in_reply_to=parent.msgid, references=[*parent.references, parent.msgid][-8:],
                 kind="ext", depth=parent.depth + 1)
        self.push(m)

    def auto_reply(self, a: _Agent, parent: _Msg, t: float) -> None:
        days = sorted(a.leave)
        start = BASE_DATE + dt.timedelta(days=days[0])
        end = BASE_DATE + dt.timedelta(days=days[-1])
        mgr = self.agents[a.manager].name if a.manager is not None else "le secrétariat"
        body = (f"Bonjour,\n\nJe suis absent(e) du {start:%d/%m} au {end:%d/%m} inclus. "
                f"Pour toute urgence, merci de contacter {mgr}.\n\nCordialement,\n{a.name}\n")
        m = _Msg(self.seq, t + 0.001, self.person(a.idx), [parent.sender], [],
                 "Réponse automatique : " + _strip_prefixes(parent.subject), body,
                 self.new_id(self.domain), parent.topic, None, kind="auto",
                 extra=[("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")],
                 html=False)
        self.push(m)


def _strip_prefixes(subject: str) -> str:
    s = subject
    while True:
        for p in ("RE: ", "Re: ", "TR: ", "Tr: ", "Fwd: "):
            if s.startswith(p):
                s = s[len(p):]
                break
        else:
            return s


# ---------------------------------------------------------------- rendering

def _hdr(value: str) -> str:
    """RFC 2047 Q-encoded words of at most 16 characters, folded; linear time, unlike
    ``email.header.Header.encode`` (quadratic in the length of the text)."""
    if value.isascii():
        return value
    words = [quoprimime.header_encode(value[i:i + 16].encode("utf-8"), "utf-8")
             for i in range(0, len(value), 16)]
    return "\n ".join(words)


def _addr(p: tuple[str, str, int]) -> str:
    return formataddr((p[0], p[1]), charset="utf-8")


def _addrs(people: list[tuple[str, str, int]]) -> str:
    return ",\n ".join(_addr(p) for p in people)


def _qp(text: str) -> bytes:
    return quopri.encodestring(text.encode("utf-8"))


class _Renderer:
    def __init__(self, rng: random.Random, cal: _Calendar, attachment_kb: int) -> None:
        self.rng, self.cal = rng, cal
        self.pool = rng.randbytes(max(1, attachment_kb) * 1024 * 4)
        self.kb = max(1, attachment_kb)
        self.n = 0

    def boundary(self) -> str:
        self.n += 1
        return f"----=_NextPart_{self.n:06X}_{self.rng.getrandbits(32):08X}"

    def text_part(self, m: _Msg) -> bytes:
        plain = (b"Content-Type: text/plain; charset=\"utf-8\"\n"
                 b"Content-Transfer-Encoding: quoted-printable\n\n" + _qp(m.body))
        if not m.html:
            return plain
        paras = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>"
                        for p in m.body.split("\n\n"))
        hpart = (b"Content-Type: text/html; charset=\"utf-8\"\n"
                 b"Content-Transfer-Encoding: quoted-printable\n\n"
                 + _qp(f"<html><head><meta charset=\"utf-8\"></head><body>{paras}</body></html>"))
        bd = self.boundary()
        return (f"Content-Type: multipart/alternative;\n boundary=\"{bd}\"\n\n"
                f"--{bd}\n").encode() + plain + f"\n--{bd}\n".encode() + hpart + \
            f"\n--{bd}--\n".encode()

    def mime(self, m: _Msg) -> bytes:
        """Content headers and body, shared by every copy of the message."""
        text = self.text_part(m)
        if not m.attachments:
            return text
        bd = self.boundary()
        out = [f"Content-Type: multipart/mixed;\n boundary=\"{bd}\"\n\n"
               "Ceci est un message en plusieurs parties au format MIME.\n\n"
               f"--{bd}\n".encode(), text]
        for k in m.attachments:
            name, ctype, magic = ATTACHMENTS[k]
            size = int(self.kb * 1024 * self.rng.uniform(0.5, 1.5))
            off = self.rng.randrange(len(self.pool) - size) if len(self.pool) > size else 0
            data = magic + self.pool[off:off + size]
            enc = encode_rfc2231(name, "utf-8")
            out.append(f"\n--{bd}\nContent-Type: {ctype};\n name*={enc}\n"
                       f"Content-Disposition: attachment;\n filename*={enc}\n"
                       "Content-Transfer-Encoding: base64\n\n".encode())
            out.append(base64.encodebytes(data))
        out.append(f"\n--{bd}--\n".encode())
        return b"".join(out)

    def headers(self, m: _Msg, *, with_bcc: bool) -> str:
        h = [f"From: {_addr(m.sender)}"]
        if m.to:
            h.append(f"To: {_addrs(m.to)}")
        if m.cc:
            h.append(f"Cc: {_addrs(m.cc)}")
        if with_bcc and m.bcc:
            h.append(f"Bcc: {_addrs(m.bcc)}")
        h.append(f"Subject: {_hdr(m.subject)}")
        h.append(f"Date: {format_datetime(self.cal.aware(m.t))}")
        h.append(f"Message-ID: {m.msgid}")
        if m.in_reply_to:
            h.append(f"In-Reply-To: {m.in_reply_to}")
        if m.references:
            h.append("References: " + "\n ".join(m.references))
        if m.client:
            name, value = CLIENTS[m.client][:2]
            h.append(f"{name}: {value}")
        for k, v in m.extra:
            h.append(f"{k}: {_hdr(v)}")
        h.append("Content-Language: fr-FR")
        h.append("MIME-Version: 1.0")
        return "\n".join(h) + "\n"

    def received(self, m: _Msg, domain: str) -> str:
        when = self.cal.aware(m.t) + dt.timedelta(seconds=2)
        return (f"Received: from mx.{domain} (mx.{domain} [10.12.0.25])\n by {HOST}.{domain} "
                f"with LMTP; {format_datetime(when)}\n")


# ---------------------------------------------------------------- mailboxes

def _place(rng: random.Random, a: _Agent, c: _Copy, cal: _Calendar) -> tuple[str, str]:
    """Folder and Maildir flags of one copy, from the owner's behaviour."""
    b, m = PARAMS[a.behaviour], c.msg
    if c.role == "sent":
        return SENT, "S"
    if c.role == "draft":
        return DRAFTS, "DS"
    if c.role == "personal":
        return PERSONAL, "S"
    bulk = m.kind in ("bulk", "robot", "auto")
    read_p = b.read_bulk_p if bulk else b.read_p * (0.8 if c.role == "cc" else 1.0)
    seen = c.answered or c.forwarded or rng.random() < read_p
    folder = ""
    if seen:
        u = rng.random()
        if u < b.file_p:
            if a.behaviour == CLASSEUR:
                sub = "Veille" if m.kind == "bulk" else TOPICS[m.topic][1]
                folder = f"{FILING_ROOT}.{sub}"
            else:
                folder = ARCHIVE
        elif u < b.file_p + b.trash_p * (2 if bulk else 1):
            folder = TRASH
    flags = ("F" if rng.random() < b.flag_p else "") + ("R" if c.answered else "") + \
        ("S" if seen else "")
    return folder, flags


def _write_mailboxes(rng: random.Random, agents: list[_Agent], sim: _Sim, cal: _Calendar,
                     out: Path, domain: str, attachment_kb: int) -> int:
    rend = _Renderer(rng, cal, attachment_kb)
    cache: dict[int, tuple[bytes, bytes]] = {}  # seq -> (headers, MIME part)
    n_files = 0
    new_after = cal.t_end - 48.0
    for a in agents:
        box = out / a.address
        made: set[str] = set()

        def ensure(folder: str, box: Path = box, made: set[str] = made) -> Path:
            path = box / folder_dirname(folder) if folder else box
            if folder not in made:
                for sub in ("cur", "new", "tmp"):
                    (path / sub).mkdir(parents=True, exist_ok=True)
                if folder:
                    (path / "maildirfolder").write_bytes(b"")
                made.add(folder)
            return path

        ensure("")
        ensure(SENT)
        ensure(TRASH)
        if a.behaviour == CLASSEUR:
            ensure(FILING_ROOT)
        for c in sorted(sim.boxes[a.idx], key=lambda c: (c.msg.t, c.msg.seq)):
            m = c.msg
            if m.seq not in cache:
                cache[m.seq] = (rend.headers(m, with_bcc=False).encode("ascii"), rend.mime(m))
            head, body = cache[m.seq]
            if c.role in ("sent", "draft"):
                # Only the sender's copy shows Bcc.
                data = (rend.headers(m, with_bcc=True).encode("ascii") if m.bcc else head) + body
            else:
                data = rend.received(m, domain).encode("ascii") + head + body
            folder, flags = _place(rng, a, c, cal)
            path = ensure(folder)
            epoch = int(cal.aware(m.t).timestamp())
            n_files += 1
            base = f"{epoch}.M{m.seq % 1000000}P{n_files}.{HOST}"
            if "S" not in flags and folder == "" and m.t >= new_after:
                fpath = path / "new" / base
            else:
                fpath = path / "cur" / f"{base}:2,{flags}"
            fpath.write_bytes(data)
            os.utime(fpath, (epoch, epoch))
    return n_files


def _write_directory(path: Path, agents: list[_Agent]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(DIRECTORY_HEADERS)
    # HR exports come sorted by name, not by hierarchy.
    for a in sorted(agents, key=lambda a: (fold_ascii(a.last), fold_ascii(a.first), a.idx)):
        mgr = agents[a.manager].address if a.manager is not None else ""
        fte = f"{a.fte:g}".replace(".", ",")  # French Excel writes a decimal comma
        w.writerow([a.last, a.first, a.address, a.title,
                    a.category, a.direction, a.service, ",".join(a.roles), mgr, fte])
    path.write_bytes(buf.getvalue().encode("cp1252"))


def generate_council(root: Path, *, n_agents: int = 120, weeks: int = 6, seed: int = 0,
                     domain: str = "paysdelaloire.test", attachment_share: float = 0.15,
                     attachment_kb: int = 4, n_without_mailbox: int = 0) -> Council:
    """Write a synthetic council under ``root`` and describe it.

    ``attachment_share`` is the baseline share of original messages carrying an attachment
    (behaviours scale it); ``n_without_mailbox`` adds directory rows with no mailbox (people who
    never appear in the traffic), as in real HR exports."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    root = Path(root)
    rng = random.Random(seed)
    cal = _Calendar(weeks)
    everyone = _build_agents(rng, n_agents, n_without_mailbox, domain)
    # Directory-only people are drawn from the end of the rank-sorted rest: move them last.
    staff, extra = everyone[:n_agents], everyone[n_agents:]
    _assign_roles(rng, staff)
    _assign_behaviours(rng, staff, weeks)
    sim = _Sim(rng, staff, cal, domain, attachment_share)
    sim.originals()
    sim.bulk()
    sim.run()
    sim.private()
    sim.drafts()
    mailboxes = root / "mailboxes"
    mailboxes.mkdir(parents=True, exist_ok=True)
    n_files = _write_mailboxes(rng, staff, sim, cal, mailboxes, domain, attachment_kb)
    directory_csv = root / "annuaire.csv"
    _write_directory(directory_csv, everyone)
    gt = root / "ground_truth.csv"
    gt.write_bytes(("address,behaviour\n" + "".join(
        f"{a.address},{BEHAVIOURS[a.behaviour]}\n" for a in staff)).encode("utf-8"))
    return Council(root=root, mailboxes=mailboxes, directory_csv=directory_csv,
                   ground_truth_csv=gt, domain=domain, addresses=[a.address for a in staff],
                   names=[a.name for a in everyone] + sim.people_names, n_messages=n_files,
                   partner_domains=list(PARTNER_DOMAINS),
                   directory_only=[a.address for a in extra])


def main(argv: list[str] | None = None) -> int:
    """``python -m mailstudy.synth OUT --agents N --weeks W --seed S``: prints counts only."""
    ap = argparse.ArgumentParser(prog="python -m mailstudy.synth", description=main.__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--agents", type=int, default=120)
    ap.add_argument("--weeks", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--domain", default="paysdelaloire.test")
    ap.add_argument("--without-mailbox", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    c = generate_council(args.out, n_agents=args.agents, weeks=args.weeks, seed=args.seed,
                         domain=args.domain, n_without_mailbox=args.without_mailbox)
    print(f"agents={len(c.addresses)} directory_only={len(c.directory_only)} "
          f"messages={c.n_messages} seconds={time.perf_counter() - t0:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
