"""Calendar invitations (.ics) for the workshop sessions: one file per invitee.

Why one file per invitee: an event listing every attendee tells each invitee who else was
drawn. Each file holds one event per session with its invitee as the only attendee, a stable
``UID`` per session and seat (a re-reveal updates the event instead of adding one), the
study's time zone as a ``VTIMEZONE`` (a ``TZID`` without it is invalid, RFC 5545), and
``METHOD:REQUEST`` with the ``ORGANIZER`` of ``[workshop] organizer`` (iTIP, RFC 5546, requires
it); without an organizer the files are ``METHOD:PUBLISH`` (added to a calendar, no reply).
"""

from __future__ import annotations

import datetime as dt
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from mailstudy.i18n import fmt_datetime

TEXT = {
    "fr": {"title": "La Fabrique des mandats", "session": "séance {n}",
           "description": "Vous avez été tiré·e au sort pour participer aux ateliers de la "
                          "Fabrique des mandats, qui préparent un mandat sur l'usage du "
                          "courriel. Les séances se suivent : merci de réserver chacune "
                          "d'elles."},
    "en": {"title": "La Fabrique des mandats", "session": "session {n}",
           "description": "You were drawn by lot to take part in the Fabrique des mandats "
                          "workshops, which prepare a mandate on e-mail use. The sessions "
                          "follow each other: please keep every one free."},
}


def session_title(workshop: dict[str, Any], index: int, session: dict[str, Any],
                  lang: str) -> str:
    """A human title: the session's own ``title``, else "<workshop title> – séance N"."""
    t = TEXT.get(lang, TEXT["fr"])
    if session.get("title"):
        return str(session["title"])
    base = str(workshop.get("title") or t["title"])
    return f"{base} – {t['session'].format(n=index)}"


def session_when(session: dict[str, Any], lang: str) -> str:
    """'jeudi 14 janvier 2027, 9 h 30' (French) for the session's start (Babel, through
    :mod:`mailstudy.i18n`, as every date the tool writes)."""
    return fmt_datetime(lang, dt.datetime.fromisoformat(str(session["start"])))


def _organizer(workshop: dict[str, Any]) -> vCalAddress | None:
    name, address = parseaddr(str(workshop.get("organizer") or ""))
    if "@" not in address:
        return None
    org = vCalAddress(f"mailto:{address}")
    if name:
        org.params["cn"] = vText(name)
    return org


def invitee_calendar(workshop: dict[str, Any], invitee: dict[str, str], seat: str,
                     tz_name: str, panel_sha: str, lang: str = "fr") -> bytes:
    """The .ics of one invitee: one event per session of ``[[workshop.sessions]]``."""
    t = TEXT.get(lang, TEXT["fr"])
    tz = ZoneInfo(tz_name)
    organizer = _organizer(workshop)
    cal = Calendar()
    cal.add("prodid", "-//mailstudy//Fabrique des mandats//FR")
    cal.add("version", "2.0")
    cal.add("method", "REQUEST" if organizer is not None else "PUBLISH")
    for i, session in enumerate(workshop.get("sessions", []), start=1):
        sid = str(session["id"])
        ev = Event()
        ev.add("uid", f"{sid}-{seat}-{panel_sha[:12]}@mailstudy")
        ev.add("summary", session_title(workshop, i, session, lang))
        ev.add("description", str(workshop.get("description") or t["description"]))
        ev.add("dtstamp", dt.datetime.now(dt.UTC))
        ev.add("dtstart", dt.datetime.fromisoformat(str(session["start"])).replace(tzinfo=tz))
        ev.add("dtend", dt.datetime.fromisoformat(str(session["end"])).replace(tzinfo=tz))
        ev.add("sequence", 0)
        if session.get("place"):
            ev.add("location", vText(str(session["place"])))
        if organizer is not None:
            ev.add("organizer", organizer, encode=0)
        if invitee.get("address"):
            a = vCalAddress(f"mailto:{invitee['address']}")
            if invitee.get("name"):
                a.params["cn"] = vText(invitee["name"])
            a.params.update({"role": "REQ-PARTICIPANT", "partstat": "NEEDS-ACTION",
                             "rsvp": "TRUE" if organizer is not None else "FALSE"})
            ev.add("attendee", a, encode=0)
        cal.add_component(ev)
    cal.add_missing_timezones()
    return cal.to_ical()
