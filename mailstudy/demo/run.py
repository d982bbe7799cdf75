"""``mailstudy demo``: the whole audit on a synthetic council, in one command.

Why: a newcomer must see every stage work, and every privacy promise hold, without real
mailboxes. The demo plays the three roles in their own folders, as a real campaign would:

- ``DIR/council/``: what the organisation hands over (Maildir exports, HR directory, the
  volunteers and availability files). It holds real-looking names: it is the *input*.
- ``DIR/keyholder/``: the key holder's age identity, outside the study folder.
- ``DIR/study/``: the operator's and analyst's workspace, where no raw identity ever lands
  (except sealed in the escrow, and in ``out/invitations/named/`` after ``reveal``).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailstudy.pipeline import ProgressFn, RunReport, run_pipeline
from mailstudy.study import Study, StudyError, init_study

DEFAULT_DIR = Path("mailstudy-demo")
DEFAULT_AGENTS = 120
DEFAULT_WEEKS = 6
DEFAULT_SEED = 7
#: Planned workshop sessions (three in a row, as the Fabrique des mandats asks).
SESSIONS = (("s1", "2027-01-14T09:30", "2027-01-14T12:30"),
            ("s2", "2027-02-11T09:30", "2027-02-11T12:30"),
            ("s3", "2027-03-11T09:30", "2027-03-11T12:30"))
PLACE = "Hôtel de Région, Nantes"


@dataclass
class DemoResult:
    root: Path
    study: Study
    identity: Path
    council: Any  # mailstudy.demo.council.Council (raw identities: never print it)
    run: RunReport
    revealed: Any | None  # mailstudy.reveal.RevealSummary
    report_html: Path
    report_pdf: Path
    imap: Any | None = None  # RunSummary of the IMAP-served half, when Dovecot was there


def _toml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _configure(study: Study, council: Any, *, agents: int, weeks: int, seed: int,
               lang: str, volunteers: Path, availability: Path,
               file_sources: list[Path] | None = None) -> None:
    """Point study.toml at the council's files and plan three sessions.

    The thresholds are scaled to the demo's size: a two-week demo has at most ten working
    days, and a small council cannot fill a panel of twenty with one invitee per service.
    """
    cfg = study.root / "study.toml"
    text = cfg.read_text(encoding="utf-8")
    if file_sources is None:
        sources = _toml_str(str(council.mailboxes.resolve() / "*"))
    else:
        sources = ", ".join(_toml_str(str(path.resolve())) for path in file_sources)
    text = text.replace("sources = []", f"sources = [{sources}]", 1)
    text = text.replace('file = ""', f"file = {_toml_str(str(council.directory_csv.resolve()))}",
                        1)
    active = max(3, min(10, weeks * 5 - 3))
    text = text.replace("min_active_days = 10", f"min_active_days = {active}", 1)
    panel = max(8, min(20, agents // 6))
    text = text.replace("panel_size = 20", f"panel_size = {panel}", 1)
    text = text.replace("seed = 1\n", f"seed = {seed}\n", 1)
    text = text.replace('volunteers_file = ""',
                        f"volunteers_file = {_toml_str(str(volunteers.resolve()))}", 1)
    text = text.replace('availability_file = ""',
                        f"availability_file = {_toml_str(str(availability.resolve()))}", 1)
    text = text.replace('lang = "fr"', f'lang = "{lang}"', 1)
    # A real council has far more services and people per level than seats; a small demo
    # loosens the one-invitee-per-service rule and widens the quotas by one more person.
    loosen = ""
    if agents < 150:
        loosen += "one_per_service = false\n"
    if agents < 100:
        loosen += "quota_margin = 2\n"
    text = text.replace("[workshop]\n", "[workshop]\n" + loosen, 1)
    text = text.replace("[report]\n", "[report]\n"
                        "controller = \"Conseil régional (démonstration)\"\n"
                        "dpo = \"dpo@demo.invalid\"\n"
                        "contact = \"audit-messagerie@demo.invalid\"\n"
                        "keyholder_role = \"la déléguée à la protection des données\"\n", 1)
    for sid, start, end in SESSIONS:
        text += (f"\n[[workshop.sessions]]\nid = \"{sid}\"\nstart = \"{start}\"\n"
                 f"end = \"{end}\"\nplace = {_toml_str(PLACE)}\n")
    cfg.write_text(text, encoding="utf-8")


def _write_inputs(council: Any, seed: int) -> tuple[Path, Path, list[str]]:
    """Volunteers (a few staff), availability (most can attend all three sessions) and one
    opt-out, as the organisation would hand them over. Returns the opt-out addresses."""
    rng = random.Random(seed)
    staff = list(council.addresses)
    optouts = [staff[rng.randrange(len(staff))]]
    rest = [address for address in staff if address not in optouts]
    volunteers = rng.sample(rest, k=min(len(rest), max(2, len(rest) // 20)))
    vol = council.root / "volontaires.csv"
    vol.write_text("courriel\n" + "".join(f"{address}\n" for address in volunteers),
                   encoding="utf-8")
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\n")
    writer.writerow(["courriel", *[session[0] for session in SESSIONS]])
    for address in rest:
        all_three = rng.random() < 0.9
        writer.writerow([address, *[("oui" if all_three or rng.random() < 0.5 else "non")
                         for _ in SESSIONS]])
    av = council.root / "disponibilites.csv"
    av.write_text(buf.getvalue(), encoding="utf-8")
    return vol, av, optouts


def run_demo(directory: Path | str = DEFAULT_DIR, *, agents: int = DEFAULT_AGENTS,
             weeks: int = DEFAULT_WEEKS, seed: int = DEFAULT_SEED, lang: str = "fr",
             reveal: bool = True, progress: ProgressFn | None = None,
             on_event: Callable[..., None] | None = None,
             say: Callable[[str], None] | None = None, imap: bool = True) -> DemoResult:
    """Generate a synthetic council under ``directory``, run the whole pipeline on it, and
    reveal the panel with the key holder's identity. Refuses a folder that holds a demo."""
    from mailstudy.demo.council import generate_council
    from mailstudy.optout import add_optouts

    say = say or (lambda _m: None)
    root = Path(directory)
    _check_arguments(root, agents=agents, lang=lang)
    root.mkdir(parents=True, exist_ok=True)
    say(f"generating a synthetic council: {agents} agents, {weeks} weeks (seed {seed})")
    council = generate_council(root / "council", n_agents=agents, weeks=weeks, seed=seed)
    say(f"  {council.n_messages} message files, directory and ground truth in {root / 'council'}")
    identity, recipient = _make_keyholder(root / "keyholder")
    say(f"key holder identity in {identity} (outside the study)")
    study = init_study(root / "study", [council.domain], keyholder=recipient,
                       partner_domains=list(council.partner_domains),
                       name="Conseil régional (synthétique)")
    vol, av, optouts = _write_inputs(council, seed)
    boxes = sorted(council.mailboxes.iterdir())
    from mailstudy.demo.dovecot_config import available

    served = imap and available() is None
    # with Dovecot, every second mailbox is served over IMAP and the others read as files
    imap_boxes = boxes[1::2] if served else []
    file_boxes = boxes[0::2] if served else None
    _configure(study, council, agents=agents, weeks=weeks, seed=seed, lang=lang,
               volunteers=vol, availability=av, file_sources=file_boxes)
    from mailstudy.study import open_study

    study = open_study(study.root)
    add_optouts(study, optouts)
    imap_summary = None
    if imap_boxes:
        say(f"serving {len(imap_boxes)} mailboxes from a local Dovecot (TLS, master user) "
            "and collecting them over IMAP")
        imap_summary = _collect_over_imap(study, imap_boxes)
    elif imap:
        say("Dovecot is not installed: every mailbox is read from files "
            "(apt-get install dovecot-imapd to see IMAP collection too)")
    say(f"study in {study.root}; {len(optouts)} opt-out recorded; running the pipeline")
    run = run_pipeline(study, progress=progress, on_event=on_event)
    revealed = None
    if run.ok and reveal and (study.out / "invitations" / "panel.csv").exists():
        revealed = _reveal_and_report(study, identity, lang, run, progress, on_event)
    if imap_summary is not None:
        _record_imap(run, imap_summary)
    from mailstudy.report import report_paths

    paths = report_paths(study, lang)
    return DemoResult(root, study, identity, council, run, revealed, paths["html"],
                      paths["pdf"], imap_summary)


