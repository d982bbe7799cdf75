"""The council's fixed data: calendar constants, latent behaviours and their parameters,
French names, directions and services, topics, phrases, attachments, newsletters, mail clients.

Pure data tables (no logic), so they may exceed the usual module length.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

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
    acts_at_once: bool = False  # replies at any hour, even on leave (the vigie)
    files_by_topic: bool = False  # files read mail in topic folders (the classeur)
    broadcasts: bool = False  # forwards to several, copies and Bcc (the diffuseur)
    urgent_p: float = 0.02  # share of originals marked high importance


PARAMS: tuple[Behaviour, ...] = (
    Behaviour(0.8, 0.40, 0.12, 0.70, 0.60, 0.25, 0.3, (1, 2), (0, 1), 0.6, 0.02, 0.98, 0.7,
              0.08, 0.15, 0.04, 0, (1, 2), 1.2, 0.8, 0.25, acts_at_once=True, urgent_p=0.1),
    Behaviour(0.35, 0.02, 0.0, 0.03, 0.40, 3.0, 0.2, (1, 2), (0, 1), 1.0, 0.02, 1.0, 0.95,
              0.85, 0.03, 0.10, 1, (3, 6), 1.0, 0.8, 0.12, files_by_topic=True),
    Behaviour(0.4, 0.05, 0.01, 0.12, 0.30, 1.5, 0.9, (2, 4), (1, 4), 3.5, 0.18, 0.9, 0.5,
              0.10, 0.05, 0.03, 1, (2, 4), 1.0, 1.0, 0.15, broadcasts=True),
    Behaviour(0.08, 0.02, 0.0, 0.05, 0.10, 30.0, 0.1, (1, 1), (0, 0), 0.4, 0.005, 0.5, 0.1,
              0.02, 0.01, 0.01, 4, (1, 2), 0.35, 3.0, 0.08),
)
PARTNER_STYLE = PARAMS[CLASSEUR]  # how partners write: office hours, a few sentences

# A behaviour table: (name, parameters, share of agents). The default council has the four
# behaviours above in equal shares; ``generate_council(behaviours=...)`` takes any table.
BehaviourTable = tuple[tuple[str, Behaviour, float], ...]
COUNCIL_BEHAVIOURS: BehaviourTable = tuple((name, params, 0.25)
                                           for name, params in zip(BEHAVIOURS, PARAMS,
                                                                   strict=True))
# Two more behaviours for larger tables: the mobile "nomade" (on the phone in office hours:
# sends little, answers most of what reaches them, briefly and to one person, deletes rather
# than files, leaves newsletters unread) and the "relais" to partners (external mail,
# attachments, long texts).
NOMADE = Behaviour(0.3, 0.03, 0.0, 0.9, 0.9, 1.0, 0.05, (1, 1), (0, 0), 0.3, 0.01, 0.95,
                   0.2, 0.02, 0.4, 0.01, 2, (1, 1), 1.0, 0.8, 0.1)
RELAIS = Behaviour(0.5, 0.03, 0.0, 0.05, 0.5, 6.0, 0.3, (1, 2), (1, 2), 3.0, 0.03, 0.95, 0.6,
                   0.3, 0.05, 0.05, 2, (4, 8), 0.8, 0.8, 0.7)
SIX_BEHAVIOURS: BehaviourTable = (
    ("vigie_hors_horaires", PARAMS[VIGIE], 0.1), ("classeur_methodique", PARAMS[CLASSEUR], 0.25),
    ("diffuseur_en_copie", PARAMS[DIFFUSEUR], 0.15), ("lecteur_discret", PARAMS[LECTEUR], 0.2),
    ("nomade_mobile", NOMADE, 0.12), ("relais_partenaires", RELAIS, 0.18))

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
