"""Calendar invitations (.ics) for the sessions of the workshop."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

TEXT = {
    "fr": {"summary": "La Fabrique des mandats – séance {sid}",
           "description": "Vous avez été tiré·e au sort pour participer aux ateliers de la "
                          "Fabrique des mandats (toutes les séances)."},
    "en": {"summary": "La Fabrique des mandats – session {sid}",
           "description": "You were drawn by lot to take part in the Fabrique des mandats "
                          "workshops (every session)."},
}


def session_calendar(session: dict[str, Any], attendees: pd.DataFrame, tz: Any, uid: str,
                     lang: str = "fr") -> bytes:
    """One .ics invitation (METHOD:REQUEST) for one session, panel members as attendees."""
    from icalendar import Calendar, Event, vCalAddress, vText

    t = TEXT.get(lang, TEXT["fr"])
    sid = str(session["id"])
    cal = Calendar()
    cal.add("prodid", "-//mailstudy//Fabrique des mandats//FR")
    cal.add("version", "2.0")
    cal.add("method", "REQUEST")
    ev = Event()
    ev.add("uid", uid)
    ev.add("summary", t["summary"].format(sid=sid))
    ev.add("description", t["description"])
    ev.add("dtstamp", dt.datetime.now(dt.UTC))
    ev.add("dtstart", dt.datetime.fromisoformat(str(session["start"])).replace(tzinfo=tz))
    ev.add("dtend", dt.datetime.fromisoformat(str(session["end"])).replace(tzinfo=tz))
    if session.get("place"):
        ev.add("location", vText(str(session["place"])))
    for _, r in attendees.iterrows():
        if not r["address"]:
            continue
        a = vCalAddress(f"mailto:{r['address']}")
        if r["name"]:
            a.params["cn"] = vText(r["name"])
        a.params["role"] = vText("REQ-PARTICIPANT")
        a.params["partstat"] = vText("NEEDS-ACTION")
        a.params["rsvp"] = vText("TRUE")
        ev.add("attendee", a, encode=0)
    cal.add_component(ev)
    return cal.to_ical()