def _reveal_and_report(study: Any, identity: Path, lang: str, run: Any,
                       progress: ProgressFn | None, on_event: Callable[..., None] | None) -> Any:
    """Reveal the panel as the key holder, then render the report again: the reveal wrote
    the re-identification log, an input of the report, whose count must read
    'réidentifications : 1', not the 0 of the run before the reveal."""
    from mailstudy.reveal import reveal as do_reveal

    revealed = do_reveal(study, identity, lang=lang)
    rerun = run_pipeline(study, only="report", progress=progress, on_event=on_event)
    run.stages = [next((r for r in rerun.stages if r.name == "report"), st)
                  if st.name == "report" else st for st in run.stages]
    return revealed


def _record_imap(run: Any, summary: Any) -> None:
    """The demo collects over IMAP before the pipeline (its Dovecot lives only that long):
    the run's summary says so instead of 'imap: not configured'."""
    from mailstudy.pipeline.status import RAN

    t = summary.totals()
    for st in run.stages:
        if st.name == "imap":
            st.status, st.seconds, st.message = RAN, float(t.get("seconds") or 0), ""
            st.summary = {k: t[k] for k in ("mailboxes", "mailboxes_failed",
                                            "messages_written") if k in t}


def _check_arguments(root: Path, *, agents: int, lang: str) -> None:
    """Refuse what cannot make a demo, before anything is written."""
    if lang not in ("fr", "en"):
        raise StudyError("lang must be fr or en")
    if agents < 30:
        raise StudyError("the demo needs at least 30 agents (panels and personas need "
                         "groups of 10)")
    for sub in ("study", "council", "keyholder"):
        if (root / sub).exists():
            raise StudyError("{path} exists already: remove it or choose another folder",
                             path=root / sub)


