"""Mail client family from X-Mailer / User-Agent, by a table of rules kept as data
(``data/clients.toml``), not code.

Why a table: clients are many and their header values change with every release; a rule that
grows in code (a ``mozilla`` catch-all that took Netscape and any browser for Thunderbird) is
hard to review. The table keeps, beside each rule, the real header values it was written for,
and a test checks that every example lands on its own rule.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mailstudy.schema import CLIENT_FAMILIES

TABLE = Path(__file__).with_name("data") / "clients.toml"


@dataclass(frozen=True)
class ClientRule:
    family: str
    pattern: re.Pattern[str]
    examples: tuple[str, ...]


@cache
def client_rules(path: Path = TABLE) -> tuple[ClientRule, ...]:
    """The rules in order; a family outside the schema's is refused at load time."""
    with open(path, "rb") as f:
        table = tomllib.load(f)
    rules = []
    for r in table.get("rule", []):
        if r["family"] not in CLIENT_FAMILIES:
            raise ValueError(f"client rule family {r['family']!r} is not in CLIENT_FAMILIES")
        rules.append(ClientRule(r["family"], re.compile(r["pattern"], re.I),
                                tuple(r.get("examples", ()))))
    return tuple(rules)


def matching_rule(value: str) -> int | None:
    """Index of the first rule that matches ``value``, None if none does."""
    value = value[:1000]  # a real client name is short; a giant header costs nothing more
    for i, rule in enumerate(client_rules()):
        if rule.pattern.search(value):
            return i
    return None


def classify_client(value: str) -> str:
    i = matching_rule(value)
    return "other" if i is None else client_rules()[i].family
