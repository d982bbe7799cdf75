"""``reveal``: the key holder names the committed panel and reserves, and nobody else."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from anonymise.escrow import load_identity, open_escrow
from mailstudy.commitment import lottery_hash, panel_hash, reserves_hash
from mailstudy.errors import PrivacyError, StageError
from mailstudy.reveal.calendar import invitee_calendar, session_when
from mailstudy.reveal.log import append_entry
from mailstudy.reveal.named import HEADERS_FR, clear_partial, name_tables, publish_named_set
from mailstudy.study import Study
from mailstudy.tabular import csv_bytes, read_csv, xlsx_bytes


class RevealError(PrivacyError):
    """What ``reveal`` was handed is not the committed draw; nothing was named."""


@dataclass
class RevealSummary:
    panel: int = 0
    reserves: int = 0
    named: int = 0
    missing: int = 0  # pseudonyms the escrow does not hold
    files: list[Path] = field(default_factory=list)
    panel_sha256: str = ""
    receipt: str = ""  # the hash of this reveal's log line: the key holder keeps it


@dataclass(frozen=True)
class Draw:
    """A panel and its reserves, as committed by ``invite``."""

    panel: pd.DataFrame
    reserves: pd.DataFrame
    distribution_sha256: str = ""


def read_committed_draw(study: Study) -> Draw:
    """The panel and reserves of ``out/invitations/``, refused unless they hash to what
    ``invite`` committed in ``fairness.json`` (an edited reserve list names nobody)."""
    c = study.catalog
    if not c.exists("panel") or not c.exists("fairness"):
        raise StageError("no panel yet: run 'mailstudy invite' first")
    panel = read_csv(c.path("panel"), dtype={"person": str, "seat": str})
    reserves = (read_csv(c.path("reserves"), dtype={"person": str, "seat": str})
                if c.exists("reserves") else panel.iloc[:0].assign(rank=0))
    fair = json.loads(c.path("fairness").read_text(encoding="utf-8"))
    if c.exists("commitment"):  # the operator's copy: what out/ says must match it too
        kept = json.loads(c.path("commitment").read_text(encoding="utf-8"))
        if any(fair.get(k) != v for k, v in kept.items()):
            raise RevealError("fairness.json does not match the draw's commitment kept in "
                              "data/: nothing revealed; re-run 'mailstudy invite'")
    if fair.get("panel_sha256") != panel_hash(panel):
        raise RevealError("the panel file is not the committed draw (its hash differs from "
                          "fairness.json): nothing revealed; re-run 'mailstudy invite'")
    if fair.get("reserves_sha256") != reserves_hash(reserves):
        raise RevealError("the reserve list is not the committed draw (its hash differs from "
                          "fairness.json): nothing revealed; re-run 'mailstudy invite'")
    _check_published_list(study, fair, panel)
    return Draw(panel, reserves, str(fair.get("distribution_sha256", "")))


def _check_published_list(study: Study, fair: dict, panel: pd.DataFrame) -> None:
    """The transparent draw: the panel named must be line ``panel_number`` of a published
    list that still hashes to what was announced (a list edited after the draw, or a panel
    that is not on it, is a panel the public cannot check)."""
    c = study.catalog
    announced = fair.get("published_list_sha256")
    if not announced:
        return
    if not c.exists("lottery"):
        raise RevealError("the published list (lottery.csv) does not give the committed panel "
                          "(it is missing): nothing revealed; re-run 'mailstudy invite'")
    try:
        table = pd.read_csv(c.path("lottery"), dtype=str, keep_default_na=False)
        digest = lottery_hash(table)
        line = table[table["panel"].astype(int) == int(fair.get("panel_number", 0))]
    except (KeyError, ValueError) as exc:
        raise RevealError("the published list (lottery.csv) does not give the committed panel "
                          "(it cannot be read): nothing revealed; re-run 'mailstudy invite'"
                          ) from exc
    if digest != str(announced):
        raise RevealError("the published list (lottery.csv) does not give the committed panel "
                          "(its hash differs from the announced one): nothing revealed; "
                          "re-run 'mailstudy invite'")
    if set(zip(line["person"], line["role"], strict=True)) != set(
            zip(panel["person"].astype(str), panel["role"].astype(str), strict=True)):
        raise RevealError("the published list (lottery.csv) does not give the committed panel "
                          "(the panel is not its drawn line): nothing revealed; "
                          "re-run 'mailstudy invite'")


def named_files(study: Study, npanel: pd.DataFrame, nres: pd.DataFrame, panel_sha: str,
                lang: str) -> dict[str, bytes]:
    """Every named file, in memory: a malformed session fails here, before any name is
    logged or written. French studies get French headers and French Excel's CSV dialect."""
    french = lang == "fr"
    shown = (lambda df: df.rename(columns=HEADERS_FR)) if french else (lambda df: df)
    files = {"panel.csv": csv_bytes(shown(npanel), french=french),
             "reserves.csv": csv_bytes(shown(nres), french=french),
             "invitations.xlsx": xlsx_bytes({"panel": shown(npanel),
                                             "reserves": shown(nres)})}
    workshop = study.section("workshop")
    tz = study.section("time").get("timezone", "Europe/Paris")
    for row in npanel.to_dict("records"):
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(row["seat"]))
        try:
            files[f"invitation-{safe}.ics"] = invitee_calendar(
                workshop, row, str(row["seat"]), tz, panel_sha, lang)
        except (KeyError, TypeError, ValueError) as exc:
            raise StageError("[[workshop.sessions]]: every session needs an id, a start and "
                             "an end like 2027-01-14T09:30 ({kind}); nothing "
                             "revealed", kind=type(exc).__name__) from None
    return files