def _make_keyholder(folder: Path) -> tuple[Path, str]:
    """The key holder's age identity in its own private folder; returns it and its recipient."""
    from anonymise.escrow import generate_identity

    identity = folder / "identity.age"
    folder.mkdir(parents=True)
    os_chmod_private(folder)
    return identity, generate_identity(identity)


def _collect_over_imap(study: Study, boxes: list[Path]) -> Any:
    """Load ``boxes`` into a private Dovecot on 127.0.0.1 and collect them as an operator
    would: implicit TLS verified against the server's own CA, one master credential."""
    import secrets as _secrets

    from mailstudy.collect.imap.auth import Account, Auth
    from mailstudy.collect.imap.connection import Server
    from mailstudy.collect.imap.run import collect_imap
    from mailstudy.demo.dovecot import DovecotServer

    master_pw = _secrets.token_urlsafe(16)
    srv = DovecotServer.create(master=("audit", master_pw))
    try:
        accounts = []
        for i, box in enumerate(boxes):
            user = f"agent{i:04d}"
            srv.add_user(user, _secrets.token_urlsafe(16))
            srv.load_maildir(user, box)
            accounts.append(Account(box.name, srv.login_as(user)))
        srv.start()
        server = Server(srv.host, srv.imaps_port, ca_file=str(srv.ca_file))
        return collect_imap(study, server, accounts, Auth(password=master_pw), workers=2)
    finally:
        srv.cleanup()


def os_chmod_private(path: Path) -> None:
    import os

    os.chmod(path, 0o700)
