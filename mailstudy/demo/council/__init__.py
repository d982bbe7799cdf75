"""A seeded synthetic regional council: Maildir++ mailboxes, an HR directory and ground truth.

Why: every stage (collect, directory, profile, personas, invite, report) needs realistic input
that carries real identities (so privacy leaks can be caught by canary scans) and a known latent
structure (so personas can be checked against the truth). Real mailboxes cannot ship in tests.

The council has French agents on a regional-council ladder, organised in directions and
services, each with one of the latent e-mail behaviours of a behaviour table (by default the
four of ``BEHAVIOURS``; ``generate_council(behaviours=SIX_BEHAVIOURS, spread=0.35)`` gives six
of unequal sizes, each agent's parameters within +-35% of its behaviour's) dealt independently
of the level. Traffic is simulated in time order: original messages, replies (In-Reply-To,
References, RE: subjects), forwards (TR:), partner mail, newsletters (List-Id, Precedence: bulk),
robot notifications and out-of-office replies (Auto-Submitted). An internal message is written to
the sender's sent folder and to every internal recipient's mailbox with the same Message-ID.
Each behaviour shows in the owner's own mailbox: send times, clients, recipients, flags, filing.

Everything derives from ``random.Random(seed)`` and a fixed calendar (weeks from Monday
2026-09-07, Europe/Paris; the switch to winter time on 2026-10-25 gives both +0200 and +0100
offsets), so a seed always yields the same bytes. No wall-clock time is read.

Modules:

- ``generate``: :func:`generate_council` and its result, :class:`Council`.
- ``tables``: the fixed data (behaviours and their parameters, names, directions, topics...).
- ``records``: an agent, a message, one copy of a message in a mailbox.
- ``draws``: small seeded random draws (Poisson counts, weighted picks).
- ``calendar``: working days and local times of the fixed calendar.
- ``agents``: the hierarchy, transverse roles and behaviours of the agents.
- ``world``: people, contact weights and per-message draws the simulation uses.
- ``simulate``: the traffic in time order, with replies, forwards and auto-replies.
- ``render``: headers and MIME bodies of each message.
- ``mailboxes``: each agent's Maildir++ mailbox and the HR directory CSV.
"""

from mailstudy.demo.council.generate import Council, generate_council
from mailstudy.demo.council.tables import (
    BEHAVIOURS,
    COUNCIL_BEHAVIOURS,
    DIRECTORY_HEADERS,
    SIX_BEHAVIOURS,
    Behaviour,
    BehaviourTable,
)

__all__ = ["BEHAVIOURS", "COUNCIL_BEHAVIOURS", "DIRECTORY_HEADERS", "SIX_BEHAVIOURS", "Behaviour",
           "BehaviourTable", "Council", "generate_council"]
