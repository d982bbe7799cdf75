"""Vocabulary of the persona sheets (FR/EN), as pure data: feature labels and unit kinds, trait
phrases (epithets, behaviour sentences, taglines), goal and frustration rules, first names and
weekdays. Every persona text is built from these tables by fixed rules
(:mod:`mailstudy.personas.describe`), never written by hand for one study.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Trait:
    """How a persona far above (``high``) or below (``low``) the organisation on one feature is
    told: an epithet (masculine and feminine French forms, English), a behaviour sentence with
    ``{v}`` (persona median) and ``{m}`` (organisation median), and a quote-like tagline."""

    fr_m: str
    fr_f: str
    en: str
    do_fr: str
    do_en: str
    quote_fr: str
    quote_en: str


# Feature -> (French label, English label, unit kind). Unit kinds drive number formatting.
LABELS: dict[str, tuple[str, str, str]] = {
    "sent_per_day": ("messages envoyés par jour ouvré", "messages sent per working day", "rate"),
    "received_per_day": ("messages reçus par jour ouvré", "messages received per working day",
                         "rate"),
    "after_hours_share": ("envois hors horaires", "sent after hours", "share"),
    "weekend_share": ("envois les jours non travaillés", "sent on non-working days", "share"),
    "workday_span_h": ("amplitude de la journée de courriel", "daily mail span", "hours"),
    "reply_delay_h": ("délai de réponse médian", "median reply delay", "hours"),
    "reply_rate": ("taux de réponse", "reply rate", "share"),
    "cc_share": ("reçus en simple copie", "received as cc only", "share"),
    "recipients_per_sent": ("destinataires par envoi", "recipients per message sent", "rate"),
    "reply_all_rate": ("réponses à tous", "reply-all rate", "share"),
    "external_share": ("destinataires extérieurs", "external recipients", "share"),
    "attachment_rate": ("envois avec pièce jointe", "sent with an attachment", "share"),
    "sent_text_kb": ("taille du texte envoyé", "size of text sent", "kb"),
    "unread_share": ("reçus non lus", "received and unread", "share"),
    "filing_rate": ("messages classés", "messages filed", "share"),
    "folder_count": ("dossiers utilisés", "folders used", "count"),
    "bulk_share": ("messages automatiques reçus", "bulk mail received", "share"),
    "mobile_share": ("envois depuis un mobile", "sent from a mobile", "share"),
    "forward_rate": ("transferts parmi les envois", "forwards among messages sent", "share"),
}

ORG_FR = "organisation : {m}"
ORG_EN = "organisation: {m}"


def _t(fr_m: str, fr_f: str, en: str, do_fr: str, do_en: str, q_fr: str, q_en: str) -> Trait:
    return Trait(fr_m, fr_f, en, do_fr + f" ({ORG_FR}).", do_en + f" ({ORG_EN}).",
                 f"« {q_fr} »", f"“{q_en}”")


# (feature, +1 high / -1 low) -> Trait.
TRAITS: dict[tuple[str, int], Trait] = {
    ("sent_per_day", 1): _t(
        "le grand rédacteur", "la grande rédactrice", "the prolific writer",
        "Écrit beaucoup : {v} messages envoyés par jour ouvré",
        "Writes a lot: {v} messages sent per working day",
        "Si ce n'est pas écrit, ça n'existe pas.", "If it isn't in writing, it didn't happen."),
    ("sent_per_day", -1): _t(
        "l'économe du clavier", "l'économe du clavier", "the sparing writer",
        "Écrit peu : {v} messages envoyés par jour ouvré",
        "Writes little: {v} messages sent per working day",
        "Un appel vaut mieux que trois courriels.", "A call beats three e-mails."),
    ("received_per_day", 1): _t(
        "le destinataire submergé", "la destinataire submergée", "the swamped recipient",
        "Reçoit beaucoup : {v} messages par jour ouvré, hors envois automatiques",
        "Receives a lot: {v} messages per working day, bulk excluded",
        "Ma boîte se remplit plus vite que je ne la vide.",
        "My inbox fills faster than I can empty it."),
    ("received_per_day", -1): _t(
        "le discret", "la discrète", "the quiet one",
        "Reçoit peu : {v} messages par jour ouvré", "Receives little: {v} messages per working day",
        "Le courriel, c'est pour l'essentiel.", "E-mail is for what matters."),
    ("after_hours_share", 1): _t(
        "la vigie hors horaires", "la vigie hors horaires", "the after-hours lookout",
        "Écrit souvent en dehors des heures de travail : {v} de ses envois",
        "Often writes outside working hours: {v} of messages sent",
        "Le soir, c'est enfin calme pour répondre.",
        "Evenings are when I can finally answer in peace."),
    ("after_hours_share", -1): _t(
        "le ponctuel", "la ponctuelle", "the nine-to-fiver",
        "Envoie presque tout pendant les heures de travail : {v} hors horaires",
        "Sends almost everything within working hours: {v} after hours",
        "Après l'heure, ce n'est plus l'heure.", "After hours is after hours."),
    ("weekend_share", 1): _t(
        "le veilleur du week-end", "la veilleuse du week-end", "the weekend watcher",
        "Écrit aussi les jours non travaillés : {v} de ses envois",
        "Also writes on non-working days: {v} of messages sent",
        "Le lundi se prépare le dimanche.", "Monday is prepared on Sunday."),
    ("weekend_share", -1): _t(
        "le gardien des week-ends", "la gardienne des week-ends", "the weekend keeper",
        "N'écrit presque jamais les jours non travaillés : {v} de ses envois",
        "Almost never writes on non-working days: {v} of messages sent",
        "Le week-end, la boîte reste fermée.", "At weekends the inbox stays shut."),
    ("workday_span_h", 1): _t(
        "le marathonien", "la marathonienne", "the marathon runner",
        "Étale ses envois sur de longues journées : {v} entre le premier et le dernier",
        "Spreads sending over long days: {v} between first and last message",
        "Du premier café au dernier train, je reste en ligne.",
        "From first coffee to last train, I stay online."),
    ("workday_span_h", -1): _t(
        "le concentré", "la concentrée", "the focused one",
        "Regroupe ses envois sur une plage courte : {v} entre le premier et le dernier",
        "Sends within a short window: {v} between first and last message",
        "Je traite mes courriels en un seul créneau.", "I handle my mail in one slot."),
    ("reply_delay_h", 1): _t(
        "le temporisateur", "la temporisatrice", "the slow burner",
        "Prend son temps pour répondre : délai médian de {v}",
        "Takes time to reply: median delay of {v}",
        "Une bonne réponse vaut mieux qu'une réponse rapide.",
        "A good answer beats a fast one."),
    ("reply_delay_h", -1): _t(
        "le réactif", "la réactive", "the quick responder",
        "Répond vite : délai médian de {v}", "Replies fast: median delay of {v}",
        "Je réponds dans l'heure, c'est une question de respect.",
        "I answer within the hour; it's a matter of respect."),
    ("reply_rate", 1): _t(
        "le correspondant fidèle", "la correspondante fidèle", "the faithful correspondent",
        "Répond plus souvent que l'organisation aux messages qui lui sont adressés : {v}",
        "Replies more often than most to messages addressed to them: {v}",
        "Chaque message mérite une réponse.", "Every message deserves an answer."),
    ("reply_rate", -1): _t(
        "le sélectif", "la sélective", "the selective replier",
        "Répond moins souvent que l'organisation aux messages qui lui sont adressés : {v}",
        "Replies to few messages addressed to them: {v}",
        "Tout ne demande pas de réponse.", "Not everything needs an answer."),
    ("cc_share", 1): _t(
        "l'informé en copie", "l'informée en copie", "the cc'd observer",
        "Est souvent en simple copie : {v} des messages reçus",
        "Is often only in cc: {v} of messages received",
        "On me met en copie, au cas où.", "I'm copied in, just in case."),
    ("cc_share", -1): _t(
        "le destinataire direct", "la destinataire directe", "the direct addressee",
        "Est rarement en simple copie : {v} des messages reçus",
        "Is rarely only in cc: {v} of messages received",
        "Si l'on m'écrit, c'est qu'on attend quelque chose de moi.",
        "If I'm written to, something is expected of me."),
    ("recipients_per_sent", 1): _t(
        "le diffuseur", "la diffuseuse", "the broadcaster",
        "Écrit à beaucoup de monde à la fois : {v} destinataires par envoi",
        "Writes to many people at once: {v} recipients per message",
        "Mieux vaut informer tout le monde.", "Better to keep everyone informed."),
    ("recipients_per_sent", -1): _t(
        "l'interlocuteur direct", "l'interlocutrice directe", "the one-to-one writer",
        "Écrit surtout en tête-à-tête : {v} destinataires par envoi",
        "Writes mostly one-to-one: {v} recipients per message",
        "Un message, une personne.", "One message, one person."),
    ("reply_all_rate", 1): _t(
        "l'adepte du « répondre à tous »", "l'adepte du « répondre à tous »",
        "the reply-all enthusiast",
        "Répond souvent à tous : {v} de ses réponses",
        "Often replies to all: {v} of replies",
        "Que tout le monde ait la même information.", "Everyone should have the same news."),
    ("reply_all_rate", -1): _t(
        "le tireur d'élite", "la tireuse d'élite", "the sharpshooter",
        "Répond rarement à tous : {v} de ses réponses",
        "Rarely replies to all: {v} of replies",
        "Je ne réponds qu'à qui a besoin de savoir.", "I answer only those who need to know."),
    ("external_share", 1): _t(
        "le passeur de frontières", "la passeuse de frontières", "the boundary spanner",
        "Échange beaucoup avec l'extérieur : {v} de destinataires extérieurs",
        "Deals a lot with the outside: {v} of recipients are external",
        "Mon travail se fait avec les partenaires.", "My work is done with partners."),
    ("external_share", -1): _t(
        "le pilier de la maison", "le pilier de la maison", "the inward-facing colleague",
        "Écrit presque seulement en interne : {v} de destinataires extérieurs",
        "Writes almost only internally: {v} of recipients are external",
        "Mes interlocuteurs sont dans la maison.", "The people I work with are in-house."),
    ("attachment_rate", 1): _t(
        "le porteur de pièces jointes", "la porteuse de pièces jointes",
        "the attachment carrier",
        "Joint souvent des documents : {v} de ses envois",
        "Often attaches documents: {v} of messages sent",
        "Je vous mets le document en pièce jointe.", "Please find the document attached."),
    ("attachment_rate", -1): _t(
        "le messager léger", "la messagère légère", "the light traveller",
        "Joint rarement des documents : {v} de ses envois",
        "Rarely attaches documents: {v} of messages sent",
        "Un lien suffit, pas besoin de pièce jointe.", "A link will do; no attachment needed."),
    ("sent_text_kb", 1): _t(
        "la plume détaillée", "la plume détaillée", "the detailed writer",
        "Écrit des messages longs : {v} de texte en médiane",
        "Writes long messages: {v} of text (median)",
        "Autant tout expliquer dans le message.", "Might as well explain it all in the message."),
    ("sent_text_kb", -1): _t(
        "l'adepte du mot bref", "l'adepte du mot bref", "the brief writer",
        "Écrit des messages courts : {v} de texte en médiane",
        "Writes short messages: {v} of text (median)",
        "Court, clair, envoyé.", "Short, clear, sent."),
    ("unread_share", 1): _t(
        "le débordé", "la débordée", "the overwhelmed",
        "Laisse beaucoup de messages non lus : {v} des messages reçus",
        "Leaves many messages unread: {v} of messages received",
        "Je lirai ça plus tard…", "I'll read that later…"),
    ("unread_share", -1): _t(
        "le lecteur assidu", "la lectrice assidue", "the thorough reader",
        "Lit presque tout : {v} de non-lus", "Reads almost everything: {v} unread",
        "Je ne laisse rien de non lu.", "I leave nothing unread."),
    ("filing_rate", 1): _t(
        "le classeur méthodique", "la classeuse méthodique", "the methodical filer",
        "Classe ses messages dans des dossiers : {v} hors boîte de réception",
        "Files messages in folders: {v} outside the inbox",
        "Chaque message à sa place.", "A place for every message."),
    ("filing_rate", -1): _t(
        "l'adepte de la boîte unique", "l'adepte de la boîte unique", "the single-inbox keeper",
        "Laisse ses messages dans la boîte de réception : {v} classés ailleurs",
        "Keeps messages in the inbox: {v} filed elsewhere",
        "Tout est dans ma boîte, la recherche fait le reste.",
        "It's all in my inbox; search does the rest."),
    ("folder_count", 1): _t(
        "l'architecte des dossiers", "l'architecte des dossiers", "the folder architect",
        "Entretient une arborescence riche : {v} dossiers",
        "Keeps a rich folder tree: {v} folders",
        "Mon arborescence, c'est ma mémoire.", "My folder tree is my memory."),
    ("folder_count", -1): _t(
        "le minimaliste", "la minimaliste", "the minimalist",
        "Utilise peu de dossiers : {v}", "Uses few folders: {v}",
        "Trois dossiers, pas plus.", "Three folders, no more."),
    ("bulk_share", 1): _t(
        "le lecteur de lettres d'info", "la lectrice de lettres d'info", "the newsletter reader",
        "Reçoit beaucoup de listes et de notifications : {v} des messages reçus",
        "Receives many lists and notifications: {v} of messages received",
        "Les lettres d'information, je les garde pour plus tard.",
        "Newsletters? I keep them for later."),
    ("bulk_share", -1): _t(
        "le désabonné", "la désabonnée", "the unsubscriber",
        "Reçoit peu de messages automatiques : {v} des messages reçus",
        "Receives little bulk mail: {v} of messages received",
        "Je me désabonne de tout ce qui ne sert pas.", "I unsubscribe from anything useless."),
    ("mobile_share", 1): _t(
        "le nomade", "la nomade", "the nomad",
        "Écrit souvent depuis un téléphone : {v} de ses envois",
        "Often writes from a phone: {v} of messages sent",
        "Je réponds entre deux réunions, depuis mon téléphone.",
        "I answer between meetings, from my phone."),
    ("mobile_share", -1): _t(
        "le sédentaire", "la sédentaire", "the desk-bound",
        "Écrit presque toujours depuis un poste de travail : {v} depuis un mobile",
        "Almost always writes from a desk: {v} from a mobile",
        "Le courriel, c'est au bureau.", "E-mail is for the office."),
    ("forward_rate", 1): _t(
        "le relais", "le relais", "the relay",
        "Transfère souvent des messages : {v} de ses envois",
        "Often forwards messages: {v} of messages sent",
        "Je fais suivre à la bonne personne.", "I pass it on to the right person."),
    ("forward_rate", -1): _t(
        "l'auteur d'origine", "l'autrice d'origine", "the original author",
        "Transfère rarement : {v} de ses envois", "Rarely forwards: {v} of messages sent",
        "Je reformule plutôt que de transférer.", "I rephrase rather than forward."),
}

# A persona with no distinctive trait.
PLAIN = Trait("le juste milieu", "le juste milieu", "the middle of the road", "", "",
              "« Le courriel, ni trop ni trop peu. »",
              "“E-mail: not too much, not too little.”")

# Behaviour sentence for a trait that is not distinctive (|z| < threshold), used to reach three.
NEAR_FR = "Proche de l'organisation pour les {label} : {v} ({org})."
NEAR_EN = "Close to the organisation on {label}: {v} ({org})."
GENERIC_FR = "{label} : {v} ({org})."
GENERIC_EN = "{label}: {v} ({org})."

# Goal and frustration rules: (feature, +1/-1, kind, French, English). A rule fires when the
# persona's z-score on the feature has that sign and |z| >= the trait threshold. They are
# hypotheses drawn from the traits, to be checked in the workshop: the caveats say so.
RULES: list[tuple[str, int, str, str, str]] = [
    ("received_per_day", 1, "frustration",
     "Une boîte qui déborde : plus de messages reçus que de temps pour les traiter.",
     "An overflowing inbox: more mail than time to handle it."),
    ("received_per_day", 1, "goal", "Repérer vite les messages qui demandent une action.",
     "Spot quickly the messages that need action."),
    ("sent_per_day", 1, "goal", "Faire avancer les dossiers par écrit, avec une trace.",
     "Move files forward in writing, with a record."),
    ("sent_per_day", -1, "goal", "Réserver le courriel à ce qui ne peut pas se dire autrement.",
     "Keep e-mail for what cannot be said another way."),
    ("received_per_day", -1, "frustration",
     "Passer à côté d'informations qui circulent ailleurs par courriel.",
     "Missing news that travels by e-mail elsewhere."),
    ("after_hours_share", 1, "frustration", "Le courriel empiète sur les soirées.",
     "E-mail eats into the evenings."),
    ("after_hours_share", 1, "goal", "Retrouver une coupure nette entre travail et vie privée.",
     "Regain a clean break between work and private life."),
    ("weekend_share", 1, "frustration", "Pas de vraie pause le week-end.",
     "No real break at weekends."),
    ("after_hours_share", -1, "frustration",
     "Les messages envoyés le soir qui attendent une réponse le lendemain matin.",
     "Evening messages that expect an answer first thing next morning."),
    ("workday_span_h", 1, "frustration", "Des journées de courriel à rallonge.",
     "Mail days that never end."),
    ("reply_delay_h", -1, "goal", "Répondre dans la journée.", "Answer within the day."),
    ("reply_delay_h", -1, "frustration", "Les réponses qui tardent chez les autres.",
     "Other people's slow answers."),
    ("reply_delay_h", 1, "frustration", "Les relances et les demandes « urgentes ».",
     "Reminders and “urgent” requests."),
    ("reply_delay_h", 1, "goal", "Des demandes claires, avec une échéance réaliste.",
     "Clear requests with a realistic deadline."),
    ("reply_rate", 1, "goal", "Ne laisser aucune demande sans suite.",
     "Leave no request unanswered."),
    ("cc_share", 1, "frustration",
     "Les copies à tout va : difficile de savoir ce qui demande une action.",
     "Cc'd on everything: hard to tell what needs action."),
    ("cc_share", 1, "goal", "Savoir en un coup d'œil si un message le concerne.",
     "Tell at a glance whether a message is for them."),
    ("recipients_per_sent", 1, "goal", "Tenir toute l'équipe informée.",
     "Keep the whole team informed."),
    ("reply_all_rate", 1, "goal", "Que chacun ait la même information au même moment.",
     "Everyone having the same news at the same time."),
    ("reply_all_rate", 1, "frustration", "Les fils de discussion à rallonge.",
     "Endless reply threads."),
    ("external_share", 1, "goal", "Travailler facilement avec les partenaires extérieurs.",
     "Work smoothly with outside partners."),
    ("external_share", 1, "frustration",
     "Les échanges de documents avec l'extérieur : taille, sécurité, versions.",
     "Sharing documents outside: size limits, security, versions."),
    ("attachment_rate", 1, "frustration", "Les versions multiples d'un même document.",
     "Many versions of the same document."),
    ("attachment_rate", 1, "goal", "Partager des documents sans les dupliquer.",
     "Share documents without copying them."),
    ("sent_text_kb", 1, "goal", "Être précis et complet.", "Be precise and complete."),
    ("sent_text_kb", 1, "frustration", "Les réponses en une ligne qui laissent des questions.",
     "One-line answers that leave questions open."),
    ("sent_text_kb", -1, "frustration", "Les longs messages où l'essentiel se perd.",
     "Long messages where the point gets lost."),
    ("unread_share", 1, "frustration", "Les non-lus qui s'accumulent.",
     "Unread messages piling up."),
    ("unread_share", 1, "goal", "Ne rien laisser passer d'important.",
     "Let nothing important slip through."),
    ("filing_rate", 1, "goal", "Retrouver n'importe quel message en quelques secondes.",
     "Find any message in seconds."),
    ("filing_rate", 1, "frustration",
     "Les messages à plusieurs sujets qui n'entrent dans aucun dossier.",
     "Multi-topic messages that fit no folder."),
    ("folder_count", 1, "goal", "Une mémoire des dossiers bien rangée.",
     "A tidy memory of every file."),
    ("filing_rate", -1, "frustration", "Une boîte de réception où tout se mélange.",
     "An inbox where everything is mixed up."),
    ("bulk_share", 1, "frustration",
     "Les notifications et lettres d'information qui noient les vrais messages.",
     "Notifications and newsletters drowning real messages."),
    ("mobile_share", 1, "goal", "Rester joignable en déplacement.", "Stay reachable on the move."),
    ("mobile_share", 1, "frustration", "Les longs messages illisibles sur téléphone.",
     "Long messages unreadable on a phone."),
    ("forward_rate", 1, "goal", "Faire circuler l'information vers la bonne personne.",
     "Route information to the right person."),
]

FALLBACK_GOAL = ("Un courriel qui reste un outil simple.", "E-mail that stays a simple tool.")
FALLBACK_FRUSTRATION = ("Aucune frustration nette ne ressort des données.",
                        "No clear frustration shows in the data.")

# Fictional first names, alternately feminine and masculine; never a staff member by design
# (they are not drawn from the directory, which the analyst does not have).
FIRST_NAMES: list[tuple[str, str]] = [
    ("Claire", "f"), ("Marc", "m"), ("Nadia", "f"), ("Julien", "m"), ("Sophie", "f"),
    ("Karim", "m"), ("Hélène", "f"), ("Thomas", "m"), ("Aïcha", "f"), ("Louis", "m"),
    ("Élise", "f"), ("Bruno", "m"),
]

WEEKDAYS = {"fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
            "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]}
