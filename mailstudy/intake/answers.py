"""Pseudonymised imports of the volunteers and availability files (addresses to the escrow
only; an objector is neither kept nor sealed).

Why in intake: with the directory, these are the files a person hands in with addresses in
them; they are read by the one table reader, checked by the one address check, and written
through the catalogue. The draw (``invite``) reads only the pseudonymised tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from mailstudy.errors import InputError
from mailstudy.intake.directory import ImportSummary
from mailstudy.intake.tables import TableFileError, read_rows
from mailstudy.optout import load_optouts
from mailstudy.text import fold_words, in_domains, is_address


class AnswersError(InputError):
    """A volunteers or availability file cannot be imported; the message says what to fix."""


ADDRESS_HEADERS = ("email", "e mail", "courriel", "mail", "adresse", "adresse mail",
                   "adresse e mail", "adresse electronique", "adresse courriel", "address",
                   "email address")
YES = frozenset({"yes", "y", "oui", "o", "1", "x", "true", "vrai"})
NO = frozenset({"no", "n", "non", "0", "", "false", "faux"})


def _read_address_file(study: Any, path: Any) -> tuple[list[str], list[tuple[int, list[str]]],
                                                        int]:
    """Header, rows and the address column of a volunteers/availability file."""
    try:
        header, rows = read_rows(path)
    except TableFileError as exc:
        raise AnswersError(exc.msgid, **exc.values) from None
    normed = [fold_words(h) for h in header]
    col = next((i for i, h in enumerate(normed) if h in ADDRESS_HEADERS), None)
    if col is None:
        raise AnswersError("no address column found; expected a header among: email, "
                          "courriel, mail, adresse (accents and case ignored)")
    return header, rows, col


def _pseudonymise_rows(study: Any, rows: list[tuple[int, list[str]]], col: int,
                       summary: Any) -> list[tuple[int, str, list[str]]]:
    """(line, person, cells) for rows with a valid address; addresses go to the escrow only."""
    ps = study.pseudonymiser()
    escrow = study.escrow() if study.keyholder_recipient() else None
    optouts = load_optouts(study)
    out: list[tuple[int, str, list[str]]] = []
    seen: set[str] = set()
    for line, cells in rows:
        summary.rows += 1
        raw = cells[col].strip() if col < len(cells) else ""
        addr = ps.canonical_address(study.normal_address(raw)) if raw else ""
        if not addr:
            summary.reject("empty address", line)
            continue
        if not is_address(addr):
            summary.reject("not an e-mail address", line)
            continue
        if not in_domains(addr, study.normal_domains):
            summary.reject("address outside the organisation's domains", line)
            continue
        person = ps.person(addr)
        if person in seen:
            summary.reject("same person as an earlier line (later line kept)", line)
            out = [r for r in out if r[1] != person]
        seen.add(person)
        if escrow is not None and person not in optouts:  # an objector is never sealed
            escrow.add(person, "person", {"address": addr})
        out.append((line, person, cells))
    if escrow is not None:
        summary.sealed = escrow.flush()
    return out


def import_volunteers(study: Any, path: Any) -> Any:
    """Pseudonymise a volunteers file into ``data/volunteers.parquet`` (column person).

    Addresses are sealed in the escrow (so `reveal` can name a volunteer without mail data) and
    never written anywhere else. Returns a summary with counts and rejected line numbers.
    """
    _, rows, col = _read_address_file(study, path)
    summary = ImportSummary()
    good = _pseudonymise_rows(study, rows, col, summary)
    opt = load_optouts(study)
    people = [p for _, p, _ in good if p not in opt]
    summary.opted_out = len(good) - len(people)
    df = pd.DataFrame({"person": pd.Series(sorted(set(people)), dtype="string")})
    study.catalog.write_table("volunteers", df)
    summary.imported = len(df)
    return summary


def import_availability(study: Any, path: Any, sessions: Sequence[str] | None = None) -> Any:
    """Pseudonymise an availability file: person + one bool column per session id.

    Session ids come from ``[[workshop.sessions]]`` (or ``sessions``); without them every
    column but the address is a session. Answers: yes/no, oui/non, 1/0, x/empty.
    """
    header, rows, col = _read_address_file(study, path)
    if sessions is None:
        sessions = [str(s["id"]) for s in study.section("workshop").get("sessions", [])]
    normed = [fold_words(h) for h in header]
    if sessions:
        idx = {}
        for sid in sessions:
            if fold_words(sid) not in normed:
                raise AnswersError("no column for session {sid!r} among the file's "
                                  "{n} session columns", sid=sid, n=len(header) - 1)
            idx[sid] = normed.index(fold_words(sid))
    else:
        idx = {h.strip(): i for i, h in enumerate(header) if i != col and h.strip()}
    summary = ImportSummary()
    good = _pseudonymise_rows(study, rows, col, summary)
    opt = load_optouts(study)
    recs: list[dict[str, Any]] = []
    for line, person, cells in good:
        if person in opt:
            summary.opted_out += 1
            continue
        rec: dict[str, Any] = {"person": person}
        bad = False
        for sid, i in idx.items():
            ans = fold_words(cells[i]) if i < len(cells) else ""
            if ans in YES:
                rec[sid] = True
            elif ans in NO:
                rec[sid] = False
            else:  # the answer is not quoted: a free-text cell may hold anything
                summary.reject(f"session {sid}: answer not understood (yes/no, oui/non, "
                               "1/0, x)", line)
                bad = True
                break
        if not bad:
            recs.append(rec)
    df = pd.DataFrame(recs, columns=["person", *idx])
    df["person"] = df["person"].astype("string")
    for sid in idx:
        df[sid] = df[sid].astype(bool)
    study.catalog.write_table("availability", df)
    summary.imported = len(df)
    return summary
