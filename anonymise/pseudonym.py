"""Keyed pseudonyms: HMAC-SHA256 under the study key, truncated.

Why keyed: e-mail addresses are guessable (prenom.nom@domaine), so an unkeyed hash falls to a
dictionary attack; ENISA recommends a keyed hash for exactly this case. Why a ``kind``: the same
string hashed as an address and as a Message-ID must not give the same pseudonym, and the kind
keeps tables from being joined on the wrong thing. This module knows nothing about mail: callers
normalise their values first (see :func:`normalise_address` for the common case).
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Mapping

KEY_BYTES = 32
#: Hex characters kept from the digest: 16 -> 64 bits, enough for 10^7 items with a
#: collision probability below 10^-5.
DIGEST_CHARS = 16

PREFIX = {"person": "p", "message": "m", "item": "i", "folder": "f", "optout": "o", "analyst": "a",
          "other": "x"}


class Pseudonymiser:
    """Maps values to stable pseudonyms; same key and input -> same output, on every run."""

    def __init__(self, key: bytes, aliases: Mapping[str, str] | None = None) -> None:
        if len(key) < KEY_BYTES:
            raise ValueError(f"pseudonymisation key must be at least {KEY_BYTES} bytes")
        self._key = key
        self._aliases = {normalise_address(k): normalise_address(v)
                         for k, v in (aliases or {}).items()}
        self._cache: dict[tuple[str, str], str] = {}

    def digest(self, kind: str, value: str) -> str:
        """Pseudonym of an already-normalised ``value`` in the namespace ``kind``."""
        ck = (kind, value)
        hit = self._cache.get(ck)
        if hit is not None:
            return hit
        mac = hmac.new(self._key, f"{kind}\x00{value}".encode("utf-8", "surrogatepass"),
                       hashlib.sha256).hexdigest()[:DIGEST_CHARS]
        out = PREFIX.get(kind, "x") + mac
        if len(self._cache) < 2_000_000:
            self._cache[ck] = out
        return out

    def canonical_address(self, address: str) -> str:
        a = normalise_address(address)
        return self._aliases.get(a, a)

    def person(self, address: str) -> str:
        """Pseudonym of a person from any spelling of their address (aliases applied)."""
        return self.digest("person", self.canonical_address(address))


def normalise_address(address: str) -> str:
    """Lower case, Unicode NFC, no surrounding whitespace or angle brackets."""
    a = unicodedata.normalize("NFC", address).strip().strip("<>").strip()
    return a.lower()
