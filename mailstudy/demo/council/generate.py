"""``generate_council``: build the organisation, simulate the traffic, write it all."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from mailstudy.demo.council.agents import assign_behaviours, assign_roles, build_agents
from mailstudy.demo.council.calendar import Calendar
from mailstudy.demo.council.mailboxes import write_directory, write_mailboxes
from mailstudy.demo.council.simulate import Simulation
from mailstudy.demo.council.tables import COUNCIL_BEHAVIOURS, PARTNER_DOMAINS, BehaviourTable


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
    behaviours: list[str] = field(default_factory=list)  # names of the behaviour table's rows


def generate_council(root: Path, *, n_agents: int = 120, weeks: int = 6, seed: int = 0,
                     domain: str = "paysdelaloire.test", attachment_share: float = 0.15,
                     attachment_kb: int = 4, n_without_mailbox: int = 0,
                     behaviours: BehaviourTable = COUNCIL_BEHAVIOURS,
                     spread: float = 0.0) -> Council:
    """Write a synthetic council under ``root`` and describe it.

    ``attachment_share`` is the baseline share of original messages carrying an attachment
    (behaviours scale it); ``n_without_mailbox`` adds directory rows with no mailbox (people who
    never appear in the traffic), as in real HR exports. ``behaviours`` is the behaviour table
    (name, parameters, share of agents; ``tables.SIX_BEHAVIOURS`` has six of unequal sizes)
    and ``spread`` how far each agent's parameters stray from its behaviour's (0.35: +-35%)."""
    if not 0 <= spread < 1:
        raise ValueError("spread must be in [0, 1)")
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    root = Path(root)
    rng = random.Random(seed)
    cal = Calendar(weeks)
    everyone = build_agents(rng, n_agents, n_without_mailbox, domain)
    # Directory-only people are drawn from the end of the rank-sorted rest: move them last.
    staff, extra = everyone[:n_agents], everyone[n_agents:]
    assign_roles(rng, staff)
    assign_behaviours(rng, staff, weeks, behaviours, spread, random.Random(f"{seed}-spread"))
    sim = Simulation(rng, staff, cal, domain, attachment_share)
    sim.originals()
    sim.bulk()
    sim.run()
    sim.private()
    sim.drafts()
    mailboxes = root / "mailboxes"
    mailboxes.mkdir(parents=True, exist_ok=True)
    n_files = write_mailboxes(rng, staff, sim, cal, mailboxes, domain, attachment_kb)
    directory_csv = root / "annuaire.csv"
    write_directory(directory_csv, everyone)
    gt = root / "ground_truth.csv"
    gt.write_bytes(("address,behaviour\n" + "".join(
        f"{a.address},{behaviours[a.behaviour][0]}\n" for a in staff)).encode("utf-8"))
    return Council(root=root, mailboxes=mailboxes, directory_csv=directory_csv,
                   ground_truth_csv=gt, domain=domain, addresses=[a.address for a in staff],
                   names=[a.name for a in everyone] + sim.people_names, n_messages=n_files,
                   partner_domains=list(PARTNER_DOMAINS),
                   directory_only=[a.address for a in extra],
                   behaviours=[name for name, _, _ in behaviours])
