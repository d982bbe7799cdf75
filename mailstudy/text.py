"""Text helpers every layer shares: folding for comparisons, the address check, the words
written for missing values.

Why one module: the same idea written twice drifted (two address regexes, four folding
helpers, "non renseigné" spelled in five places). Comparisons of user-typed words (headers,
roles, yes/no answers, folder names) all go through :func:`fold` or :func:`fold_words`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

#: The value written where the directory says nothing (level, direction, service).
UNKNOWN = "non renseigné"

_ADDRESS_RE = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")


def fold(text: Any) -> str:
    """Lower case without accents: 'Privé ' -> 'prive' (folder names, patterns)."""
    t = unicodedata.normalize("NFKD", str(text or ""))
    return "".join(c for c in t if not unicodedata.combining(c)).lower().strip()


def fold_words(text: Any) -> str:
    """:func:`fold`, then punctuation to single spaces: 'Intitulé de poste' ->
    'intitule de poste', 'regards-différents' -> 'regards differents' (headers, roles)."""
    return re.sub(r"[^a-z0-9+]+", " ", fold(text)).strip()


def is_address(address: str) -> bool:
    """A normalised (lower-case) address with a dotted domain: the one check of the tool."""
    return bool(_ADDRESS_RE.match(address))


def in_domains(address: str, domains: list[str]) -> bool:
    """The address's domain is one of ``domains`` or a subdomain of one (any, if none)."""
    if not domains:
        return True
    d = address.rsplit("@", 1)[1]
    return any(d == x or d.endswith("." + x) for x in domains)


def normal_address(address: str, subaddress: str | None = None,
                   internal: tuple[str, ...] = ()) -> str:
    """One spelling per mailbox, before classification and pseudonymisation: no trailing dot
    on the domain (``jean@region.fr.`` is a valid absolute name), a Unicode domain in its
    IDNA ASCII form (``région.fr`` and ``xn--rgion-csa.fr`` are one domain), and, when the
    study says its server uses sub-addresses (``subaddress_separator``), ``jean+tag@`` folded
    into ``jean@`` for the organisation's own domains."""
    a = address.strip().strip("<>").strip()
    local, at, domain = a.rpartition("@")
    if not at:
        return a
    domain = domain.rstrip(".")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except (UnicodeError, ValueError):
            pass
    domain = domain.lower()
    if subaddress and subaddress in local and domain_in(domain, internal):
        local = local.split(subaddress, 1)[0] or local
    return f"{local}@{domain}"


def domain_in(domain: str, domains: tuple[str, ...] | list[str]) -> bool:
    """``domain`` is one of ``domains`` or a subdomain of one."""
    return any(domain == d or domain.endswith("." + d) for d in domains)


def people_count(n: int, threshold: int) -> str:
    """A count of people fit for a message: below the disclosure threshold (and above 0) it
    says "fewer than 10", since "1 eligible" next to "level=DGS" names someone."""
    return f"fewer than {threshold}" if 0 < n < threshold else str(n)


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_env_name(text: str) -> bool:
    """Whether ``text`` can be the name of an environment variable. A value that cannot is
    never echoed back: it may be the secret itself, given where its variable's name goes."""
    return bool(_ENV_NAME.match(text))
