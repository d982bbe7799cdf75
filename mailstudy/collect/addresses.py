"""Address headers -> pseudonyms or markers.

Identities go through :class:`Identities` the moment they are read: what leaves this module is
pseudonyms, markers and counts. The raw values live only in local variables and in the escrow.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Container, Iterable
from typing import TYPE_CHECKING

from anonymise.escrow import EscrowWriter
from anonymise.pseudonym import Pseudonymiser

if TYPE_CHECKING:
    from mailstudy.study import Study
from mailstudy.collect.headers import decode_text, utf8
from mailstudy.schema import MARK_EXTERNAL, MARK_INVALID, MARK_OPTOUT, MARK_PARTNER
from mailstudy.text import domain_in, normal_address

_SIMPLE_LIST = re.compile(r'^[^"()\\;:\[\]]*$')
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SIMPLE_ADDR = re.compile(rf"^{_ATOM}(\.{_ATOM})*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_SIMPLE_NAME = re.compile(r"^[\w'=?-]+( [\w'=?-]+)*$")


def _simple_addresses(value: str) -> list[tuple[str, str]] | None:
    """``Name <a@b>, c@d`` lists without quotes, comments or groups (nearly all real mail),
    split without the stdlib's tokenizer; None when the value needs the full parser."""
    if not _SIMPLE_LIST.match(value):
        return None
    out = []
    for chunk in value.split(","):
        chunk = chunk.strip()
        if not chunk:
            continue
        i = chunk.find("<")
        if i >= 0:
            j = chunk.find(">", i)
            if j < 0 or chunk[j + 1:].strip() or "<" in chunk[i + 1:j] or ">" in chunk[:i]:
                return None
            name, addr = " ".join(chunk[:i].split()), chunk[i + 1:j].strip()
        else:
            if ">" in chunk:
                return None
            name, addr = "", chunk
        if not _SIMPLE_ADDR.match(addr) or (name and not _SIMPLE_NAME.match(name)):
            return None
        out.append((name, addr))
    return out


def parse_addresses(values: Iterable[str]) -> list[tuple[str, str]]:
    """(display name, address) pairs, as ``email.utils.getaddresses`` gives them.

    An address written as RFC 2047 encoded words (``=?utf-8?b?...?=``, forbidden by RFC 2047
    but written by some mailers, sometimes around the whole ``Name <address>``) is decoded and
    parsed again rather than turned into an invalid address."""
    out: list[tuple[str, str]] = []
    for v in values:
        fast = _simple_addresses(v)
        pairs = fast if fast is not None else email.utils.getaddresses([v])
        for name, addr in pairs:
            if "=?" in addr:
                again = [p for p in email.utils.getaddresses([decode_text(addr)]) if p[1]]
                if again and all("@" in a and "=?" not in a for _, a in again):
                    out.extend((name or n, a) for n, a in again)
                    continue
            out.append((name, addr))
    return out


class Identities:
    """Turns addresses into pseudonyms or markers, sealing new identities into the escrow.

    The only place (with the directory import) where a raw address is handled.
    """

    def __init__(self, pseudonymiser: Pseudonymiser, domains: Iterable[str],
                 partner_domains: Iterable[str] = (), optouts: Container[str] = (),
                 escrow: EscrowWriter | None = None, subaddress: str | None = None) -> None:
        self.p = pseudonymiser
        self.domains = tuple(normal_address("@" + d)[1:] for d in domains)
        self.partners = tuple(normal_address("@" + d)[1:] for d in partner_domains)
        self.subaddress = subaddress or None
        self.optouts = optouts  # OptOuts: membership needs the key, which collection has
        self.escrow = escrow
        # address headers repeat a lot within a mailbox; parsing them is the costliest step
        self._parsed: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        self._tokens: dict[str, tuple[str, bool]] = {}

    @staticmethod
    def _in(domain: str, domains: tuple[str, ...]) -> bool:
        return domain_in(domain, domains)

    @classmethod
    def of_study(cls, study: Study, optouts: Container[str] = (),
                 escrow: EscrowWriter | None = None) -> Identities:
        """The study's domains, partner domains and sub-address rule
        (``[organisation] subaddress_separator``): every collector reads them the same way."""
        return cls(study.pseudonymiser(), study.domains, study.partner_domains, optouts,
                   escrow, study.section("organisation").get("subaddress_separator"))

    def person(self, address: str) -> str:
        """The pseudonym of the mailbox at ``address`` (after :meth:`normal`)."""
        return self.p.person(self.normal(address))

    def normal(self, address: str) -> str:
        """The spelling of ``address`` that is classified and pseudonymised."""
        return normal_address(utf8(address), self.subaddress, self.domains)

    def classify(self, address: str) -> str:
        """internal, partner, external or invalid."""
        a = self.p.canonical_address(self.normal(address))
        if "@" not in a or a.startswith("@") or a.endswith("@"):
            return "invalid"
        dom = a.rsplit("@", 1)[1]
        if self._in(dom, self.domains):
            return "internal"
        if self._in(dom, self.partners):
            return "partner"
        return "external"

    def _classified(self, address: str) -> tuple[str, bool]:
        """(pseudonym or marker, whether it is a pseudonym), cached: the same few hundred
        addresses fill a mailbox, and normalising and hashing them dominated row building."""
        hit = self._tokens.get(address)
        if hit is not None:
            return hit
        cls = self.classify(address)
        if cls != "internal":
            out = ({"partner": MARK_PARTNER, "external": MARK_EXTERNAL}.get(cls, MARK_INVALID),
                   False)
        else:
            p = self.p.person(self.normal(address))
            out = (MARK_OPTOUT, False) if p in self.optouts else (p, True)
        if len(self._tokens) > 200_000:
            self._tokens.clear()
        self._tokens[address] = out
        return out

    def token(self, address: str, display: str = "", defects: list[str] | None = None) -> str:
        """Pseudonym of an internal address, or the marker of its class."""
        p, internal = self._classified(address)
        if not internal:
            return p
        if self.escrow is not None and self.escrow.wants(p, bool(display)):
            name = decode_text(display, defects) if display else ""
            ident = {"address": utf8(self.p.canonical_address(self.normal(address)))}
            if name and name.lower() != ident["address"]:
                ident["name"] = name
            self.escrow.add(p, "person", ident)
        return p

    def tokens(self, values: list[str] | None, defects: list[str]) -> list[str]:
        if not values:
            return []
        key = tuple(str(v) for v in values)
        pairs = self._parsed.get(key)
        if pairs is None:
            try:
                pairs = parse_addresses(key)
            except Exception:
                defects.append("bad_address_header")
                return []
            if len(self._parsed) > 200_000:
                self._parsed.clear()
            self._parsed[key] = pairs
        out = []
        for name, addr in pairs:
            if not addr and not name:
                continue
            out.append(self.token(addr, name, defects))
        return out
