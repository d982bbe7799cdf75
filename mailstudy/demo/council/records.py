"""The simulation's records: an agent, a message, and one copy of a message in a mailbox."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from mailstudy.demo.council.tables import PARAMS, Behaviour


@dataclass
class Agent:
    idx: int
    first: str
    last: str
    female: bool
    address: str
    rank: int
    title: str
    category: str
    direction: str
    service: str
    manager: int | None
    fte: float
    behaviour: int = 0  # row of the council's behaviour table
    params: Behaviour = PARAMS[0]  # this agent's own parameters (the row's, spread)
    roles: list[str] = field(default_factory=list)
    desktop: str = "outlook"
    mobile: str = "iphone"
    leave: frozenset[int] = frozenset()
    personal: bool = False

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass
class Message:
    seq: int
    t: float  # wall-clock hours since BASE_DATE 00:00 local
    sender: tuple[str, str, int]  # display name, address, agent index or -1
    to: list[tuple[str, str, int]]
    cc: list[tuple[str, str, int]]
    subject: str
    body: str
    msgid: str
    topic: int = 0
    client: str | None = "outlook"
    bcc: list[tuple[str, str, int]] = field(default_factory=list)
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    attachments: list[int] = field(default_factory=list)
    kind: str = "orig"  # orig, reply, fwd, ext, bulk, robot, auto, personal, draft
    depth: int = 0
    extra: list[tuple[str, str]] = field(default_factory=list)
    html: bool = True

    def __lt__(self, other: Message) -> bool:
        return self.seq < other.seq


@dataclass
class MailboxCopy:
    msg: Message
    role: str  # sent, to, cc, bcc, list, personal, draft
    answered: bool = False
    forwarded: bool = False


def fold_ascii(text: str) -> str:
    """Address form of a name: accents dropped, lower case, spaces as hyphens."""
    s = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return s.lower().replace("'", "").replace(" ", "-")