def _sessions_text(study: Study, lang: str) -> str:
    try:
        return " ; ".join(session_when(s, lang)
                          for s in study.section("workshop").get("sessions", []))
    except (KeyError, TypeError, ValueError) as exc:
        raise StageError("[[workshop.sessions]]: a start is not a date like 2027-01-14T09:30 "
                         "({kind}); nothing revealed", kind=type(exc).__name__) from None


def reveal(study: Study, identity_file: Path | str, *, lang: str | None = None,
           draw: Draw | None = None) -> RevealSummary:
    """Name the committed panel and reserves with the key holder's identity.

    ``draw`` is the verified draw (the pipeline recomputes it from the committed
    distribution); by default the files of ``out/invitations/`` are read and checked against
    the hashes ``invite`` committed. The log line is written (hash-chained, synced) before
    any name, then ``named/`` is replaced whole: ``panel.csv``, ``reserves.csv``,
    ``invitations.xlsx`` and one ``invitation-<seat>.ics`` per panel member.
    """
    lang = lang or study.section("report").get("lang", "fr")
    c = study.catalog
    clear_partial(c)
    draw = draw or read_committed_draw(study)
    panel, reserves = draw.panel, draw.reserves
    identity = load_identity(Path(identity_file))
    wanted = set(panel["person"]) | set(reserves["person"])
    ids = open_escrow(study.escrow_dir, identity, wanted)
    ids = {p: r for p, r in ids.items() if p in wanted}  # belt and braces
    npanel, nres = name_tables(panel, reserves, ids, _sessions_text(study, lang))
    s = RevealSummary(panel=len(panel), reserves=len(reserves), named=len(ids),
                      missing=len(wanted - set(ids)), panel_sha256=panel_hash(panel))
    files = named_files(study, npanel, nres, s.panel_sha256, lang)
    digest = hashlib.sha256(b"".join(files[k] for k in sorted(files))).hexdigest()[:16]
    s.receipt = append_entry(c.path("reidentification_log"), {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "revealed": len(ids), "panel": len(panel), "reserves": len(reserves),
        "missing": s.missing, "panel_sha256": s.panel_sha256,
        "reserves_sha256": reserves_hash(reserves),
        "distribution_sha256": draw.distribution_sha256, "files_sha256": digest})
    s.files = publish_named_set(c.path("named"), files)
    return s
