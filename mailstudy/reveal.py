"""Re-identification of a drawn panel by the key holder, and nobody else.

Why a separate step: the analyst who draws the panel works on pseudonyms and holds no key. Only
the key holder's age identity opens the escrow, and ``reveal`` asks it for the panel and its
reserves only, so the named files under ``out/invitations/named/`` say nothing about anyone
else. Every reveal appends a line to ``data/reidentification.log`` (when, how many, which
panel), the append-only trace GDPR art. 4(5) separation of roles calls for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from anonymise.escrow import load_identity, open_escrow
from mailstudy.invite.plan import InviteError
from mailstudy.invite.run import INVITATIONS_DIR, panel_hash
from mailstudy.study import Study

NAMED_DIR = "named"
LOG_FILE = "reidentification.log"
TEXT = {
    "fr": {"summary": "La Fabrique des mandats – séance {sid}",
           "description": "Vous avez été tiré·e au sort pour participer aux ateliers de la "
                          "Fabrique des mandats (toutes les séances)."},
    "en": {"summary": "La Fabrique des mandats – session {sid}",
           "description": "You were drawn by lot to take part in the Fabrique des mandats "
                          "workshops (every session)."},
}


@dataclass
class RevealSummary:
    panel: int = 0
    reserves: int = 0
    named: int = 0
    missing: int = 0  # pseudonyms the escrow does not hold
    files: list[Path] = field(default_factory=list)
    panel_sha256: str = ""


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _write_private(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)
    return path


def _name(rec: dict[str, Any]) -> str:
    return str(rec.get("name") or "")


def name_tables(panel: pd.DataFrame, reserves: pd.DataFrame,
                identities: dict[str, dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add name and address after the pseudonym; pure."""
    def named(df: pd.DataFrame) -> pd.DataFrame:
        out = df.copy()
        out.insert(1, "name", [_name(identities.get(p, {})) for p in out["person"]])
        out.insert(2, "address", [str(identities.get(p, {}).get("address", ""))
                                  for p in out["person"]])
        return out
    return named(panel), named(reserves)


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


def reveal(study: Study, identity_file: Path | str, *, lang: str | None = None) -> RevealSummary:
    """Name the panel and reserves of ``out/invitations/`` with the key holder's identity.

    Writes ``named/panel.csv``, ``named/reserves.csv``, ``named/invitations.xlsx`` and one
    ``<session>.ics`` per ``[[workshop.sessions]]`` (panel members only), all mode 0600, then
    logs the reveal. Nothing here can run without the identity: the escrow is age-encrypted.
    """
    lang = lang or study.section("report").get("lang", "fr")
    src = study.out / INVITATIONS_DIR
    if not (src / "panel.csv").exists():
        raise InviteError("no panel yet: run 'mailstudy invite' first")
    panel = pd.read_csv(src / "panel.csv", dtype={"person": str, "seat": str})
    reserves = (pd.read_csv(src / "reserves.csv", dtype={"person": str, "seat": str})
                if (src / "reserves.csv").exists() else panel.iloc[:0].assign(rank=0))
    fair_p = src / "fairness.json"
    fair = json.loads(fair_p.read_text(encoding="utf-8")) if fair_p.exists() else {}
    identity = load_identity(Path(identity_file))
    wanted = set(panel["person"]) | set(reserves["person"])
    ids = open_escrow(study.escrow_dir, identity, wanted)
    ids = {p: r for p, r in ids.items() if p in wanted}  # belt and braces
    npanel, nres = name_tables(panel, reserves, ids)
    dest = _private_dir(src / NAMED_DIR)
    s = RevealSummary(panel=len(panel), reserves=len(reserves), named=len(ids),
                      missing=len(wanted - set(ids)), panel_sha256=panel_hash(panel))
    s.files.append(_write_private(dest / "panel.csv", npanel.to_csv(index=False).encode()))
    s.files.append(_write_private(dest / "reserves.csv", nres.to_csv(index=False).encode()))
    xlsx = dest / "invitations.xlsx"
    with pd.ExcelWriter(xlsx, engine="openpyxl") as xw:
        npanel.to_excel(xw, sheet_name="panel", index=False)
        nres.to_excel(xw, sheet_name="reserves", index=False)
    os.chmod(xlsx, 0o600)
    s.files.append(xlsx)
    digest = fair.get("distribution_sha256", "")
    for sess in study.section("workshop").get("sessions", []):
        sid = str(sess["id"])
        uid = f"{sid}-{s.panel_sha256[:16]}@mailstudy"
        ics = session_calendar(sess, npanel, study.tz, uid, lang)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in sid)
        s.files.append(_write_private(dest / f"{safe}.ics", ics))
    log = study.data / LOG_FILE
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    line = (f"{when}\trevealed={len(ids)}\tpanel={len(panel)}\treserves={len(reserves)}\t"
            f"missing={s.missing}\tpanel_sha256={s.panel_sha256}\t"
            f"distribution_sha256={digest}\tfiles_sha256="
            + hashlib.sha256(b"".join(p.read_bytes() for p in s.files)).hexdigest()[:16] + "\n")
    with open(log, "a", encoding="utf-8") as f:
        f.write(line)
    return s
